"""Token and position embedding that also maps hidden states to tied logits."""

import keras
from keras import ops

from modelzoo.layers.token_and_position_embedding import TokenAndPositionEmbedding


@keras.saving.register_keras_serializable(package="modelzoo")
class ReversibleTokenAndPositionEmbedding(TokenAndPositionEmbedding):
    """`TokenAndPositionEmbedding` whose token table also gives the logits.

    Called on int ids it embeds them exactly like its parent. Called with
    `reverse=True` on hidden states `[..., embedding_dim]` it returns
    `hidden @ token_embedding^T`, logits `[..., vocabulary_size]`: the input
    and output embeddings are tied (one table, trained from both ends), as
    in GPT-2. Use the same layer instance for both calls in a functional
    model so the weights are shared and saved once.

    Args:
        vocabulary_size: int. Number of token ids.
        sequence_length: int. Maximum sequence length; inputs may be shorter.
        embedding_dim: int. Size of each embedding vector.
        embeddings_initializer: str or initializer for both embeddings.
            Defaults to `"uniform"`.
        mask_zero: bool. Whether id 0 is masked. Defaults to `True`.
        **kwargs: `name`, `dtype`, `trainable` and other `Layer` arguments.

    Returns:
        Forward: a float tensor `[batch, length, embedding_dim]`. Reverse:
        logits `[batch, length, vocabulary_size]` in the compute dtype.

    Example:
    >>> layer = ReversibleTokenAndPositionEmbedding(100, 8, 4, mask_zero=False)
    >>> hidden = layer(np.array([[5, 7, 1]]))
    >>> layer(hidden, reverse=True).shape
    (1, 3, 100)
    """

    def call(self, inputs, reverse=False, start_index=0):
        if not reverse:
            return super().call(inputs, start_index=start_index)
        table = ops.cast(self.token_embedding.embeddings, inputs.dtype)
        return ops.matmul(inputs, ops.transpose(table))

    def compute_mask(self, inputs, mask=None, reverse=False, start_index=0):
        if reverse:
            return mask
        return super().compute_mask(inputs, mask)

    def compute_output_spec(self, inputs, reverse=False, start_index=0):
        if reverse:
            shape = tuple(inputs.shape[:-1]) + (self.vocabulary_size,)
            return keras.KerasTensor(shape, dtype=self.compute_dtype)
        return keras.KerasTensor(
            self.compute_output_shape(inputs.shape), dtype=self.compute_dtype
        )
