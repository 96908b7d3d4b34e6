"""One pre-norm Transformer decoder block with causal self-attention."""

import keras
from keras import ops

from modelzoo import checks
from modelzoo.layers.cached_multi_head_attention import CachedMultiHeadAttention
from modelzoo.layers.transformer_encoder import feed_forward_layers

__all__ = ["TransformerDecoder"]


@keras.saving.register_keras_serializable(package="modelzoo")
class TransformerDecoder(keras.layers.Layer):
    """Causal self-attention and a feed-forward network, pre-norm (GPT-2).

    Each position attends only to itself and earlier positions
    (`keras.layers.MultiHeadAttention(..., use_causal_mask=True)`), so the
    output at position t depends on inputs 0..t only: a language model
    trained on all positions at once predicts each next token. Layer norms
    come before each sub-block and the residual stream is left unnormalized,
    as in GPT-2; put a final `LayerNormalization` after the last block.

    For step-by-step generation, `call` also takes a key/value `cache`
    (`empty_cache` makes one: keys and values stacked,
    `[2, max_length, batch, hidden_dim]`) and the
    `cache_update_index` at which `inputs` start: the new keys and values
    are written there and the queries attend to every cached position up
    to their own (`CachedMultiHeadAttention`). It then returns
    `(outputs, new_cache)`. With the cache, `inputs` of any length n give
    the same outputs as the plain call on the whole prefix (up to float
    rounding), at a cost linear in `max_length` per new position.

    Args:
        intermediate_dim: int. Width of the feed-forward hidden layer.
        num_heads: int. Number of attention heads; must divide the hidden
            size of the inputs.
        dropout: float. Dropout after attention and feed-forward, in [0, 1).
            Defaults to `0.`.
        activation: str or callable for the feed-forward layer. Defaults to
            `"gelu"`.
        layer_norm_epsilon: float. Epsilon of both layer norms. Defaults to
            `1e-5`.
        kernel_initializer: str or initializer for the dense kernels.
            Defaults to `"glorot_uniform"`.
        **kwargs: `name`, `dtype`, `trainable` and other `Layer` arguments.

    Returns:
        A tensor with the input's shape `[batch, length, hidden_dim]`; with
        a `cache`, the tuple `(outputs, new_cache)`.

    Example:
    >>> block = TransformerDecoder(intermediate_dim=16, num_heads=2)
    >>> tuple(block(np.zeros((1, 3, 8))).shape)
    (1, 3, 8)

    References:
        Radford et al., 2019, "Language Models are Unsupervised Multitask
        Learners" (GPT-2).
    """

    def __init__(
        self,
        intermediate_dim,
        num_heads,
        dropout=0.0,
        activation="gelu",
        layer_norm_epsilon=1e-5,
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.intermediate_dim = checks.positive_int("intermediate_dim", intermediate_dim)
        self.num_heads = checks.positive_int("num_heads", num_heads)
        self.dropout = checks.rate("dropout", dropout)
        self.activation = keras.activations.get(activation)
        if isinstance(layer_norm_epsilon, bool) or not isinstance(
            layer_norm_epsilon, (int, float)
        ) or not layer_norm_epsilon > 0:
            raise ValueError(
                "`layer_norm_epsilon` must be a float > 0. "
                f"Received: layer_norm_epsilon={layer_norm_epsilon!r}"
            )
        self.layer_norm_epsilon = float(layer_norm_epsilon)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build(self, inputs_shape):
        hidden_dim = inputs_shape[-1]
        checks.divisible("hidden_dim", hidden_dim, "num_heads", self.num_heads)
        self.head_dim = hidden_dim // self.num_heads
        dense = dict(kernel_initializer=self.kernel_initializer, dtype=self.dtype_policy)
        norm = dict(epsilon=self.layer_norm_epsilon, dtype=self.dtype_policy)
        self.attention_norm = keras.layers.LayerNormalization(name="attention_norm", **norm)
        self.attention_norm.build(inputs_shape)
        self.attention = CachedMultiHeadAttention(
            num_heads=self.num_heads,
            key_dim=self.head_dim,
            dropout=self.dropout,
            name="self_attention",
            **dense,
        )
        self.attention.build(inputs_shape, inputs_shape)
        self.attention_dropout = keras.layers.Dropout(
            self.dropout, dtype=self.dtype_policy, name="attention_dropout"
        )
        self.output_norm = keras.layers.LayerNormalization(name="output_norm", **norm)
        self.output_norm.build(inputs_shape)
        self.intermediate, self.output_dense, self.output_dropout = feed_forward_layers(
            self, inputs_shape, dense
        )
        self.built = True

    def call(self, inputs, cache=None, cache_update_index=None, training=None):
        if cache is not None:
            return self._call_with_cache(inputs, cache, cache_update_index)
        x = self.attention_norm(inputs)
        attended = self.attention(x, x, use_causal_mask=True, training=training)
        x = inputs + self.attention_dropout(attended, training=training)
        ffn = self.output_dense(self.intermediate(self.output_norm(x)))
        return x + self.output_dropout(ffn, training=training)

    def _call_with_cache(self, inputs, cache, cache_update_index):
        # Inference only (no dropout). The feed-forward part runs on
        # [tokens, dim]: a rank-3 Dense input becomes a batched matmul,
        # which costs several times more per call at one token a step.
        x = self.attention_norm(inputs)
        attended, cache = self.attention(
            x, x, cache=cache, cache_update_index=cache_update_index
        )
        x = ops.reshape(inputs + attended, (-1, ops.shape(inputs)[-1]))
        x = x + self.output_dense(self.intermediate(self.output_norm(x)))
        return ops.reshape(x, ops.shape(inputs)), cache

    def empty_cache(self, batch_size, max_length):
        """A zero cache, keys and values stacked: `[2, max_length, batch_size, hidden_dim]`."""
        return self.attention.empty_cache(batch_size, max_length)

    def compute_output_shape(self, inputs_shape):
        return inputs_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "intermediate_dim": self.intermediate_dim,
                "num_heads": self.num_heads,
                "dropout": self.dropout,
                "activation": keras.activations.serialize(self.activation),
                "layer_norm_epsilon": self.layer_norm_epsilon,
                "kernel_initializer": keras.initializers.serialize(
                    self.kernel_initializer
                ),
            }
        )
        return config
