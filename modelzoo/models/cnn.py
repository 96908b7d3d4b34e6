"""Two-block convolutional classifier (the seed / PyTorch MNIST CNN)."""

import dataclasses

import keras

from modelzoo import checks
from modelzoo.config import field
from modelzoo.experiment_config import ModelConfig
from modelzoo.registry import register_model

__all__ = ["build_cnn"]


@register_model("cnn", input_shape=(28, 28, 1), num_classes=10, rescale=1 / 255)
def build_cnn(
    input_shape,
    num_classes,
    filters=(32, 64),
    kernel_size=5,
    dense_units=128,
    dropout=0.0,
    name="cnn",
    rescale=None,
    dtype=None,
):
    """Builds [Conv → ReLU → MaxPool] × N → Flatten → Dense → Dense.

    With the defaults: conv5×5(32) → maxpool2 → conv5×5(64) → maxpool2 →
    Dense(128, relu) → Dense(num_classes), as in the seed's CNN.

    Args:
        input_shape: tuple `(height, width, channels)`.
        num_classes: int. Number of logits.
        filters: sequence of ints. Filters of each conv block. Defaults to
            `(32, 64)`.
        kernel_size: int. Square kernel size. Defaults to `5`.
        dense_units: int. Width of the hidden dense layer. Defaults to `128`.
        dropout: float in [0, 1). Dropout before the logits. Defaults to `0.`.
        name: str. Model name. Defaults to `"cnn"`.
        rescale: float or None. If set, inputs are multiplied by it first,
            so the model takes raw pixels (e.g. `1 / 255`). Defaults to `None`.
        dtype: dtype or policy for the hidden layers; the logits stay float32.

    Returns:
        An uncompiled `keras.Model` mapping `[batch, h, w, c]` to logits
        `[batch, num_classes]`.

    Example:
    >>> model = build_cnn((28, 28, 1), 10)
    >>> tuple(model(np.zeros((2, 28, 28, 1))).shape)
    (2, 10)
    """
    input_shape = checks.image_shape("input_shape", input_shape)
    checks.positive_int("num_classes", num_classes)
    filters = checks.positive_ints("filters", filters)
    checks.positive_int("kernel_size", kernel_size)
    checks.positive_int("dense_units", dense_units)
    checks.rate("dropout", dropout)

    inputs = keras.Input(shape=input_shape, name="inputs")
    x = inputs
    if rescale is not None:
        x = keras.layers.Rescaling(rescale, dtype=dtype, name="rescale")(x)
    for i, f in enumerate(filters):
        x = keras.layers.Conv2D(
            f, kernel_size, padding="same", activation="relu", dtype=dtype, name=f"conv_{i}"
        )(x)
        x = keras.layers.MaxPooling2D(2, dtype=dtype, name=f"pool_{i}")(x)
    x = keras.layers.Flatten(dtype=dtype, name="flatten")(x)
    x = keras.layers.Dense(dense_units, activation="relu", dtype=dtype, name="dense")(x)
    x = keras.layers.Dropout(dropout, dtype=dtype, name="dropout")(x)
    logits = keras.layers.Dense(num_classes, dtype="float32", name="logits")(x)
    return keras.Model(inputs, logits, name=name)


@dataclasses.dataclass
class CnnConfig(ModelConfig):
    """`build_cnn`'s arguments a recipe sets."""

    registered_name = "cnn"
    filters: tuple[int, ...] = field((32, 64), "Filters of each conv block.")
    kernel_size: int = field(5, "Side of the square conv kernels.", minimum=1)
    dense_units: int = field(128, "Width of the hidden dense layer.", minimum=1)
    dropout: float = field(0.0, "Dropout before the logits, in [0, 1).", minimum=0, below=1)
