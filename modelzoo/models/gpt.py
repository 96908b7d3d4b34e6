"""Decoder-only Transformer language model (a small GPT)."""

import dataclasses

import keras

from modelzoo import checks
from modelzoo.config import field
from modelzoo.experiment_config import TransformerSizes
from modelzoo.layers import TokenAndPositionEmbedding, TransformerDecoder
from modelzoo.models.common import CharLanguageModel
from modelzoo.text import chars
from modelzoo.registry import register_model

__all__ = ["build_gpt"]


@register_model("gpt", vocab_size=66, sequence_length=128)
def build_gpt(vocab_size, sequence_length, *, name="gpt", **kwargs):
    """Builds a pre-norm decoder-only Transformer next-token model.

    Token ids → token and position embedding (`embedding`) → dropout →
    `num_layers` causal `TransformerDecoder` blocks (`decoder_0`, ...) →
    final layer norm (`final_norm`) → logits (`logits`). With
    `tie_embeddings=True` the logits are `hidden @ token_embedding^T`
    (the embedding layer called in reverse), which saves
    `vocab_size * embed_dim` weights; otherwise a `Dense(vocab_size)`.
    No id is padding: every position is a real token, as in a character
    model. The returned `GPT` also owns `call_with_cache`, the cached
    one-token step that the exported generator's in-graph sampler calls.

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
        vocabulary: list of str or None. The character of each id
            (`vocabulary[0]` is the unknown id), as `text.chars.char_vocabulary`
            makes it; `generate` needs it. Saved in the config. Defaults to
            `None`.
        name: str. Model name. Defaults to `"gpt"`.
        dtype: dtype or policy for the hidden layers; the logits stay float32.

    Returns:
        An uncompiled `GPT` (a functional `keras.Model`) mapping int ids `[batch, time]`
        (`time <= sequence_length`) to logits `[batch, time, vocab_size]`;
        the logits at t depend on ids 0..t only.

    Example:
    >>> model = build_gpt(65, 32, embed_dim=16, num_heads=2, ff_dim=32, num_layers=1)
    >>> tuple(model(np.ones((2, 7), "int32")).shape)
    (2, 7, 65)
    """
    return GPT(vocab_size, sequence_length, name=name, **kwargs)


@keras.saving.register_keras_serializable(package="modelzoo")
class GPT(CharLanguageModel):
    """The model `build_gpt` returns: a functional causal LM with a cached step.

    Besides the plain call (ids → logits for every position, used by
    training), it owns `call_with_cache`, the one-token-at-a-time forward
    pass over the same layers with a key/value cache per block, which the
    exported generator's in-graph sampler calls. Its config holds the
    builder's arguments, so it round-trips through `get_config` and
    `.keras` files. Arguments: see `build_gpt`.
    """

    def __init__(
        self,
        vocab_size,
        sequence_length,
        embed_dim=128,
        num_heads=4,
        ff_dim=512,
        num_layers=4,
        dropout=0.1,
        tie_embeddings=False,
        vocabulary=None,
        name=None,
        trainable=True,
        dtype=None,
    ):
        checks.positive_int("vocab_size", vocab_size)
        checks.positive_int("sequence_length", sequence_length)
        if vocabulary is not None:
            vocabulary = chars.check_char_vocabulary(vocabulary, vocab_size)
        checks.transformer_sizes(embed_dim, num_heads, ff_dim, num_layers, dropout)
        if not isinstance(tie_embeddings, bool):
            raise ValueError(
                f"`tie_embeddings` must be a bool. Received: tie_embeddings={tie_embeddings!r}"
            )

        # === Layers ===
        self.embedding = TokenAndPositionEmbedding(
            vocab_size, sequence_length, embed_dim, mask_zero=False, dtype=dtype,
            name="embedding",
        )
        self.embedding_dropout = keras.layers.Dropout(
            dropout, dtype=dtype, name="embedding_dropout"
        )
        self.decoders = [
            TransformerDecoder(
                intermediate_dim=ff_dim, num_heads=num_heads, dropout=dropout, dtype=dtype,
                name=f"decoder_{i}",
            )
            for i in range(num_layers)
        ]
        self.final_norm = keras.layers.LayerNormalization(
            epsilon=1e-5, dtype=dtype, name="final_norm"
        )
        # The logits stay float32 under a mixed-precision policy.
        if tie_embeddings:
            self.head = keras.layers.Activation("linear", dtype="float32", name="logits")
        else:
            self.head = keras.layers.Dense(vocab_size, dtype="float32", name="logits")

        # === Functional Model ===
        token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
        x = self.embedding_dropout(self.embedding(token_ids))
        for decoder in self.decoders:
            x = decoder(x)
        logits = self._logits(self.final_norm(x), tie_embeddings)
        super().__init__(token_ids, logits, name=name, trainable=trainable, dtype=dtype)

        # === Config ===
        self.vocab_size = vocab_size
        self.sequence_length = sequence_length
        self.embed_dim = embed_dim
        self.num_heads = num_heads
        self.ff_dim = ff_dim
        self.num_layers = num_layers
        self.dropout = dropout
        self.tie_embeddings = tie_embeddings
        self.vocabulary = vocabulary

    def _logits(self, hidden, tie_embeddings):
        if tie_embeddings:
            hidden = self.embedding(hidden, reverse=True)
        return self.head(hidden)

    def empty_cache(self, batch_size):
        """A zero key/value cache for `call_with_cache`: one tensor per block.

        Each is `[2, sequence_length, batch, embed_dim]`: keys and values,
        position-major (see `CachedMultiHeadAttention`).
        """
        return [decoder.empty_cache(batch_size, self.sequence_length) for decoder in self.decoders]

    def _make_sampler(self):
        from modelzoo.export import gpt_generator

        return gpt_generator.make_gpt_generator(self, None)

    def call_with_cache(self, token_ids, cache, cache_update_index):
        """Logits of `token_ids` `[batch, n]` placed at `cache_update_index`.

        The same layers as the plain call, one position range at a time: the
        new keys and values are written into `cache` (from `empty_cache`)
        and each position attends to the cached ones up to its own. Fed
        position by position from 0, it gives the plain call's logits for
        the whole prefix (up to float rounding). Inference only (no
        dropout); `cache_update_index + n` must not exceed `sequence_length`.

        Args:
            token_ids: int tensor `[batch, n]`.
            cache: the list `empty_cache` or a previous call returned.
            cache_update_index: int scalar, the position of `token_ids[:, 0]`.

        Returns:
            `(logits, cache)`: float32 logits `[batch, n, vocab_size]` and the
            updated cache.
        """
        x = self.embedding(token_ids, start_index=cache_update_index)
        new_cache = []
        for decoder, layer_cache in zip(self.decoders, cache):
            x, layer_cache = decoder(x, cache=layer_cache, cache_update_index=cache_update_index)
            new_cache.append(layer_cache)
        # [tokens, dim] keeps the head a plain matmul (see TransformerDecoder).
        hidden = keras.ops.reshape(x, (-1, self.embed_dim))
        logits = self._logits(self.final_norm(hidden), self.tie_embeddings)
        shape = (keras.ops.shape(token_ids)[0], keras.ops.shape(token_ids)[1], self.vocab_size)
        return keras.ops.reshape(logits, shape), new_cache

    def get_config(self):
        return {
            "vocab_size": self.vocab_size,
            "sequence_length": self.sequence_length,
            "embed_dim": self.embed_dim,
            "num_heads": self.num_heads,
            "ff_dim": self.ff_dim,
            "num_layers": self.num_layers,
            "dropout": self.dropout,
            "tie_embeddings": self.tie_embeddings,
            "vocabulary": None if self.vocabulary is None else list(self.vocabulary),
            "name": self.name,
            "trainable": self.trainable,
            "dtype": keras.dtype_policies.serialize(self.dtype_policy),
        }


@dataclasses.dataclass
class GptConfig(TransformerSizes):
    """`build_gpt`'s arguments a recipe sets (the window is the data's `sequence_length`)."""

    registered_name = "gpt"
    embed_dim: int = field(128, "Embedding and hidden size.", minimum=1)
    ff_dim: int = field(512, "Feed-forward width.", minimum=1)
    num_layers: int = field(4, "Decoder blocks.", minimum=1)
    tie_embeddings: bool = field(False, "Share the token table with the logits.")
