"""SavedModel export of image classifiers that take encoded JPEG/PNG bytes."""

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
from modelzoo.pixels import resize


def image_size(model):
    """`(height, width)` of a model taking `[batch, height, width, 3]` pixels."""
    shape = tuple(model.input_shape[1:])
    if len(shape) != 3 or shape[2] != 3 or None in shape:
        raise ValueError(
            f"The model must take RGB images [batch, height, width, 3]. Received: {shape}"
        )
    return shape[:2]


def decode_and_resize(data, size):
    """Encoded bytes (JPEG, PNG, GIF's first frame, BMP) → float32 `[h, w, 3]` pixels.

    Decoding keeps 3 channels (gray is repeated, alpha dropped); the image
    is resized bilinearly (as `keras.utils.image_dataset_from_directory`)
    and rounded to whole pixel values by `modelzoo.pixels.resize`, as the
    training pipelines of `modelzoo.tasks.transfer_classification` are.

    Args:
        data: scalar string tensor.
        size: `(height, width)`.

    Returns:
        float32 `[height, width, 3]` in [0, 255].
    """
    image = tf.io.decode_image(data, channels=3, expand_animations=False)
    return resize(image, size)


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


def publish_image_bytes_classifier(
    model, class_names, export_dir, name, version=None, example=None, timeout=600, card=None
):
    """Exports, verifies in a fresh process and publishes a bytes classifier.

    Args:
        model, class_names: see `export_image_bytes_classifier`.
        export_dir, name, version, timeout, card: see `publish.publish`.
        example: sequence of bytes, real encoded images to check the export
            with; defaults to a seeded random JPEG and PNG of other sizes.

    Returns:
        The path of the published version directory.
    """
    check_class_names(class_names, model.output_shape[-1])
    image_size(model)
    if example is None:
        rng = np.random.default_rng(0)
        example = [
            tf.io.encode_jpeg(rng.integers(0, 256, (50, 70, 3), dtype=np.uint8)).numpy(),
            tf.io.encode_png(rng.integers(0, 256, (20, 16, 1), dtype=np.uint8)).numpy(),
        ]
    images = np.empty(len(example), dtype=object)
    images[:] = [bytes(data) for data in example]
    return publish_export(
        export_image_bytes_classifier, (model, class_names), {"images": images},
        expected_bytes_outputs(model, class_names, images), export_dir, name, version=version,
        contract=bytes_contract(model), rtol=1e-4, atol=1e-5, timeout=timeout, card=card,
    )
