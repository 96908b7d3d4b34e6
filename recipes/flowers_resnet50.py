"""Fine-tune an ImageNet ResNet50 on TFDS tf_flowers (or a folder of images).

    python recipes/flowers_resnet50.py --weights=resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5
    python recipes/flowers_resnet50.py --image_dir=photos --image_size=160 --fine_tune_layers=30

The head trains first with the backbone frozen; --fine_tune_layers then
unfreezes the backbone's top layers for --fine_tune_epochs at a lower rate.
The export takes encoded JPEG/PNG bytes and decodes and resizes in the graph.
"""

from absl import flags

from modelzoo import recipe
from modelzoo.tasks import transfer_classification


def define_flags(flag_values=flags.FLAGS):
    fv = dict(flag_values=flag_values)
    recipe.define_common_flags(
        dataset="tf_flowers",
        datasets=transfer_classification.DATASETS,
        epochs=5,
        batch_size=32,
        learning_rate=1e-3,
        flag_values=flag_values,
    )
    flags.DEFINE_string("image_dir", None, "Folder of class subfolders of images (not TFDS).", **fv)
    flags.DEFINE_integer("image_size", 224, "Images are resized to this square size.", **fv)
    flags.DEFINE_float("validation_fraction", 0.15, "Share of images held out.", **fv)
    flags.DEFINE_string("backbone", "resnet50", "Backbone: resnet50 or mobilenet_v2.", **fv)
    flags.DEFINE_string("weights", "imagenet", "'imagenet', a local weights file, or 'none'.", **fv)
    flags.DEFINE_string("weights_sha256", None, "Expected SHA-256 of a local --weights file.", **fv)
    flags.DEFINE_float("dropout", 0.2, "Dropout before the logits, in [0, 1).", **fv)
    flags.DEFINE_integer("fine_tune_layers", 0, "Backbone layers unfrozen after the head.", **fv)
    flags.DEFINE_integer("fine_tune_epochs", 3, "Epochs of fine-tuning.", **fv)
    flags.DEFINE_float("fine_tune_learning_rate", 1e-5, "Peak learning rate of fine-tuning.", **fv)


def run(flags_obj, datasets_override=None, strategy_override=None):
    """Trains, fine-tunes, evaluates and exports; returns the summary dict."""
    model_kwargs = dict(
        backbone=flags_obj.backbone,
        weights=None if flags_obj.weights.lower() == "none" else flags_obj.weights,
        weights_sha256=flags_obj.weights_sha256,
        dropout=flags_obj.dropout,
    )
    return transfer_classification.run(
        flags_obj, "transfer_classifier", model_kwargs, datasets_override, strategy_override
    )


if __name__ == "__main__":
    define_flags()
    recipe.app_run(run)
