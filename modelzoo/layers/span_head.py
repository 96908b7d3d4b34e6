"""Start and end logits of an answer span, with padding masked out."""

import keras
from keras import ops

__all__ = ["SpanHead"]


@keras.saving.register_keras_serializable(package="modelzoo")
class SpanHead(keras.layers.Layer):
    """Projects each token to a start and an end logit (extractive QA).

    Positions the padding mask marks as padding (given directly, or carried
    by the input from `TokenAndPositionEmbedding`) get `mask_value` in both,
    so a softmax over positions gives them no probability and an argmax
    never picks them. The output stacks start and end on axis 1, so sparse
    labels `[batch, 2]` (start position, end position) train it with one
    `SparseCategoricalCrossentropy(from_logits=True)`.

    Args:
        kernel_initializer: str or initializer for the projection. Defaults
            to `"glorot_uniform"`.
        mask_value: float. Logit of padded positions; a large negative
            number. Defaults to `-1e9`.
        **kwargs: `name`, `dtype`, `trainable` and other `Layer` arguments.
            Use `dtype="float32"` under mixed precision.

    Returns:
        Logits `[batch, 2, length]`: `[:, 0]` the start logits, `[:, 1]` the
        end logits.

    Example:
    >>> head = SpanHead()
    >>> tuple(head(np.zeros((1, 5, 8)), padding_mask=np.array([[1, 1, 1, 0, 0]])).shape)
    (1, 2, 5)
    """

    def __init__(self, kernel_initializer="glorot_uniform", mask_value=-1e9, **kwargs):
        super().__init__(**kwargs)
        if isinstance(mask_value, bool) or not isinstance(mask_value, (int, float)) or not (
            mask_value < 0
        ):
            raise ValueError(
                f"`mask_value` must be a negative number. Received: mask_value={mask_value!r}"
            )
        self.mask_value = float(mask_value)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.supports_masking = True

    def build(self, inputs_shape):
        self.dense = keras.layers.Dense(
            2, kernel_initializer=self.kernel_initializer, dtype=self.dtype_policy, name="logits"
        )
        self.dense.build(inputs_shape)
        self.built = True

    def call(self, inputs, mask=None, padding_mask=None):
        if padding_mask is None:
            padding_mask = mask
        logits = ops.transpose(self.dense(inputs), (0, 2, 1))
        if padding_mask is not None:
            keep = ops.expand_dims(ops.cast(padding_mask, "bool"), axis=1)
            logits = ops.where(keep, logits, ops.cast(self.mask_value, logits.dtype))
        return logits

    def compute_mask(self, inputs, mask=None, padding_mask=None):
        return None

    def compute_output_shape(self, inputs_shape):
        return (inputs_shape[0], 2, inputs_shape[1])

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "mask_value": self.mask_value,
            }
        )
        return config
