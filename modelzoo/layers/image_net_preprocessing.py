"""The `keras.applications` input preprocessing, as a serializable layer."""

import keras
from keras import ops

__all__ = ["ImageNetPreprocessing"]

# Per-channel statistics of ImageNet, as `keras.applications` uses them.
_CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
_TORCH_MEAN = (0.485, 0.456, 0.406)
_TORCH_STD = (0.229, 0.224, 0.225)
MODES = ("caffe", "tf", "torch")


@keras.saving.register_keras_serializable(package="modelzoo")
class ImageNetPreprocessing(keras.layers.Layer):
    """Maps RGB pixels in [0, 255] to what an ImageNet backbone expects.

    The same arithmetic as `keras.applications.imagenet_utils.preprocess_input`
    (channels last), inside the model, so an exported model takes raw pixels
    and no `Lambda` layer is needed:
    - `"caffe"` (ResNet50, VGG): RGB → BGR, minus the ImageNet mean per channel.
    - `"tf"` (MobileNetV2, Inception): scaled to [-1, 1].
    - `"torch"` (DenseNet): scaled to [0, 1], normalized per channel.

    Args:
        mode: str. One of `"caffe"`, `"tf"`, `"torch"`. Defaults to `"caffe"`.
        **kwargs: `name`, `dtype`, `trainable` and other `Layer` arguments.

    Returns:
        A float tensor with the input's shape `[batch, height, width, 3]`.

    Example:
    >>> layer = ImageNetPreprocessing("tf")
    >>> layer(np.full((1, 2, 2, 3), 255.0))[0, 0, 0].numpy().tolist()
    [1.0, 1.0, 1.0]
    """

    def __init__(self, mode="caffe", **kwargs):
        super().__init__(**kwargs)
        if mode not in MODES:
            raise ValueError(f"`mode` must be one of {MODES}. Received: mode={mode!r}")
        self.mode = mode

    def build(self, input_shape):
        if input_shape[-1] != 3:
            raise ValueError(
                "`ImageNetPreprocessing` needs RGB inputs [..., 3]. "
                f"Received: input_shape={tuple(input_shape)}"
            )
        self.built = True

    def call(self, inputs):
        x = ops.cast(inputs, self.compute_dtype)
        if self.mode == "tf":
            return x / 127.5 - 1.0
        if self.mode == "torch":
            mean = ops.convert_to_tensor(_TORCH_MEAN, self.compute_dtype)
            std = ops.convert_to_tensor(_TORCH_STD, self.compute_dtype)
            return (x / 255.0 - mean) / std
        return ops.flip(x, axis=-1) - ops.convert_to_tensor(_CAFFE_MEAN_BGR, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"mode": self.mode})
        return config
