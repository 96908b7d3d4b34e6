"""Train a small Vision Transformer on MNIST or Fashion-MNIST and export it.

    python recipes/mnist_vit.py
    python recipes/mnist_vit.py --data_dir=data/real --download=false --seed=0
"""

from absl import flags

from modelzoo import recipe
from modelzoo.tasks import image_classification

# `make reproduce`'s row for this recipe (the keys of benchmarks/reproduce.py's RUNS).
REPRODUCE = [
    dict(
        run="mnist_vit", dataset="mnist", split="test (10,000)",
        flags=["--manual_dir={manual}"], metric="accuracy", floor=0.97,
        reference="0.963 after 5 epochs (7x7 patches, width 16, 4 pre-norm blocks, "
        "class token, Adam), a from-scratch PyTorch ViT; the floor is issue #13's 0.97",
        source="github.com/FANZ3R/Vision_Transformer_From_scratch (README results table)",
    )
]


def define_flags(flag_values=flags.FLAGS):
    fv = dict(flag_values=flag_values)
    recipe.define_common_flags(
        dataset="mnist",
        datasets=image_classification.DATASETS,
        # 7x7 patches (16 tokens) at width 64. On real MNIST (seed 0), a
        # 3-epoch run reached test accuracy 0.953 / 0.970 / 0.978 after epochs
        # 1 / 2 / 3; these 4 epochs give 0.9809 (export: 0.9809) in 5.3 min of
        # wall time but under 2 CPU-minutes, on 2 cores shared with other jobs.
        # 4x4 patches (49 tokens) cost twice the time per epoch. The 4th
        # epoch buys a margin over the 0.97 floor. --mixed_precision (bfloat16)
        # gave the same accuracy at ~1.3x the speed on avx512_bf16.
        epochs=4,
        batch_size=128,
        learning_rate=1e-3,
        flag_values=flag_values,
        steps_per_execution=10,
    )
    # AdamW with a short warm-up, as usual for a post-norm Transformer;
    # batch 256 at lr 2e-3 gave the same accuracy per epoch.
    recipe.define_optimizer_flags(
        warmup_steps=200, weight_decay=0.05, flag_values=flag_values
    )
    flags.DEFINE_integer("patch_size", 7, "Side of the square patches; divides 28.", **fv)
    flags.DEFINE_integer("hidden_dim", 64, "Patch embedding and hidden size.", **fv)
    flags.DEFINE_integer("num_layers", 4, "Encoder blocks.", **fv)
    flags.DEFINE_integer("num_heads", 4, "Attention heads; divides --hidden_dim.", **fv)
    flags.DEFINE_integer("mlp_dim", 128, "Feed-forward width of each block.", **fv)
    flags.DEFINE_float("dropout", 0.0, "Dropout rate, in [0, 1).", **fv)


def run(flags_obj, datasets_override=None, strategy_override=None):
    """Trains, evaluates and exports; returns the summary dict."""
    model_kwargs = dict(
        patch_size=flags_obj.patch_size,
        hidden_dim=flags_obj.hidden_dim,
        num_layers=flags_obj.num_layers,
        num_heads=flags_obj.num_heads,
        mlp_dim=flags_obj.mlp_dim,
        dropout=flags_obj.dropout,
    )
    return image_classification.run(
        flags_obj, "vit", model_kwargs, datasets_override, strategy_override
    )


if __name__ == "__main__":
    define_flags()
    recipe.app_run(run)
