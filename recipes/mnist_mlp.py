"""Train the quickstart MLP on MNIST or Fashion-MNIST and export it.

    python recipes/mnist_mlp.py                      # MNIST, via TFDS
    python recipes/mnist_mlp.py --dataset=fashion_mnist --data_dir=data/tfds --download=false
"""

from absl import flags

from modelzoo import recipe
from modelzoo.tasks import image_classification


# Rows of `make reproduce` (benchmarks/reproduce.py): the flags beyond
# --data_dir/--seed, the summary metric, the published reference and a floor.
REPRODUCE = [
    dict(run="mnist_mlp", dataset="mnist", split="test (10,000)",
         flags=["--manual_dir={manual}"], metric="accuracy", floor=0.980,
         reference="~0.98 in 5 epochs",
         source="TF quickstart (tensorflow.org/tutorials/quickstart/beginner)"),
    dict(run="fashion_mnist_mlp", dataset="fashion_mnist", split="test (10,000)",
         flags=["--dataset=fashion_mnist"], metric="accuracy",
         reference="0.900 for a larger MLP (256-128-64)",
         source="Zalando fashion-mnist benchmark table"),
]


def define_flags(flag_values=flags.FLAGS):
    fv = dict(flag_values=flag_values)
    recipe.define_common_flags(
        dataset="mnist",
        datasets=image_classification.DATASETS,
        epochs=12,
        batch_size=512,
        learning_rate=6e-3,
        flag_values=flag_values,
        steps_per_execution=50,
    )
    flags.DEFINE_list("hidden_units", ["128"], "Widths of the hidden layers.", **fv)
    flags.DEFINE_float("dropout", 0.2, "Dropout after each hidden layer, in [0, 1).", **fv)


def run(flags_obj, datasets_override=None, strategy_override=None):
    """Trains, evaluates and exports; returns the summary dict."""
    model_kwargs = dict(
        hidden_units=recipe.int_list("hidden_units", flags_obj.hidden_units),
        dropout=flags_obj.dropout,
    )
    return image_classification.run(
        flags_obj, "mlp", model_kwargs, datasets_override, strategy_override
    )


if __name__ == "__main__":
    define_flags()
    recipe.app_run(run)
