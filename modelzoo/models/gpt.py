"""Decoder-only Transformer language model (a small GPT)."""

import keras

from modelzoo import checks
from modelzoo.layers import (
    ReversibleTokenAndPositionEmbedding,
    TokenAndPositionEmbedding,
    TransformerDecoder,
)
from modelzoo.registry import register_model


@register_model("gpt", vocab_size=66, sequence_length=128)
def build_gpt(
    vocab_size,
    sequence_length,
    embed_dim=128,
    num_heads=4,
    ff_dim=512,
    num_layers=4,
    dropout=0.1,
    tie_embeddings=False,
    name="gpt",
    dtype=None,
):
    """Builds a pre-norm decoder-only Transformer next-token model.

    Token ids → token and position embedding (`embedding`) → dropout →
    `num_layers` causal `TransformerDecoder` blocks (`decoder_0`, ...) →
    final layer norm (`final_norm`) → logits (`logits`). With
    `tie_embeddings=True` the logits are `hidden @ token_embedding^T`
    (the embedding layer called in reverse), which saves
    `vocab_size * embed_dim` weights; otherwise a `Dense(vocab_size)`.
    No id is padding: every position is a real token, as in a character
    model. The in-graph generator of `modelzoo.export.gpt_generator` steps
    these layers one token at a time with a key/value cache.

    Args:
        vocab_size: int. Number of token ids.
        sequence_length: int. Longest input (the position table size);
            shorter inputs work too.
        embed_dim: int. Embedding and hidden size; divisible by `num_heads`.
            Defaults to `128`.
        num_heads: int. Attention heads. Defaults to `4`.
        ff_dim: int. Feed-forward width. Defaults to `512`.
        num_layers: int. Decoder blocks. Defaults to `4`.
        dropout: float in [0, 1). After the embedding and inside each block.
            Defaults to `0.1`.
        tie_embeddings: bool. Share the token table with the output layer.
            Defaults to `False`.
        name: str. Model name. Defaults to `"gpt"`.
        dtype: dtype or policy for the hidden layers; the logits stay float32.

    Returns:
        An uncompiled `keras.Model` mapping int ids `[batch, time]`
        (`time <= sequence_length`) to logits `[batch, time, vocab_size]`;
        the logits at t depend on ids 0..t only.

    Example:
    >>> model = build_gpt(65, 32, embed_dim=16, num_heads=2, ff_dim=32, num_layers=1)
    >>> model(np.ones((2, 7), "int32")).shape
    (2, 7, 65)
    """
    checks.positive_int("vocab_size", vocab_size)
    checks.positive_int("sequence_length", sequence_length)
    checks.positive_int("embed_dim", embed_dim)
    checks.positive_int("num_heads", num_heads)
    checks.divisible("embed_dim", embed_dim, "num_heads", num_heads)
    checks.positive_int("ff_dim", ff_dim)
    checks.positive_int("num_layers", num_layers)
    checks.rate("dropout", dropout)
    if not isinstance(tie_embeddings, bool):
        raise ValueError(
            f"`tie_embeddings` must be a bool. Received: tie_embeddings={tie_embeddings!r}"
        )

    token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
    embedding_cls = ReversibleTokenAndPositionEmbedding if tie_embeddings else (
        TokenAndPositionEmbedding
    )
    embedding = embedding_cls(
        vocab_size, sequence_length, embed_dim, mask_zero=False, dtype=dtype, name="embedding"
    )
    x = embedding(token_ids)
    x = keras.layers.Dropout(dropout, dtype=dtype, name="embedding_dropout")(x)
    for i in range(num_layers):
        x = TransformerDecoder(
            intermediate_dim=ff_dim,
            num_heads=num_heads,
            dropout=dropout,
            dtype=dtype,
            name=f"decoder_{i}",
        )(x)
    x = keras.layers.LayerNormalization(epsilon=1e-5, dtype=dtype, name="final_norm")(x)
    if tie_embeddings:
        logits = keras.layers.Activation("linear", dtype="float32", name="logits")(
            embedding(x, reverse=True)
        )
    else:
        logits = keras.layers.Dense(vocab_size, dtype="float32", name="logits")(x)
    return keras.Model(token_ids, logits, name=name)
