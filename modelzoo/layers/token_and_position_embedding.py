"""Token plus learned position embedding, with a padding mask."""

import keras
from keras import ops

from modelzoo import checks

__all__ = ["TokenAndPositionEmbedding"]


@keras.saving.register_keras_serializable(package="modelzoo")
class TokenAndPositionEmbedding(keras.layers.Layer):
    """Sums a token embedding and a learned position embedding.

    Token id 0 is padding: with `mask_zero=True` the layer emits a mask that
    downstream layers (attention, pooling) use to ignore padded positions.
    Called with `reverse=True` on hidden states `[..., embedding_dim]` it
    returns the tied logits `hidden @ token_table^T` `[..., vocabulary_size]`
    (its token table is a `keras.layers.ReversibleEmbedding`), so one table
    serves as input and output embedding, as in GPT-2: use the same layer
    instance for both calls. `start_index=n` places the ids at positions
    n, n+1, ... (decoding with a key/value cache).

    Args:
        vocabulary_size: int. Number of token ids, including padding id 0.
        sequence_length: int. Maximum sequence length; inputs may be shorter.
        embedding_dim: int. Size of each embedding vector.
        embeddings_initializer: str or initializer for both embeddings.
            Defaults to `"uniform"`.
        mask_zero: bool. Whether id 0 is masked. Defaults to `True`.
        **kwargs: `name`, `dtype`, `trainable` and other `Layer` arguments.

    Returns:
        A float tensor `[batch, length, embedding_dim]`.

    Example:
    >>> layer = TokenAndPositionEmbedding(100, 8, 4)
    >>> tuple(layer(np.array([[5, 7, 0]])).shape)
    (1, 3, 4)
    """

    def __init__(
        self,
        vocabulary_size,
        sequence_length,
        embedding_dim,
        embeddings_initializer="uniform",
        mask_zero=True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.vocabulary_size = checks.positive_int("vocabulary_size", vocabulary_size)
        self.sequence_length = checks.positive_int("sequence_length", sequence_length)
        self.embedding_dim = checks.positive_int("embedding_dim", embedding_dim)
        self.embeddings_initializer = keras.initializers.get(embeddings_initializer)
        self.mask_zero = mask_zero
        self.supports_masking = mask_zero
        table = dict(embeddings_initializer=self.embeddings_initializer, dtype=self.dtype_policy)
        # A ReversibleEmbedding is an Embedding that can also map hidden
        # states back to logits with the same table (`reverse=True`), for
        # tied input and output embeddings.
        self.token_embedding = keras.layers.ReversibleEmbedding(
            vocabulary_size, embedding_dim, name="token_embedding", **table
        )
        self.position_embedding = keras.layers.Embedding(
            sequence_length, embedding_dim, name="position_embedding", **table
        )

    def build(self, input_shape):
        self.token_embedding.build(input_shape)
        self.position_embedding.build((self.sequence_length,))
        self.built = True

    def call(self, inputs, start_index=0, reverse=False):
        if reverse:
            return self.token_embedding(inputs, reverse=True)
        length = ops.shape(inputs)[-1]
        positions = start_index + ops.arange(0, length, dtype="int32")
        return self.token_embedding(inputs) + self.position_embedding(positions)

    def compute_mask(self, inputs, mask=None, start_index=0, reverse=False):
        if reverse or not self.mask_zero:
            return mask if reverse else None
        return ops.not_equal(inputs, 0)

    def compute_output_spec(self, inputs, start_index=0, reverse=False):
        last = self.vocabulary_size if reverse else self.embedding_dim
        shape = tuple(inputs.shape[:-1] if reverse else inputs.shape) + (last,)
        return keras.KerasTensor(shape, dtype=self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.embedding_dim,)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocabulary_size": self.vocabulary_size,
                "sequence_length": self.sequence_length,
                "embedding_dim": self.embedding_dim,
                "embeddings_initializer": keras.initializers.serialize(
                    self.embeddings_initializer
                ),
                "mask_zero": self.mask_zero,
            }
        )
        return config
