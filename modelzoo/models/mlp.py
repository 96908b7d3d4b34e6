"""Multi-layer perceptron classifier (the TF quickstart model)."""

import dataclasses

import keras

from modelzoo import checks
from modelzoo.config import field
from modelzoo.errors import UsageError
from modelzoo.experiment_config import ModelConfig
from modelzoo.registry import register_model

__all__ = ["build_mlp"]


@register_model("mlp", input_shape=(28, 28, 1), num_classes=10, rescale=1 / 255)
def build_mlp(
    input_shape,
    num_classes,
    hidden_units=(128,),
    dropout=0.2,
    activation="relu",
    name="mlp",
    rescale=None,
    dtype=None,
):
    """Builds Flatten → [Dense → Dropout] × N → Dense(num_classes).

    With the defaults this is the TF quickstart MLP. With `num_classes=1` it
    outputs one logit, for binary classification of tabular features with
    `keras.losses.BinaryCrossentropy(from_logits=True)`.

    Args:
        input_shape: tuple of ints. Shape of one example, e.g. `(28, 28, 1)`
            or `(num_features,)`.
        num_classes: int. Number of logits; 1 for binary classification.
        hidden_units: sequence of ints. Width of each hidden layer. Defaults
            to `(128,)`.
        dropout: float in [0, 1). Dropout after each hidden layer. Defaults
            to `0.2`.
        activation: str. Hidden activation. Defaults to `"relu"`.
        name: str. Model name. Defaults to `"mlp"`.
        rescale: float or None. If set, inputs are multiplied by it first,
            so the model takes raw pixels (e.g. `1 / 255`). Defaults to `None`.
        dtype: dtype or policy for the hidden layers; the logits stay float32.

    Returns:
        An uncompiled `keras.Model` mapping `[batch, *input_shape]` to logits
        `[batch, num_classes]`.

    Example:
    >>> model = build_mlp((28, 28, 1), 10)
    >>> tuple(model(np.zeros((2, 28, 28, 1))).shape)
    (2, 10)
    """
    input_shape = checks.positive_ints("input_shape", input_shape)
    checks.positive_int("num_classes", num_classes)
    hidden_units = checks.positive_ints("hidden_units", hidden_units)
    checks.rate("dropout", dropout)
    keras.activations.get(activation)

    inputs = keras.Input(shape=input_shape, name="inputs")
    x = inputs
    if rescale is not None:
        x = keras.layers.Rescaling(rescale, dtype=dtype, name="rescale")(x)
    x = keras.layers.Flatten(dtype=dtype, name="flatten")(x)
    for i, units in enumerate(hidden_units):
        x = keras.layers.Dense(units, activation=activation, dtype=dtype, name=f"dense_{i}")(x)
        x = keras.layers.Dropout(dropout, dtype=dtype, name=f"dropout_{i}")(x)
    logits = keras.layers.Dense(num_classes, dtype="float32", name="logits")(x)
    return keras.Model(inputs, logits, name=name)


@dataclasses.dataclass
class MlpConfig(ModelConfig):
    """`build_mlp`'s arguments a recipe sets."""

    registered_name = "mlp"
    hidden_units: tuple[int, ...] = field((128,), "Widths of the hidden layers.")
    dropout: float = field(0.2, "Dropout after each hidden layer, in [0, 1).", minimum=0, below=1)
    activation: str = field("relu", "Hidden activation, a Keras name (relu, gelu, ...).")

    def check(self):
        try:
            keras.activations.get(self.activation)
        except ValueError:
            raise UsageError(
                f"--activation={self.activation!r} is not a Keras activation; "
                "use a name such as relu or gelu") from None
