"""Extractive question answering: a Transformer encoder with a span head."""

import keras

from modelzoo import checks
from modelzoo.layers import (
    SegmentEmbedding,
    SpanHead,
    TokenAndPositionEmbedding,
    TransformerEncoder,
)
from modelzoo.registry import register_model


@register_model("qa", vocab_size=8000, sequence_length=256)
def build_qa(
    vocab_size,
    sequence_length,
    embed_dim=128,
    num_heads=4,
    ff_dim=256,
    num_layers=2,
    dropout=0.1,
    separator_id=3,
    name="qa",
    dtype=None,
):
    """Builds a BERT-style span extractor over `[CLS] question [SEP] context [SEP]`.

    Token ids `[batch, sequence_length]`, 0 = padding → token and position
    embedding + segment embedding (the segment ids come from the `[SEP]`
    positions: question 0, context 1) → layer norm → dropout →
    `num_layers` encoder blocks (padding masked) → `SpanHead`: a start and
    an end logit per position, padding set to -1e9. Train it with sparse
    labels `[batch, 2]` (start, end positions) and
    `SparseCategoricalCrossentropy(from_logits=True)`; position 0 (`[CLS]`)
    stands for "no answer in this window".

    Args:
        vocab_size: int. Number of token ids, including 0 (padding).
        sequence_length: int. Length of the id sequences.
        embed_dim: int. Embedding and hidden size; divisible by `num_heads`.
            Defaults to `128`.
        num_heads: int. Attention heads. Defaults to `4`.
        ff_dim: int. Feed-forward width. Defaults to `256`.
        num_layers: int. Encoder blocks. Defaults to `2`.
        dropout: float in [0, 1). Dropout of the embeddings, the residual
            branches and the attention probabilities, as in BERT. Defaults to
            `0.1`.
        separator_id: int. The `[SEP]` token id. Defaults to `3`, as in
            `modelzoo.export.qa`'s vocabularies.
        name: str. Model name. Defaults to `"qa"`.
        dtype: dtype or policy for the hidden layers; the logits stay float32.

    Returns:
        An uncompiled `keras.Model` mapping int ids `[batch, sequence_length]`
        to logits `[batch, 2, sequence_length]`: `[:, 0]` are the start
        logits, `[:, 1]` the end logits.

    Example:
    >>> model = build_qa(1000, 32, embed_dim=16, num_heads=2, ff_dim=32)
    >>> model(np.array([[2, 9, 3, 7, 8, 3] + [0] * 26])).shape
    (1, 2, 32)
    """
    checks.positive_int("vocab_size", vocab_size)
    checks.positive_int("sequence_length", sequence_length)
    checks.positive_int("embed_dim", embed_dim)
    checks.positive_int("num_heads", num_heads)
    checks.divisible("embed_dim", embed_dim, "num_heads", num_heads)
    checks.positive_int("ff_dim", ff_dim)
    checks.positive_int("num_layers", num_layers)
    checks.rate("dropout", dropout)
    if isinstance(separator_id, bool) or not isinstance(separator_id, int) or not (
        0 < separator_id < vocab_size
    ):
        raise ValueError(
            f"`separator_id` must be an id in [1, vocab_size). Received: "
            f"separator_id={separator_id!r}, vocab_size={vocab_size}"
        )

    token_ids = keras.Input(shape=(sequence_length,), dtype="int32", name="token_ids")
    tokens = TokenAndPositionEmbedding(
        vocab_size, sequence_length, embed_dim, dtype=dtype, name="embedding"
    )(token_ids)
    segments = SegmentEmbedding(
        separator_id, embed_dim, dtype=dtype, name="segment_embedding"
    )(token_ids)
    x = keras.layers.Add(dtype=dtype, name="add_segments")([tokens, segments])
    x = keras.layers.LayerNormalization(epsilon=1e-5, dtype=dtype, name="embedding_norm")(x)
    x = keras.layers.Dropout(dropout, dtype=dtype, name="embedding_dropout")(x)
    for i in range(num_layers):
        x = TransformerEncoder(
            intermediate_dim=ff_dim,
            num_heads=num_heads,
            dropout=dropout,
            # BERT drops attention probabilities at the same rate.
            attention_dropout=dropout,
            dtype=dtype,
            name=f"encoder_{i}",
        )(x)
    logits = SpanHead(dtype="float32", name="span_logits")(x)
    return keras.Model(token_ids, logits, name=name)
