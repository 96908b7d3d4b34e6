"""SavedModel export of image classifiers: raw uint8 pixels or encoded image bytes in."""

import keras
import numpy as np
import tensorflow as tf

from modelzoo.export.archive import write_archive
from modelzoo.export.base import ExportModule, Target, publish
from modelzoo.export.classifier_head import (
    check_class_names,
    classifier_contract,
    classifier_outputs,
    expected_classifier_outputs,
)
from modelzoo.pixels import decode_and_resize


def image_contract(model):
    """The `serving_default` contract of `export_image_classifier(model, ...)`.

    Args:
        model: a `keras.Model` mapping `[batch, *shape]` pixels to logits.

    Returns:
        A dict for `verify.check_signature`.
    """
    input_shape = [None] + list(model.input_shape[1:])
    return classifier_contract("images", "uint8", input_shape, model.output_shape[-1])


def export_image_classifier(model, class_names, path):
    """Writes a TF Serving SavedModel that classifies raw uint8 images.

    The `serving_default` signature takes `images`: uint8
    `[batch, *model.input_shape[1:]]` (e.g. `[batch, 28, 28, 1]`), the pixels
    exactly as TFDS yields them; they are cast to float32 in the graph and
    the model rescales them itself (build it with `rescale=1 / 255`). Outputs:
    `probabilities` float32 `[batch, num_classes]` (softmax of the logits),
    `class_ids` int64 `[batch]` (argmax of the logits) and `labels` string
    `[batch]` (`class_names[class_id]`).

    A TF Serving REST request has one instance per image, the raw nested
    list, since the signature has a single input:
    `{"instances": [[[[0], [12], ...], ...]]}`.

    Args:
        model: a built `keras.Model` taking float pixels and returning logits
            `[batch, num_classes]`.
        class_names: sequence of `num_classes` str, e.g. `"Ankle boot"`.
        path: str. Directory to write; it must be empty or not exist.

    Returns:
        `path`.

    Raises:
        ValueError: if `class_names` does not match the model's logits.
    """
    names = check_class_names(class_names, model.output_shape[-1])
    input_shape = (None,) + tuple(model.input_shape[1:])

    def serve(images):
        # Signatures do not enforce shapes; without this a flattening model
        # would silently accept, say, [batch, 28, 28].
        images = tf.ensure_shape(images, input_shape)
        logits = model(tf.cast(images, tf.float32), training=False)
        return classifier_outputs(logits, names)

    return write_archive(path, model, serve, [("images", tf.uint8, input_shape)])


def expected_image_outputs(model, class_names, images):
    """What the exported signature must return for `images`, from the model.

    Args:
        model: the in-memory `keras.Model`.
        class_names: sequence of str.
        images: uint8 array `[batch, *input_shape]`.

    Returns:
        A dict name → numpy array.
    """
    logits = keras.ops.convert_to_numpy(
        model(np.asarray(images).astype("float32"), training=False)
    )
    return expected_classifier_outputs(logits, list(class_names))




def image_size(model):
    """`(height, width)` of a model taking `[batch, height, width, 3]` pixels."""
    shape = tuple(model.input_shape[1:])
    if len(shape) != 3 or shape[2] != 3 or None in shape:
        raise ValueError(
            f"The model must take RGB images [batch, height, width, 3]. Received: {shape}"
        )
    return shape[:2]


def bytes_contract(model):
    """The `serving_default` contract of `export_image_bytes_classifier(model, ...)`."""
    return classifier_contract("images", "string", [None], model.output_shape[-1])


def export_image_bytes_classifier(model, class_names, path):
    """Writes a TF Serving SavedModel that classifies encoded image files.

    The `serving_default` signature takes `images`: string `[batch]`, each
    the bytes of one image file (JPEG, PNG, GIF or BMP, any size, color or
    gray). Each is decoded (`tf.io.decode_image(..., channels=3,
    expand_animations=False)`) and resized to the model's input size in the
    graph (`tf.map_fn`), then classified. Outputs: `probabilities` float32
    `[batch, num_classes]`, `class_ids` int64 `[batch]`, `labels` string
    `[batch]`. Bytes that are not an image fail the call with
    InvalidArgument; an empty batch returns empty outputs.

    A TF Serving REST request sends binary strings base64-encoded under a
    `b64` key: `{"instances": [{"b64": "<base64 of the JPEG>"}]}`.

    Args:
        model: a built `keras.Model` taking float pixels `[batch, h, w, 3]`
            in [0, 255] (e.g. `build_transfer_classifier`) and returning
            logits `[batch, num_classes]`.
        class_names: sequence of `num_classes` str.
        path: str. Directory to write; it must be empty or not exist.

    Returns:
        `path`.

    Raises:
        ValueError: if `class_names` or the input shape do not fit.
    """
    names = check_class_names(class_names, model.output_shape[-1])
    size = image_size(model)

    def serve(images):
        images = tf.ensure_shape(images, [None])
        pixels = tf.map_fn(
            lambda data: decode_and_resize(data, size),
            images,
            fn_output_signature=tf.TensorSpec(size + (3,), tf.float32),
        )
        # TF's Conv2D passes an empty batch through with the input's shape
        # ([0, h, w, 3]), which the next BatchNorm cannot broadcast; an
        # empty request skips the model instead.
        logits = tf.cond(
            tf.size(images) > 0,
            lambda: tf.cast(model(pixels, training=False), tf.float32),
            lambda: tf.zeros([0, len(names)], tf.float32),
        )
        return classifier_outputs(logits, names)

    return write_archive(path, model, serve, [("images", tf.string, [None])])


def expected_bytes_outputs(model, class_names, images):
    """What the exported signature must return for `images`, from the model.

    Args:
        model: the in-memory `keras.Model`.
        class_names: sequence of str.
        images: sequence of bytes (encoded image files).

    Returns:
        A dict name → numpy array.
    """
    size = image_size(model)
    pixels = np.stack([decode_and_resize(tf.constant(data), size).numpy() for data in images])
    logits = keras.ops.convert_to_numpy(model(pixels, training=False))
    return expected_classifier_outputs(logits, list(class_names))



class ImageClassifierExport(ExportModule):
    """An image classifier's export, taking pixels or encoded image files.

    `input_type="pixels"` serves `export_image_classifier`'s signature
    (uint8 `images` `[batch, *input_shape]`); `"bytes"` serves
    `export_image_bytes_classifier`'s (string `images` `[batch]`).

    Args:
        model: a built `keras.Model` returning logits `[batch, num_classes]`.
        class_names: sequence of `num_classes` str.
        input_type: `"pixels"` or `"bytes"`.
        example: real inputs to check the export with (uint8 pixels, or a
            sequence of encoded image bytes); defaults to seeded random ones.
        rtol, atol: float tolerances, or None for the input type's own.

    Raises:
        ValueError: bad `input_type`, or `class_names`, input shape or
            `example` that do not fit the model.

    Example:
        >>> module = ImageClassifierExport(model, names, input_type="bytes")  # doctest: +SKIP
        >>> publish(module, Target("saved_models", "flowers"))  # doctest: +SKIP
    """

    INPUT_TYPES = ("pixels", "bytes")

    def __init__(self, model, class_names, input_type="pixels", example=None, rtol=None,
                 atol=None):
        if input_type not in self.INPUT_TYPES:
            raise ValueError(
                f"input_type must be one of {list(self.INPUT_TYPES)}, got {input_type!r}")
        if input_type == "bytes":
            # Decoding and resizing round differently from the model's own pixels.
            rtol, atol = (1e-4 if rtol is None else rtol), (1e-5 if atol is None else atol)
        super().__init__(model, rtol, atol)
        self.class_names = check_class_names(class_names, model.output_shape[-1])
        self.input_type = input_type
        self.kind = "image" if input_type == "pixels" else "image_bytes"
        self._example = _pixels_example(model, example) if input_type == "pixels" else (
            _bytes_example(model, example))

    def write(self, path):
        export = export_image_classifier if self.input_type == "pixels" else (
            export_image_bytes_classifier)
        return export(self.model, self.class_names, path)

    def contract(self):
        if self.input_type == "pixels":
            return image_contract(self.model)
        return bytes_contract(self.model)

    def example(self):
        return {"images": self._example}

    def expected(self, example):
        expected = expected_image_outputs if self.input_type == "pixels" else (
            expected_bytes_outputs)
        return expected(self.model, self.class_names, example["images"])


def publish_image_classifier(
    model, class_names, export_dir, name, version=None, example=None, timeout=600,
    rtol=1e-5, atol=1e-6, card=None,
):
    """`publish` of `ImageClassifierExport(model, class_names, "pixels", example)`."""
    module = ImageClassifierExport(model, class_names, "pixels", example, rtol, atol)
    return publish(module, Target(export_dir, name, version), card, timeout)


def publish_image_bytes_classifier(
    model, class_names, export_dir, name, version=None, example=None, timeout=600, card=None
):
    """`publish` of `ImageClassifierExport(model, class_names, "bytes", example)`."""
    module = ImageClassifierExport(model, class_names, "bytes", example)
    return publish(module, Target(export_dir, name, version), card, timeout)


def _pixels_example(model, example):
    if example is None:
        shape = (4,) + tuple(model.input_shape[1:])
        example = np.random.default_rng(0).integers(0, 256, shape).astype("uint8")
    return _as_pixels(example)


def _bytes_example(model, example):
    image_size(model)
    if example is None:
        rng = np.random.default_rng(0)
        example = [
            tf.io.encode_jpeg(rng.integers(0, 256, (50, 70, 3), dtype=np.uint8)).numpy(),
            tf.io.encode_png(rng.integers(0, 256, (20, 16, 1), dtype=np.uint8)).numpy(),
        ]
    images = np.empty(len(example), dtype=object)
    images[:] = [bytes(data) for data in example]
    return images


def _as_pixels(images):
    images = np.asarray(images)
    if images.dtype != np.uint8 and (
        images.dtype.kind not in "iu" or images.min(initial=0) < 0 or images.max(initial=0) > 255
    ):
        raise ValueError(
            "`example` must hold raw pixels: uint8 or integers in [0, 255]. "
            f"Received dtype {images.dtype}."
        )
    return images.astype(np.uint8)
