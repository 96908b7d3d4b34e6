"""Transformer encoder text classifier (the keras-io IMDB model, deeper)."""

import dataclasses

import keras

from modelzoo import checks
from modelzoo.config import field
from modelzoo.experiment_config import TransformerSizes
from modelzoo.layers import TokenAndPositionEmbedding
from modelzoo.models.common import encoder_stack
from modelzoo.registry import register_model

__all__ = ["build_transformer"]


@register_model("transformer", vocab_size=20000, sequence_length=200, num_classes=2)
def build_transformer(
    vocab_size,
    sequence_length,
    num_classes,
    embed_dim=64,
    num_heads=4,
    ff_dim=128,
    num_layers=2,
    dropout=0.1,
    attention_dropout=0.0,
    name="transformer",
    dtype=None,
):
    """Builds a Transformer encoder classifier over token ids.

    Token ids `[batch, sequence_length]`, where 0 is padding → token and
    position embedding → `num_layers` encoder blocks → masked mean pooling →
    dropout → Dense(num_classes) logits. Padding is masked in attention and in
    the pooling, so padded and unpadded copies of a text score the same.

    Args:
        vocab_size: int. Number of token ids, including 0 (padding).
        sequence_length: int. Length of the id sequences.
        num_classes: int. Number of logits.
        embed_dim: int. Embedding and hidden size; divisible by `num_heads`.
            Defaults to `64`.
        num_heads: int. Attention heads. Defaults to `4`.
        ff_dim: int. Feed-forward width. Defaults to `128`.
        num_layers: int. Encoder blocks. Defaults to `2`.
        dropout: float in [0, 1). Dropout on the residual branches and
            before the head. Defaults to `0.1`.
        attention_dropout: float in [0, 1). Dropout on the attention
            probabilities. Defaults to `0.`, as in the keras-io model; it is
            costly on CPU (see `TransformerEncoder`).
        name: str. Model name. Defaults to `"transformer"`.
        dtype: dtype or policy for the hidden layers; the logits stay float32.

    Returns:
        An uncompiled `keras.Model` mapping int ids `[batch, sequence_length]`
        to logits `[batch, num_classes]`.

    Example:
    >>> model = build_transformer(1000, 32, 2)
    >>> tuple(model(np.ones((2, 32), "int32")).shape)
    (2, 2)
    """
    checks.positive_int("vocab_size", vocab_size)
    checks.positive_int("sequence_length", sequence_length)
    checks.positive_int("num_classes", num_classes)
    checks.transformer_sizes(embed_dim, num_heads, ff_dim, num_layers, dropout)
    checks.rate("attention_dropout", attention_dropout)

    token_ids = keras.Input(shape=(sequence_length,), dtype="int32", name="token_ids")
    x = TokenAndPositionEmbedding(
        vocab_size, sequence_length, embed_dim, dtype=dtype, name="embedding"
    )(token_ids)
    x = encoder_stack(x, num_layers, intermediate_dim=ff_dim, num_heads=num_heads, dropout=dropout,
                      attention_dropout=attention_dropout, dtype=dtype)
    x = keras.layers.GlobalAveragePooling1D(dtype=dtype, name="pooling")(x)
    x = keras.layers.Dropout(dropout, dtype=dtype, name="dropout")(x)
    logits = keras.layers.Dense(num_classes, dtype="float32", name="logits")(x)
    return keras.Model(token_ids, logits, name=name)


@dataclasses.dataclass
class TransformerConfig(TransformerSizes):
    """`build_transformer`'s arguments a recipe sets."""

    registered_name = "transformer"
    attention_dropout: float = field(
        0.0, "Dropout on the attention probabilities, in [0, 1).", minimum=0, below=1)
