"""Image preprocessing that training and serving share: resized, whole-valued pixels.

The transfer-learning pipelines (`modelzoo.tasks.transfer_classification`)
and the image-bytes export (`modelzoo.export.image`, input type bytes) both feed the
model through these functions, so the pixels trained on are the pixels
served.
"""

import tensorflow as tf

__all__ = ["decode_and_resize", "quantize", "resize"]


def quantize(pixels):
    """Rounds resized float pixels to whole values in [0, 255], as float32."""
    return tf.cast(tf.saturate_cast(tf.round(pixels), tf.uint8), tf.float32)


def resize(image, size):
    """Resizes bilinearly (as `keras.utils.image_dataset_from_directory`), then `quantize`s.

    Args:
        image: `[h, w, 3]` (or batched `[b, h, w, 3]`) pixels in [0, 255], any
            numeric dtype.
        size: `(height, width)`.

    Returns:
        float32 pixels of `size`, whole values in [0, 255].
    """
    return quantize(tf.image.resize(image, size))


def decode_and_resize(data, size):
    """Encoded bytes (JPEG, PNG, GIF's first frame, BMP) → float32 `[h, w, 3]` pixels.

    Decoding keeps 3 channels (gray is repeated, alpha dropped); the image
    is resized bilinearly (as `keras.utils.image_dataset_from_directory`)
    and rounded to whole pixel values by `resize`, as the
    training pipelines of `modelzoo.tasks.transfer_classification` are.

    Args:
        data: scalar string tensor.
        size: `(height, width)`.

    Returns:
        float32 `[height, width, 3]` in [0, 255].
    """
    image = tf.io.decode_image(data, channels=3, expand_animations=False)
    return resize(image, size)
