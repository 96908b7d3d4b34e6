"""MNIST and Fashion-MNIST classifiers: the MLP, the CNN and the ViT."""

from modelzoo.configs import register_experiment
from modelzoo.experiment_config import DataConfig, OptimizerConfig, TrainingConfig
from modelzoo.hardware import native_bfloat16
from modelzoo.models.cnn import CnnConfig
from modelzoo.models.mlp import MlpConfig
from modelzoo.models.vit import VitConfig
from modelzoo.tasks.image_classification import ImageClassificationConfig


@register_experiment("mnist_mlp", reproduce=[
    dict(run="mnist_mlp", dataset="mnist", split="test (10,000)",
         flags=["--manual_dir={manual}"], metric="accuracy", floor=0.980,
         reference="~0.98 in 5 epochs",
         source="TF quickstart (tensorflow.org/tutorials/quickstart/beginner)"),
    dict(run="fashion_mnist_mlp", dataset="fashion_mnist", split="test (10,000)",
         flags=["--dataset=fashion_mnist"], metric="accuracy",
         reference="0.900 for a larger MLP (256-128-64)",
         source="Zalando fashion-mnist benchmark table"),
], smoke=dict(epochs=1, batch_size=16))
def mnist_mlp():
    """The TF quickstart MLP, trained in 12 large-batch epochs."""
    return ImageClassificationConfig(
        data=DataConfig(dataset="mnist"),
        model=MlpConfig(hidden_units=(128,), dropout=0.2),
        optimizer=OptimizerConfig(learning_rate=6e-3),
        training=TrainingConfig(epochs=12, batch_size=512, steps_per_execution=50),
    )


@register_experiment("mnist_cnn", reproduce=[
    dict(run="mnist_cnn", dataset="mnist", split="test (10,000)",
         flags=["--manual_dir={manual}"], metric="accuracy", floor=0.992,
         reference="0.9922 in 15 epochs", source="keras-io examples/vision/mnist_convnet"),
], smoke=dict(epochs=1, batch_size=16, filters=(4, 8), dense_units=16))
def mnist_cnn():
    """keras-io's two-block convnet."""
    # bfloat16 convs where the CPU multiplies bfloat16 natively: 1.8x fewer
    # CPU-seconds per epoch on avx512_bf16 (benchmarks/README.md), MNIST test
    # accuracy 0.9939 (seed 0). Elsewhere bfloat16 is emulated and slower.
    return ImageClassificationConfig(
        data=DataConfig(dataset="mnist"),
        model=CnnConfig(filters=(32, 64), dense_units=128, dropout=0.0),
        optimizer=OptimizerConfig(learning_rate=2e-3),
        training=TrainingConfig(epochs=12, batch_size=128, steps_per_execution=10,
                                mixed_precision=native_bfloat16()),
    )


@register_experiment("mnist_vit", reproduce=[
    dict(run="mnist_vit", dataset="mnist", split="test (10,000)",
         flags=["--manual_dir={manual}"], metric="accuracy", floor=0.97,
         reference="0.963 after 5 epochs (7x7 patches, width 16, 4 pre-norm blocks, "
         "class token, Adam), a from-scratch PyTorch ViT; the floor is 0.97",
         source="github.com/FANZ3R/Vision_Transformer_From_scratch (README results table)"),
])
def mnist_vit():
    """A small Vision Transformer: 7x7 patches (16 tokens) at width 64."""
    # On real MNIST (seed 0) epochs 1/2/3 gave test accuracy 0.953/0.970/0.978;
    # 4 epochs give 0.9809. 4x4 patches (49 tokens) cost twice the time per
    # epoch. AdamW with a short warm-up, as usual for a Transformer.
    return ImageClassificationConfig(
        data=DataConfig(dataset="mnist"),
        model=VitConfig(patch_size=7, hidden_dim=64, num_layers=4, num_heads=4, mlp_dim=128,
                        dropout=0.0),
        optimizer=OptimizerConfig(learning_rate=1e-3, warmup_steps=200, weight_decay=0.05),
        training=TrainingConfig(epochs=4, batch_size=128, steps_per_execution=10),
    )
