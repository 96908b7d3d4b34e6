"""Segment (sentence A / B) embedding computed from separator tokens."""

import keras
from keras import ops

from modelzoo import checks

__all__ = ["SegmentEmbedding"]


@keras.saving.register_keras_serializable(package="modelzoo")
class SegmentEmbedding(keras.layers.Layer):
    """Embeds which segment each token is in, counting separator tokens.

    For BERT-style pairs `[CLS] question [SEP] context [SEP]`, the segment
    of a token is the number of separators strictly before it (capped at
    `num_segments - 1`): the question and its `[SEP]` are segment 0, the
    context and the final `[SEP]` segment 1. Computing the segment ids from
    the token ids in the model means a caller cannot pass ids that
    disagree with the tokens. Token id 0 is padding: with `mask_zero=True`
    the layer emits the same padding mask as `TokenAndPositionEmbedding`,
    so the mask survives `Add`-ing the two embeddings.

    Args:
        separator_id: int. The token id of `[SEP]`.
        embedding_dim: int. Size of each embedding vector.
        num_segments: int. Number of segments. Defaults to `2`.
        embeddings_initializer: str or initializer. Defaults to `"uniform"`.
        mask_zero: bool. Whether token id 0 is masked. Defaults to `True`.
        **kwargs: `name`, `dtype`, `trainable` and other `Layer` arguments.

    Returns:
        A float tensor `[batch, length, embedding_dim]`.

    Example:
    >>> layer = SegmentEmbedding(separator_id=3, embedding_dim=4)
    >>> tuple(layer(np.array([[2, 7, 3, 9, 9, 3, 0]])).shape)
    (1, 7, 4)
    """

    def __init__(
        self,
        separator_id,
        embedding_dim,
        num_segments=2,
        embeddings_initializer="uniform",
        mask_zero=True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.separator_id = checks.non_negative_int("separator_id", separator_id)
        self.embedding_dim = checks.positive_int("embedding_dim", embedding_dim)
        self.num_segments = checks.positive_int("num_segments", num_segments)
        self.embeddings_initializer = keras.initializers.get(embeddings_initializer)
        self.mask_zero = mask_zero
        self.supports_masking = mask_zero
        self.embedding = keras.layers.Embedding(
            num_segments,
            embedding_dim,
            embeddings_initializer=self.embeddings_initializer,
            dtype=self.dtype_policy,
            name="segment_embedding",
        )

    def build(self, input_shape):
        self.embedding.build(input_shape)
        self.built = True

    def segment_ids(self, token_ids):
        """The int32 segment id of every token, `[batch, length]`."""
        before = separators_before(token_ids, self.separator_id)
        return ops.minimum(before, self.num_segments - 1)

    def call(self, inputs):
        return self.embedding(self.segment_ids(inputs))

    def compute_mask(self, inputs, mask=None):
        if not self.mask_zero:
            return None
        return ops.not_equal(inputs, 0)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.embedding_dim,)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "separator_id": self.separator_id,
                "embedding_dim": self.embedding_dim,
                "num_segments": self.num_segments,
                "mask_zero": self.mask_zero,
                "embeddings_initializer": keras.initializers.serialize(
                    self.embeddings_initializer
                ),
            }
        )
        return config


def separators_before(token_ids, separator_id):
    """The number of `separator_id` tokens strictly before each token.

    Args:
        token_ids: int tensor `[batch, length]`.
        separator_id: int. The token id of `[SEP]`.

    Returns:
        An int32 tensor `[batch, length]`: for `[CLS] question [SEP] context
        [SEP]`, 0 up to and including the first `[SEP]`, then 1.

    Example:
    >>> np.asarray(separators_before(np.array([[2, 7, 3, 9, 3, 0]]), 3)).tolist()
    [[0, 0, 0, 1, 1, 2]]
    """
    is_separator = ops.cast(ops.equal(token_ids, separator_id), "int32")
    return ops.cumsum(is_separator, axis=-1) - is_separator
