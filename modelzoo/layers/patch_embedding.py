"""Image patches, projected, with an optional class token and learned positions."""

import keras
from keras import ops

from modelzoo import checks

__all__ = ["PatchEmbedding"]


@keras.saving.register_keras_serializable(package="modelzoo")
class PatchEmbedding(keras.layers.Layer):
    """Turns images into a sequence of patch embeddings, as in ViT.

    The image `[batch, height, width, channels]` is cut into non-overlapping
    `patch_size` × `patch_size` patches, each linearly projected to
    `hidden_dim` (one `Conv2D` whose kernel and stride are both `patch_size`),
    row by row into `[batch, num_patches, hidden_dim]`. With
    `use_class_token=True` a learned class token is prepended, as in BERT's
    `[CLS]`. A learned position embedding, one vector per token, is added.

    Args:
        image_size: int or `(height, width)`. The input image size; each side
            must be divisible by `patch_size`.
        patch_size: int. Side of the square patches.
        hidden_dim: int. Size of each patch embedding.
        use_class_token: bool. Whether to prepend a learned class token.
            Defaults to `False`.
        kernel_initializer: str or initializer for the patch projection.
            Defaults to `"glorot_uniform"`.
        embeddings_initializer: str or initializer for the class token and the
            position embedding. Defaults to `"random_normal"`.
        **kwargs: `name`, `dtype`, `trainable` and other `Layer` arguments.

    Returns:
        A float tensor `[batch, num_tokens, hidden_dim]`, where `num_tokens`
        is `(height // patch_size) * (width // patch_size)`, plus one with
        the class token (at index 0).

    Example:
    >>> layer = PatchEmbedding(28, patch_size=7, hidden_dim=8, use_class_token=True)
    >>> tuple(layer(np.zeros((2, 28, 28, 1))).shape)
    (2, 17, 8)

    References:
        Dosovitskiy et al., 2021, https://arxiv.org/abs/2010.11929
    """

    def __init__(
        self,
        image_size,
        patch_size,
        hidden_dim,
        use_class_token=False,
        kernel_initializer="glorot_uniform",
        embeddings_initializer="random_normal",
        **kwargs,
    ):
        super().__init__(**kwargs)
        image_size = checks.positive_ints("image_size", image_size)
        if len(image_size) == 1:
            image_size = image_size * 2
        if len(image_size) != 2:
            raise ValueError(
                "`image_size` must be an int or (height, width). "
                f"Received: image_size={image_size!r}"
            )
        self.patch_size = checks.positive_int("patch_size", patch_size)
        for side in image_size:
            if side % patch_size:
                raise ValueError(
                    "`image_size` must be divisible by `patch_size` on each side. "
                    f"Received: image_size={image_size}, patch_size={patch_size}"
                )
        self.image_size = image_size
        self.hidden_dim = checks.positive_int("hidden_dim", hidden_dim)
        self.use_class_token = bool(use_class_token)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.embeddings_initializer = keras.initializers.get(embeddings_initializer)
        self.num_patches = (image_size[0] // patch_size) * (image_size[1] // patch_size)
        self.num_tokens = self.num_patches + int(self.use_class_token)
        self.projection = keras.layers.Conv2D(
            hidden_dim,
            patch_size,
            strides=patch_size,
            padding="valid",
            kernel_initializer=self.kernel_initializer,
            dtype=self.dtype_policy,
            name="patch_projection",
        )

    def build(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(
                "`PatchEmbedding` takes images [batch, height, width, channels]. "
                f"Received: input_shape={tuple(input_shape)}"
            )
        if None not in input_shape[1:3] and tuple(input_shape[1:3]) != self.image_size:
            raise ValueError(
                "The input's height and width must equal `image_size`. "
                f"Received: image_size={self.image_size}, input_shape={tuple(input_shape)}"
            )
        self.projection.build(input_shape)
        if self.use_class_token:
            self.class_token = self.add_weight(
                shape=(1, 1, self.hidden_dim),
                initializer=self.embeddings_initializer,
                name="class_token",
            )
        self.position_embedding = self.add_weight(
            shape=(self.num_tokens, self.hidden_dim),
            initializer=self.embeddings_initializer,
            name="position_embedding",
        )
        self.built = True

    def call(self, inputs):
        patches = self.projection(inputs)
        batch = ops.shape(patches)[0]
        x = ops.reshape(patches, (batch, self.num_patches, self.hidden_dim))
        if self.use_class_token:
            token = ops.cast(self.class_token, x.dtype)
            x = ops.concatenate(
                [ops.broadcast_to(token, (batch, 1, self.hidden_dim)), x], axis=1
            )
        return x + ops.cast(self.position_embedding, x.dtype)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_tokens, self.hidden_dim)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "image_size": list(self.image_size),
                "patch_size": self.patch_size,
                "hidden_dim": self.hidden_dim,
                "use_class_token": self.use_class_token,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "embeddings_initializer": keras.initializers.serialize(
                    self.embeddings_initializer
                ),
            }
        )
        return config
