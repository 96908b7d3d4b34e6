"""SavedModel export of image classifiers that take raw uint8 pixels."""

import keras
import numpy as np
import tensorflow as tf

from modelzoo.export.archive import write_archive
from modelzoo.export.classifier_head import (
    check_class_names,
    classifier_contract,
    classifier_outputs,
    expected_classifier_outputs,
)
from modelzoo.export.publish import publish_export


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


def publish_image_classifier(
    model, class_names, export_dir, name, version=None, example=None, timeout=600,
    rtol=1e-5, atol=1e-6, card=None,
):
    """Exports, verifies in a fresh process and publishes an image classifier.

    Args:
        model, class_names: see `export_image_classifier`.
        export_dir, name, version, timeout, rtol, atol, card: see
            `publish.publish`.
        example: uint8 array `[batch, *input_shape]` of real images to check
            the export with; defaults to 4 seeded random images.

    Returns:
        The path of the published version directory.
    """
    check_class_names(class_names, model.output_shape[-1])
    if example is None:
        shape = (4,) + tuple(model.input_shape[1:])
        example = np.random.default_rng(0).integers(0, 256, shape).astype("uint8")
    pixels = _as_pixels(example)
    return publish_export(
        export_image_classifier, (model, class_names), {"images": pixels},
        expected_image_outputs(model, class_names, pixels), export_dir, name, version=version,
        contract=image_contract(model), timeout=timeout, rtol=rtol, atol=atol, card=card,
    )


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
