"""Image classifier on a pretrained `keras.applications` backbone."""

import dataclasses
import hashlib
import os
from typing import Optional

import keras

from modelzoo import checks
from modelzoo.config import field
from modelzoo.errors import UsageError, first_line
from modelzoo.experiment_config import ModelConfig
from modelzoo.layers import ImageNetPreprocessing
from modelzoo.network import network_reachable
from modelzoo.registry import register_model

__all__ = ["build_transfer_classifier"]

_WEIGHTS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/"

# name → (application, preprocessing mode, ImageNet "no top" weights file).
BACKBONES = {
    "resnet50": (
        keras.applications.ResNet50,
        "caffe",
        "resnet/resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
    ),
    "mobilenet_v2": (
        keras.applications.MobileNetV2,
        "tf",
        "mobilenet_v2/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5",
    ),
}


def file_sha256(path):
    """The hex SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def make_backbone(backbone, input_shape, weights="imagenet", weights_sha256=None):
    """Builds a headless, average-pooled `keras.applications` backbone.

    Args:
        backbone: str. A key of `BACKBONES`.
        input_shape: tuple `(height, width, 3)`.
        weights: `"imagenet"` (downloads, or uses Keras's cache), a path to
            a local weights file (e.g. the `..._notop.h5` Keras downloads),
            or None for random initialization.
        weights_sha256: str or None. Expected SHA-256 (hex) of a local file.

    Returns:
        A `keras.Model` named `"backbone"` mapping preprocessed images to
        pooled features `[batch, channels]`.

    Raises:
        ValueError: one line, naming the problem: no network for
            `"imagenet"`, a missing file, a hash mismatch, or weights that do
            not fit the backbone.
    """
    application, _, filename = BACKBONES[backbone]
    kwargs = dict(include_top=False, input_shape=input_shape, pooling="avg", name="backbone")
    if weights is None:
        return application(weights=None, **kwargs)
    if weights == "imagenet":
        url = _WEIGHTS_URL + filename
        cached = os.path.join(os.path.expanduser("~"), ".keras", "models", os.path.basename(url))
        hint = (
            f"download {url} on a machine with network and pass weights='/path/to/"
            f"{os.path.basename(url)}' (a local file), or weights=None to train from scratch"
        )
        if not os.path.exists(cached) and not network_reachable():
            raise ValueError(f"weights='imagenet' needs a download and there is no network; {hint}")
        try:
            return application(weights="imagenet", **kwargs)
        except Exception as e:  # noqa: BLE001 - any download failure is one line.
            raise ValueError(
                f"weights='imagenet' could not be loaded ({first_line(e)}); {hint}"
            ) from None
    if not isinstance(weights, (str, os.PathLike)):
        raise ValueError(
            "`weights` must be 'imagenet', a path to a weights file or None. "
            f"Received: weights={weights!r}"
        )
    path = os.fspath(weights)
    if not os.path.isfile(path):
        raise ValueError(f"`weights` file {path} does not exist (or is not a file)")
    if weights_sha256 is not None:
        actual = file_sha256(path)
        if actual != str(weights_sha256).strip().lower():
            raise ValueError(
                f"`weights` file {path} has SHA-256 {actual}, expected {weights_sha256} "
                "(weights_sha256); the file is corrupt or not the one intended"
            )
    model = application(weights=None, **kwargs)
    try:
        model.load_weights(path)
    except Exception as e:  # noqa: BLE001 - h5py, shape and format errors
        raise ValueError(
            f"`weights` file {path} does not fit a headless {backbone}: {first_line(e)}"
        ) from None
    return model


# `weights=None` on purpose, against the builder's "imagenet": a registered
# name builds offline, with no download, as timm's `create_model` does
# (`pretrained=False`); `get_model(..., weights="imagenet")` asks for them.
# (`get_model` drops None overrides, so only the entry can say None.)
@register_model("transfer_classifier", num_classes=5, input_shape=(64, 64, 3), weights=None)
def build_transfer_classifier(
    num_classes,
    backbone="resnet50",
    input_shape=(224, 224, 3),
    weights="imagenet",
    weights_sha256=None,
    trainable_backbone=False,
    dropout=0.2,
    name="transfer_classifier",
    dtype=None,
):
    """Builds pixels → ImageNet preprocessing → backbone → dropout → logits.

    The input is RGB pixels in [0, 255] (float; uint8 values cast). The
    backbone's own `preprocess_input` runs inside the model
    (`ImageNetPreprocessing`, layer `preprocess`), so exports take raw
    pixels. The backbone (layer `backbone`, `include_top=False`,
    `pooling="avg"`) is always called with `training=False`: its
    BatchNormalization layers stay in inference mode even when some of its
    layers are unfrozen for fine-tuning, as the Keras transfer learning
    guide prescribes.

    Args:
        num_classes: int. Number of logits.
        backbone: str. `"resnet50"` or `"mobilenet_v2"`. Defaults to
            `"resnet50"`.
        input_shape: tuple `(height, width, 3)`, each side at least 32.
            Defaults to `(224, 224, 3)`.
        weights: `"imagenet"`, a local weights file path, or None (random).
            `"imagenet"` downloads through Keras; without network it fails
            with a one-line `ValueError` telling to pass a local file.
            Defaults to `"imagenet"`.
        weights_sha256: str or None. With a local file, its expected SHA-256;
            a mismatch is a `ValueError` naming the file and both hashes.
        trainable_backbone: bool. Whether the backbone's weights train.
            Defaults to `False` (only the head trains).
        dropout: float in [0, 1). Dropout before the logits. Defaults to `0.2`.
        name: str. Model name. Defaults to `"transfer_classifier"`.
        dtype: dtype or policy for the preprocessing and dropout layers; the
            backbone follows the global policy; the logits stay float32.

    Returns:
        An uncompiled `keras.Model` mapping `[batch, height, width, 3]` pixels
        to logits `[batch, num_classes]`.

    Example:
    >>> model = build_transfer_classifier(5, input_shape=(64, 64, 3), weights=None)
    >>> tuple(model(np.zeros((2, 64, 64, 3))).shape)
    (2, 5)
    """
    checks.positive_int("num_classes", num_classes)
    if backbone not in BACKBONES:
        raise ValueError(
            f"`backbone` must be one of {sorted(BACKBONES)}. Received: backbone={backbone!r}"
        )
    input_shape = checks.positive_ints("input_shape", input_shape)
    if len(input_shape) != 3 or input_shape[2] != 3 or min(input_shape[:2]) < 32:
        raise ValueError(
            "`input_shape` must be (height, width, 3) with sides of at least 32. "
            f"Received: input_shape={input_shape!r}"
        )
    if not isinstance(trainable_backbone, bool):
        raise ValueError(
            "`trainable_backbone` must be a bool. "
            f"Received: trainable_backbone={trainable_backbone!r}"
        )
    checks.rate("dropout", dropout)

    features = make_backbone(backbone, input_shape, weights, weights_sha256)
    features.trainable = trainable_backbone
    images = keras.Input(shape=input_shape, name="images")
    x = ImageNetPreprocessing(BACKBONES[backbone][1], dtype=dtype, name="preprocess")(images)
    x = features(x, training=False)
    x = keras.layers.Dropout(dropout, dtype=dtype, name="dropout")(x)
    logits = keras.layers.Dense(num_classes, dtype="float32", name="logits")(x)
    return keras.Model(images, logits, name=name)


def unfreeze_top_layers(model, count):
    """Makes the top `count` layers of `model`'s backbone trainable.

    BatchNormalization layers stay frozen (and, as the backbone is called
    with `training=False`, in inference mode). Recompile the model after.

    Args:
        model: a `build_transfer_classifier` model.
        count: int ≥ 0. Number of backbone layers, from the top.

    Returns:
        The number of weights that became trainable.
    """
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ValueError(f"`count` must be an integer >= 0. Received: count={count!r}")
    backbone = model.get_layer("backbone")
    backbone.trainable = True
    layers = backbone.layers
    top = set(id(layer) for layer in layers[len(layers) - count :]) if count else set()
    for layer in layers:
        frozen = id(layer) not in top or isinstance(layer, keras.layers.BatchNormalization)
        layer.trainable = not frozen
    return sum(len(layer.trainable_weights) for layer in layers)


@dataclasses.dataclass
class TransferConfig(ModelConfig):
    """`build_transfer_classifier`'s arguments a recipe sets."""

    registered_name = "transfer_classifier"
    backbone: str = field("resnet50", "Backbone: resnet50 or mobilenet_v2.", choices=BACKBONES)
    weights: str = field("imagenet", "'imagenet', a local weights file, or 'none'.")
    weights_sha256: Optional[str] = field(None, "Expected SHA-256 of a local --weights file.")
    dropout: float = field(0.2, "Dropout before the logits, in [0, 1).", minimum=0, below=1)

    def check(self):
        if self.weights.lower() not in ("imagenet", "none") and not os.path.isfile(self.weights):
            raise UsageError(
                f"--weights={self.weights} is not a file; pass a weights file, 'imagenet' or 'none'")

    def builder_kwargs(self):
        kwargs = super().builder_kwargs()
        kwargs["weights"] = None if self.weights.lower() == "none" else self.weights
        return kwargs
