"""The masked-language-model head: logits of the masked positions only."""

import keras
from keras import ops

from modelzoo import checks

__all__ = ["MaskedLMHead"]


@keras.saving.register_keras_serializable(package="modelzoo")
class MaskedLMHead(keras.layers.Layer):
    """Predicts the original tokens at the masked positions, as in BERT.

    The hidden states at `mask_positions` are gathered (so the vocabulary
    projection runs on the masked tokens only), then go through a dense
    layer with `intermediate_activation`, a layer norm, and a projection to
    the vocabulary plus a bias. Given a `token_embedding` (a
    `TokenAndPositionEmbedding` or a `keras.layers.ReversibleEmbedding`),
    the projection is that embedding called in reverse: the input and
    output token tables are tied. A task passes it again when rebuilding,
    as KerasHub's `MaskedLMHead` does, so it is not part of the config.

    Args:
        vocabulary_size: int. Number of token ids.
        token_embedding: a layer callable with `reverse=True`, or None for
            an untied `Dense` projection. Defaults to `None`.
        intermediate_activation: str or callable. Defaults to `"gelu"`.
        layer_norm_epsilon: float. Defaults to `1e-5`.
        kernel_initializer: str or initializer. Defaults to `"glorot_uniform"`.
        **kwargs: `name`, `dtype`, `trainable` and other `Layer` arguments.

    Returns:
        float32 logits `[batch, mask_selection_length, vocabulary_size]`.

    Example:
    >>> head = MaskedLMHead(vocabulary_size=50)
    >>> tuple(head(np.zeros((2, 10, 8)), mask_positions=np.array([[1, 4], [0, 9]])).shape)
    (2, 2, 50)
    """

    def __init__(
        self,
        vocabulary_size,
        token_embedding=None,
        intermediate_activation="gelu",
        layer_norm_epsilon=1e-5,
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.vocabulary_size = checks.positive_int("vocabulary_size", vocabulary_size)
        embedded = getattr(token_embedding, "vocabulary_size", None) or getattr(
            token_embedding, "input_dim", None
        )
        if token_embedding is not None and embedded != vocabulary_size:
            raise ValueError(
                "`token_embedding` must embed `vocabulary_size` ids. Received: "
                f"vocabulary_size={vocabulary_size}, token_embedding embeds {embedded}"
            )
        if not layer_norm_epsilon > 0:
            raise ValueError(
                f"`layer_norm_epsilon` must be > 0. Received: layer_norm_epsilon={layer_norm_epsilon!r}"
            )
        self.token_embedding = token_embedding
        self.intermediate_activation = keras.activations.get(intermediate_activation)
        self.layer_norm_epsilon = layer_norm_epsilon
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        # The backbone's padding mask is irrelevant here: only the gathered
        # positions are predicted, and the loss weights mark padded ones.
        self.supports_masking = True

    def build(self, inputs_shape, mask_positions_shape=None):
        dim = inputs_shape[-1]
        self.intermediate_dense = keras.layers.Dense(
            dim, activation=self.intermediate_activation,
            kernel_initializer=self.kernel_initializer, dtype=self.dtype_policy,
            name="intermediate_dense",
        )
        self.intermediate_dense.build((None, None, dim))
        self.layer_norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon, dtype=self.dtype_policy, name="layer_norm"
        )
        self.layer_norm.build((None, None, dim))
        if self.token_embedding is None:
            self.output_dense = keras.layers.Dense(
                self.vocabulary_size, use_bias=False, kernel_initializer=self.kernel_initializer,
                dtype=self.dtype_policy, name="output_dense",
            )
            self.output_dense.build((None, None, dim))
        self.bias = self.add_weight(
            name="output_bias", shape=(self.vocabulary_size,), initializer="zeros"
        )
        self.built = True

    def call(self, inputs, mask_positions):
        positions = ops.expand_dims(ops.cast(mask_positions, "int32"), -1)
        x = ops.take_along_axis(inputs, positions, axis=1)
        x = self.layer_norm(self.intermediate_dense(x))
        if self.token_embedding is None:
            logits = self.output_dense(x)
        else:
            logits = self.token_embedding(x, reverse=True)
        return ops.cast(logits, "float32") + ops.cast(self.bias, "float32")

    def compute_mask(self, inputs, mask=None, mask_positions=None):
        return None

    def compute_output_shape(self, inputs_shape, mask_positions_shape):
        return (inputs_shape[0], mask_positions_shape[1], self.vocabulary_size)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocabulary_size": self.vocabulary_size,
                "intermediate_activation": keras.activations.serialize(
                    self.intermediate_activation
                ),
                "layer_norm_epsilon": self.layer_norm_epsilon,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            }
        )
        return config
