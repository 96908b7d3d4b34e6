"""Character- or token-level LSTM language model."""

import dataclasses

import keras

from modelzoo import checks
from modelzoo.config import field
from modelzoo.experiment_config import ModelConfig
from modelzoo.models.common import CharLanguageModel
from modelzoo.text import chars
from modelzoo.registry import register_model

__all__ = ["build_lstm_generator"]


@register_model("lstm_generator", vocab_size=66)
def build_lstm_generator(vocab_size, *, name="lstm_generator", **kwargs):
    """Builds Embedding → LSTM × N → Dense(vocab_size) next-token logits.

    The model's `call_with_cache` steps the same layers one token at a time;
    the in-graph generator of `modelzoo.export` calls it.

    Args:
        vocab_size: int. Number of token ids.
        embed_dim: int. Embedding size. Defaults to `64`.
        lstm_units: sequence of ints. Units of each stacked LSTM. Defaults to
            `(256,)`.
        dropout: float in [0, 1). Dropout after each LSTM. Defaults to `0.`.
        vocabulary: list of str or None. The character of each id
            (`vocabulary[0]` is the unknown id); `generate` needs it. Saved
            in the config. Defaults to `None`.
        name: str. Model name. Defaults to `"lstm_generator"`.
        dtype: dtype or policy for the hidden layers; the logits stay float32.

    Returns:
        An uncompiled `keras.Model` mapping int ids `[batch, time]` (time may
        be `None`) to logits `[batch, time, vocab_size]`.

    Example:
    >>> model = build_lstm_generator(65)
    >>> tuple(model(np.ones((2, 7), "int32")).shape)
    (2, 7, 65)
    """
    return LstmGenerator(vocab_size, name=name, **kwargs)


@keras.saving.register_keras_serializable(package="modelzoo")
class LstmGenerator(CharLanguageModel):
    """The model `build_lstm_generator` returns: a functional LM with a cached step.

    Besides the plain call (ids → logits for every position, used by
    training), it owns `call_with_cache`, one token per row through the same
    layers' cells with the LSTM states as the cache, which the exported
    generator's in-graph sampler calls. Its config holds the builder's
    arguments. Arguments: see `build_lstm_generator`.
    """

    def __init__(self, vocab_size, embed_dim=64, lstm_units=(256,), dropout=0.0, vocabulary=None,
                 name=None, trainable=True, dtype=None):
        checks.positive_int("vocab_size", vocab_size)
        if vocabulary is not None:
            vocabulary = chars.check_char_vocabulary(vocabulary, vocab_size)
        checks.positive_int("embed_dim", embed_dim)
        lstm_units = checks.positive_ints("lstm_units", lstm_units)
        checks.rate("dropout", dropout)

        # === Layers ===
        self.embedding = keras.layers.Embedding(
            vocab_size, embed_dim, dtype=dtype, name="embedding"
        )
        self.lstms = [
            keras.layers.LSTM(units, return_sequences=True, dtype=dtype, name=f"lstm_{i}")
            for i, units in enumerate(lstm_units)
        ]
        self.dropouts = [
            keras.layers.Dropout(dropout, dtype=dtype, name=f"dropout_{i}")
            for i in range(len(lstm_units))
        ]
        # The logits stay float32 under a mixed-precision policy.
        self.head = keras.layers.Dense(vocab_size, dtype="float32", name="logits")

        # === Functional Model ===
        token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
        x = self.embedding(token_ids)
        for lstm, drop in zip(self.lstms, self.dropouts):
            x = drop(lstm(x))
        super().__init__(token_ids, self.head(x), name=name, trainable=trainable, dtype=dtype)

        # === Config ===
        self.vocab_size = vocab_size
        self.embed_dim = embed_dim
        self.lstm_units = lstm_units
        self.dropout = dropout
        self.vocabulary = vocabulary

    def empty_cache(self, batch_size):
        """The zero states for `call_with_cache`: `[h, c]` per LSTM."""
        return [lstm.cell.get_initial_state(batch_size) for lstm in self.lstms]

    def call_with_cache(self, token_ids, cache):
        """Logits of the next token after `token_ids` `[batch]`, one step.

        The plain call's layers, a step at a time: each LSTM's cell advances
        its state in `cache`. Fed a sequence token by token from
        `empty_cache`, it gives the plain call's logits at each position (up
        to float rounding). Inference only (no dropout).

        Args:
            token_ids: int tensor `[batch]`.
            cache: the list `empty_cache` or a previous call returned.

        Returns:
            `(logits, cache)`: float32 logits `[batch, vocab_size]` and the
            updated cache.
        """
        x = self.embedding(token_ids)
        new_cache = []
        for lstm, state in zip(self.lstms, cache):
            x, state = lstm.cell(x, state, training=False)
            new_cache.append(state)
        return self.head(x), new_cache

    def _make_sampler(self):
        from modelzoo.export import generator

        return generator.make_generator(self, None)

    def get_config(self):
        return {
            "vocab_size": self.vocab_size,
            "embed_dim": self.embed_dim,
            "lstm_units": list(self.lstm_units),
            "dropout": self.dropout,
            "vocabulary": None if self.vocabulary is None else list(self.vocabulary),
            "name": self.name,
            "trainable": self.trainable,
            "dtype": keras.dtype_policies.serialize(self.dtype_policy),
        }


@dataclasses.dataclass
class LstmGeneratorConfig(ModelConfig):
    """`build_lstm_generator`'s arguments a recipe sets."""

    registered_name = "lstm_generator"
    data_args = ("vocab_size", "vocabulary")
    embed_dim: int = field(64, "Character embedding size.", minimum=1)
    lstm_units: tuple[int, ...] = field((256,), "Units of each stacked LSTM.")
    dropout: float = field(0.0, "Dropout after each LSTM, in [0, 1).", minimum=0, below=1)
