"""Character- or token-level LSTM language model."""

import keras

from modelzoo import checks
from modelzoo.registry import register_model

__all__ = ["build_lstm_generator"]


@register_model("lstm_generator", vocab_size=66)
def build_lstm_generator(
    vocab_size,
    embed_dim=64,
    lstm_units=(256,),
    dropout=0.0,
    name="lstm_generator",
    dtype=None,
):
    """Builds Embedding → LSTM × N → Dense(vocab_size) next-token logits.

    The LSTM layers are named `lstm_0`, `lstm_1`, ... and their cells are what
    the in-graph generator of `modelzoo.export` steps one token at a time.

    Args:
        vocab_size: int. Number of token ids.
        embed_dim: int. Embedding size. Defaults to `64`.
        lstm_units: sequence of ints. Units of each stacked LSTM. Defaults to
            `(256,)`.
        dropout: float in [0, 1). Dropout after each LSTM. Defaults to `0.`.
        name: str. Model name. Defaults to `"lstm_generator"`.
        dtype: dtype or policy for the hidden layers; the logits stay float32.

    Returns:
        An uncompiled `keras.Model` mapping int ids `[batch, time]` (time may
        be `None`) to logits `[batch, time, vocab_size]`.

    Example:
    >>> model = build_lstm_generator(65)
    >>> model(np.ones((2, 7), "int32")).shape
    (2, 7, 65)
    """
    checks.positive_int("vocab_size", vocab_size)
    checks.positive_int("embed_dim", embed_dim)
    lstm_units = checks.positive_ints("lstm_units", lstm_units)
    checks.rate("dropout", dropout)

    token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
    x = keras.layers.Embedding(vocab_size, embed_dim, dtype=dtype, name="embedding")(token_ids)
    for i, units in enumerate(lstm_units):
        x = keras.layers.LSTM(units, return_sequences=True, dtype=dtype, name=f"lstm_{i}")(x)
        x = keras.layers.Dropout(dropout, dtype=dtype, name=f"dropout_{i}")(x)
    logits = keras.layers.Dense(vocab_size, dtype="float32", name="logits")(x)
    return keras.Model(token_ids, logits, name=name)
