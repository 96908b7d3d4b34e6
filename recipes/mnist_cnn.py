"""Train the two-block CNN on MNIST or Fashion-MNIST and export it.

    python recipes/mnist_cnn.py
    python recipes/mnist_cnn.py --dataset=fashion_mnist --data_dir=data/tfds --download=false
"""

from absl import flags

from modelzoo import recipe
from modelzoo.tasks import image_classification


def define_flags(flag_values=flags.FLAGS):
    fv = dict(flag_values=flag_values)
    recipe.define_common_flags(
        dataset="mnist",
        datasets=image_classification.DATASETS,
        epochs=12,
        batch_size=128,
        learning_rate=2e-3,
        flag_values=flag_values,
        steps_per_execution=10,
    )
    flags.DEFINE_list("filters", ["32", "64"], "Filters of each conv block.", **fv)
    flags.DEFINE_integer("dense_units", 128, "Width of the hidden dense layer.", **fv)
    flags.DEFINE_float("dropout", 0.0, "Dropout before the logits, in [0, 1).", **fv)


def run(flags_obj, datasets_override=None, strategy_override=None):
    """Trains, evaluates and exports; returns the summary dict."""
    model_kwargs = dict(
        filters=recipe.int_list("filters", flags_obj.filters),
        dense_units=flags_obj.dense_units,
        dropout=flags_obj.dropout,
    )
    return image_classification.run(
        flags_obj, "cnn", model_kwargs, datasets_override, strategy_override
    )


if __name__ == "__main__":
    define_flags()
    recipe.app_run(run)
