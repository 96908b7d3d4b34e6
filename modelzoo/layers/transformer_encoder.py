"""One post-norm Transformer encoder block."""

import keras
from keras import ops

from modelzoo import checks

__all__ = ["TransformerEncoder"]


@keras.saving.register_keras_serializable(package="modelzoo")
class TransformerEncoder(keras.layers.Layer):
    """Self-attention and a feed-forward network, each with a residual.

    This is the encoder block of "Attention Is All You Need" (post-norm, as in
    BERT and the keras-io text classifier). A padding mask, given directly or
    carried by the input from `TokenAndPositionEmbedding`, keeps attention off
    padded keys; the mask passes through to later layers such as pooling.

    Args:
        intermediate_dim: int. Width of the feed-forward hidden layer.
        num_heads: int. Number of attention heads.
        dropout: float. Dropout after attention and feed-forward, in [0, 1).
            Defaults to `0.`.
        attention_dropout: float. Dropout on the attention probabilities,
            in [0, 1). Defaults to `0.`, as in the keras-io text classifier:
            it draws a mask of `[batch, heads, length, length]` every step,
            which made training ~20-40 % slower on CPU at length 200.
        activation: str or callable for the feed-forward layer. Defaults to
            `"relu"`.
        layer_norm_epsilon: float. Epsilon of both layer norms. Defaults to
            `1e-5`.
        kernel_initializer: str or initializer for the dense kernels.
            Defaults to `"glorot_uniform"`.
        **kwargs: `name`, `dtype`, `trainable` and other `Layer` arguments.

    Returns:
        A tensor with the input's shape `[batch, length, hidden_dim]`.

    Example:
    >>> block = TransformerEncoder(intermediate_dim=16, num_heads=2)
    >>> tuple(block(np.zeros((1, 3, 8))).shape)
    (1, 3, 8)

    References:
        Vaswani et al., 2017, https://arxiv.org/abs/1706.03762
    """

    def __init__(
        self,
        intermediate_dim,
        num_heads,
        dropout=0.0,
        attention_dropout=0.0,
        activation="relu",
        layer_norm_epsilon=1e-5,
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.intermediate_dim = checks.positive_int("intermediate_dim", intermediate_dim)
        self.num_heads = checks.positive_int("num_heads", num_heads)
        self.dropout = checks.rate("dropout", dropout)
        self.attention_dropout = checks.rate("attention_dropout", attention_dropout)
        self.activation = keras.activations.get(activation)
        self.layer_norm_epsilon = layer_norm_epsilon
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.supports_masking = True

    def build(self, inputs_shape):
        hidden_dim = inputs_shape[-1]
        checks.divisible("hidden_dim", hidden_dim, "num_heads", self.num_heads)
        key_dim = hidden_dim // self.num_heads
        dense = dict(kernel_initializer=self.kernel_initializer, dtype=self.dtype_policy)
        self.attention = keras.layers.MultiHeadAttention(
            num_heads=self.num_heads,
            key_dim=key_dim,
            dropout=self.attention_dropout,
            name="self_attention",
            **dense,
        )
        self.attention.build(inputs_shape, inputs_shape)
        self.attention_output_dropout = keras.layers.Dropout(
            self.dropout, dtype=self.dtype_policy, name="attention_output_dropout"
        )
        self.attention_norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon, dtype=self.dtype_policy, name="attention_norm"
        )
        self.attention_norm.build(inputs_shape)
        self.intermediate, self.output_dense, self.output_dropout = feed_forward_layers(
            self, inputs_shape, dense
        )
        self.output_norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon, dtype=self.dtype_policy, name="output_norm"
        )
        self.output_norm.build(inputs_shape)
        self.built = True

    def call(self, inputs, mask=None, padding_mask=None, training=None):
        if padding_mask is None:
            padding_mask = mask
        attention_mask = None
        if padding_mask is not None:
            # [batch, 1, keys]: every query may attend to every unpadded key.
            attention_mask = ops.expand_dims(ops.cast(padding_mask, "bool"), axis=1)
        attended = self.attention(
            inputs, inputs, attention_mask=attention_mask, training=training
        )
        attended = self.attention_output_dropout(attended, training=training)
        x = self.attention_norm(inputs + attended)
        ffn = self.output_dense(self.intermediate(x))
        return self.output_norm(x + self.output_dropout(ffn, training=training))

    def compute_mask(self, inputs, mask=None, padding_mask=None):
        return mask if padding_mask is None else padding_mask

    def compute_output_shape(self, inputs_shape):
        return inputs_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "intermediate_dim": self.intermediate_dim,
                "num_heads": self.num_heads,
                "dropout": self.dropout,
                "attention_dropout": self.attention_dropout,
                "activation": keras.activations.serialize(self.activation),
                "layer_norm_epsilon": self.layer_norm_epsilon,
                "kernel_initializer": keras.initializers.serialize(
                    self.kernel_initializer
                ),
            }
        )
        return config


def feed_forward_layers(block, inputs_shape, dense):
    """The feed-forward sub-layers of a Transformer `block`, built for `inputs_shape`.

    Args:
        block: the layer they belong to; its `intermediate_dim`,
            `activation`, `dropout` and `dtype_policy` set them up.
        inputs_shape: the block's input shape `[..., hidden_dim]`.
        dense: dict. Keyword arguments of both `Dense` layers.

    Returns:
        `(intermediate, output_dense, output_dropout)`: `Dense(intermediate_dim,
        activation)` named `"intermediate"`, `Dense(hidden_dim)` named
        `"output"` and `Dropout(dropout)` named `"output_dropout"`.
    """
    intermediate = keras.layers.Dense(
        block.intermediate_dim, activation=block.activation, name="intermediate", **dense
    )
    intermediate.build(inputs_shape)
    output_dense = keras.layers.Dense(inputs_shape[-1], name="output", **dense)
    output_dense.build(tuple(inputs_shape[:-1]) + (block.intermediate_dim,))
    output_dropout = keras.layers.Dropout(
        block.dropout, dtype=block.dtype_policy, name="output_dropout"
    )
    return intermediate, output_dense, output_dropout
