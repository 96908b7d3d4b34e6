"""Images of every format an image-bytes export decodes, and their classes."""

import numpy as np
import tensorflow as tf

CLASSES = ["daisy", "roses", "tulips"]


def pixels(n, size=32, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, (n, size, size, 3)).astype("float32")


def encoded_images(seed=0):
    """A JPEG, a PNG, a gray PNG, an RGBA PNG, a GIF frame: all sizes differ."""
    rng = np.random.default_rng(seed)
    image = lambda h, w, c: rng.integers(0, 256, (h, w, c), dtype=np.uint8)
    return [
        tf.io.encode_jpeg(image(50, 70, 3)).numpy(),
        tf.io.encode_png(image(32, 32, 3)).numpy(),
        tf.io.encode_png(image(20, 16, 1)).numpy(),
        tf.io.encode_png(image(40, 33, 4)).numpy(),
        tf.io.encode_jpeg(image(300, 200, 3), quality=50).numpy(),
    ]
