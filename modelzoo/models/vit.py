"""Vision Transformer (ViT) image classifier, small enough for MNIST on a CPU."""

import dataclasses

import keras

from modelzoo import checks
from modelzoo.config import field
from modelzoo.experiment_config import ModelConfig
from modelzoo.layers.patch_embedding import PatchEmbedding
from modelzoo.models.common import encoder_stack
from modelzoo.registry import register_model

__all__ = ["build_vit"]


@register_model("vit", input_shape=(28, 28, 1), num_classes=10, rescale=1 / 255)
def build_vit(
    input_shape,
    num_classes,
    patch_size=7,
    hidden_dim=64,
    num_layers=4,
    num_heads=4,
    mlp_dim=128,
    dropout=0.0,
    name="vit",
    rescale=None,
    dtype=None,
):
    """Builds patches → Transformer encoder blocks → pooling → logits.

    Images `[batch, h, w, c]` → (rescale) → `PatchEmbedding` (non-overlapping
    `patch_size` patches projected to `hidden_dim`, plus learned positions)
    → `num_layers` `TransformerEncoder` blocks (post-norm, GELU) → global
    average pooling over the patches → LayerNorm → Dense(num_classes).

    Args:
        input_shape: tuple `(height, width, channels)`; height and width
            divisible by `patch_size`.
        num_classes: int. Number of logits.
        patch_size: int. Side of the square patches. Defaults to `7`
            (16 patches of a 28×28 image).
        hidden_dim: int. Patch embedding and hidden size; divisible by
            `num_heads`. Defaults to `64`.
        num_layers: int. Encoder blocks. Defaults to `4`.
        num_heads: int. Attention heads. Defaults to `4`.
        mlp_dim: int. Feed-forward width of each block. Defaults to `128`.
        dropout: float in [0, 1). Dropout after the embedding, on the
            residual branches and before the logits. Defaults to `0.`.
        name: str. Model name. Defaults to `"vit"`.
        rescale: float or None. If set, inputs are multiplied by it first,
            so the model takes raw pixels (e.g. `1 / 255`). Defaults to `None`.
        dtype: dtype or policy for the hidden layers; the logits stay float32.

    Returns:
        An uncompiled `keras.Model` mapping `[batch, h, w, c]` to logits
        `[batch, num_classes]`.

    Example:
    >>> model = build_vit((28, 28, 1), 10, patch_size=7, hidden_dim=16, num_layers=1)
    >>> tuple(model(np.zeros((2, 28, 28, 1))).shape)
    (2, 10)

    References:
        Dosovitskiy et al., 2021, https://arxiv.org/abs/2010.11929
    """
    input_shape = checks.image_shape("input_shape", input_shape)
    checks.positive_int("num_classes", num_classes)
    checks.positive_int("patch_size", patch_size)
    if input_shape[0] % patch_size or input_shape[1] % patch_size:
        raise ValueError(
            "`input_shape` height and width must be divisible by `patch_size`. "
            f"Received: input_shape={input_shape}, patch_size={patch_size}"
        )
    checks.transformer_sizes(hidden_dim, num_heads, mlp_dim, num_layers, dropout,
                             embed_name="hidden_dim", ff_name="mlp_dim")

    # === Layers ===
    inputs = keras.Input(shape=input_shape, name="inputs")
    x = inputs
    if rescale is not None:
        x = keras.layers.Rescaling(rescale, dtype=dtype, name="rescale")(x)
    # No class token: the head pools the patches instead (see below).
    x = PatchEmbedding(
        input_shape[:2], patch_size, hidden_dim, dtype=dtype, name="patch_embedding"
    )(x)
    x = keras.layers.Dropout(dropout, dtype=dtype, name="embedding_dropout")(x)
    x = encoder_stack(x, num_layers, intermediate_dim=mlp_dim, num_heads=num_heads, dropout=dropout,
                      activation="gelu", dtype=dtype)
    # Global average pooling rather than a class token: on real MNIST
    # (7x7 patches, seed 0) it gave test accuracy 0.970 / 0.978 after 2 / 3
    # epochs against the class token's 0.967 / 0.977, with one token fewer
    # to attend over; Beyer et al. 2022 ("Better plain ViT baselines") also
    # pool. The blocks are post-norm, so each token is already normalized;
    # the LayerNorm is on the pooled vector, whose scale averaging changes.
    x = keras.layers.GlobalAveragePooling1D(dtype=dtype, name="pooling")(x)
    x = keras.layers.LayerNormalization(epsilon=1e-5, dtype=dtype, name="head_norm")(x)
    x = keras.layers.Dropout(dropout, dtype=dtype, name="dropout")(x)
    logits = keras.layers.Dense(num_classes, dtype="float32", name="logits")(x)
    return keras.Model(inputs, logits, name=name)


@dataclasses.dataclass
class VitConfig(ModelConfig):
    """`build_vit`'s arguments a recipe sets."""

    registered_name = "vit"
    patch_size: int = field(7, "Side of the square patches; divides the image side.", minimum=1)
    hidden_dim: int = field(64, "Patch embedding and hidden size.", minimum=1)
    num_layers: int = field(4, "Encoder blocks.", minimum=1)
    num_heads: int = field(4, "Attention heads; divides --hidden_dim.", minimum=1)
    mlp_dim: int = field(128, "Feed-forward width of each block.", minimum=1)
    dropout: float = field(0.0, "Dropout rate, in [0, 1).", minimum=0, below=1)
