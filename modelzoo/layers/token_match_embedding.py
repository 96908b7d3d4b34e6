"""Embeds whether a token also occurs in the other segment (question ↔ context)."""

import keras
from keras import ops

from modelzoo import checks
from modelzoo.layers.segment_embedding import separators_before

__all__ = ["TokenMatchEmbedding"]


@keras.saving.register_keras_serializable(package="modelzoo")
class TokenMatchEmbedding(keras.layers.Layer):
    """Adds DrQA's "exact match" feature to BERT-style pairs.

    For `[CLS] question [SEP] context [SEP]`, a context token whose id also
    occurs in the question (and a question token whose id occurs in the
    context) gets the "match" embedding, every other token the "no match"
    one. Chen et al. 2017 (DrQA, Table 5) found this feature the most useful
    one for reading comprehension trained from SQuAD alone: it hands the
    model the lexical overlap that a small model would otherwise have to
    learn from few examples. Segments are counted from the separators, as in
    `SegmentEmbedding`; ids below `first_word_id` (padding and the special
    tokens) never match.

    Args:
        separator_id: int. The token id of `[SEP]`.
        embedding_dim: int. Size of each embedding vector.
        first_word_id: int. The smallest id of a real token. Defaults to `5`
            (`modelzoo.text.wordpiece.RESERVED` has 5 entries).
        embeddings_initializer: str or initializer. Defaults to `"uniform"`.
        mask_zero: bool. Whether token id 0 is masked. Defaults to `True`.
        **kwargs: `name`, `dtype`, `trainable` and other `Layer` arguments.

    Returns:
        A float tensor `[batch, length, embedding_dim]`.

    Example:
    >>> layer = TokenMatchEmbedding(separator_id=3, embedding_dim=4)
    >>> np.asarray(layer.matches(np.array([[2, 7, 8, 3, 9, 7, 3, 0]]))).tolist()
    [[False, True, False, False, False, True, False, False]]
    """

    def __init__(
        self,
        separator_id,
        embedding_dim,
        first_word_id=5,
        embeddings_initializer="uniform",
        mask_zero=True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.separator_id = checks.non_negative_int("separator_id", separator_id)
        self.embedding_dim = checks.positive_int("embedding_dim", embedding_dim)
        self.first_word_id = checks.positive_int("first_word_id", first_word_id)
        self.embeddings_initializer = keras.initializers.get(embeddings_initializer)
        self.mask_zero = mask_zero
        self.supports_masking = mask_zero
        self.embedding = keras.layers.Embedding(
            2, embedding_dim, embeddings_initializer=self.embeddings_initializer,
            dtype=self.dtype_policy, name="match_embedding",
        )

    def build(self, input_shape):
        self.embedding.build(input_shape)
        self.built = True

    def matches(self, token_ids):
        """Bool `[batch, length]`: the token's id occurs in another segment."""
        token_ids = ops.convert_to_tensor(token_ids)
        segment = separators_before(token_ids, self.separator_id)
        word = ops.greater_equal(token_ids, self.first_word_id)
        same_id = ops.equal(ops.expand_dims(token_ids, 2), ops.expand_dims(token_ids, 1))
        other_segment = ops.not_equal(ops.expand_dims(segment, 2), ops.expand_dims(segment, 1))
        found = ops.any(
            ops.logical_and(ops.logical_and(same_id, other_segment), ops.expand_dims(word, 1)),
            axis=-1,
        )
        return ops.logical_and(found, word)

    def call(self, inputs):
        return self.embedding(ops.cast(self.matches(inputs), "int32"))

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
                "first_word_id": self.first_word_id,
                "mask_zero": self.mask_zero,
                "embeddings_initializer": keras.initializers.serialize(
                    self.embeddings_initializer
                ),
            }
        )
        return config
