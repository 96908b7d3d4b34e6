"""Image classification on MNIST-like TFDS datasets."""

import tensorflow as tf

from modelzoo import recipe, scoring
from modelzoo.data import pipelines
from modelzoo.data.loading import load_splits
from modelzoo.errors import UsageError
from modelzoo.tasks.base import Data, Task, read_splits, run_task

DATASETS = ("mnist", "fashion_mnist")


class ImageClassification(Task):
    """Pixels in, class probabilities out; the export takes uint8 images."""

    datasets = DATASETS

    def export_name(self, flags_obj, model_name):
        return f"{flags_obj.dataset}_{model_name}"

    def load(self, flags_obj, datasets_override):
        """`datasets_override`: `((train, test), info)` as `load_splits` returns."""
        (train, test), info = read_splits(flags_obj, ["train", "test"], datasets_override)
        return Data(
            train=pipelines.image_pipeline(
                train, flags_obj.batch_size, True, flags_obj.seed, flags_obj.max_train_examples
            ),
            test=pipelines.image_pipeline(
                test, flags_obj.batch_size, False, max_examples=flags_obj.max_eval_examples
            ),
            examples=recipe.count(pipelines.take(train, flags_obj.max_train_examples)),
            model_kwargs=dict(
                input_shape=info.features["image"].shape,
                num_classes=len(info.features["label"].names),
                rescale=1 / 255,
            ),
            state=dict(test=test, class_names=info.features["label"].names),
        )

    def publish(self, flags_obj, strategy, name, model, data, card):
        images, _ = next(iter(data.state["test"].batch(8)))
        return recipe.publish_image_classifier(
            flags_obj, name, model, data.state["class_names"], images, strategy, card
        )

    def report(self, path, data, flags_obj):
        return {"export_metrics": scoring.classifier_export_metrics(
            path, "images", data.state["test"], flags_obj.max_eval_examples)}

    @classmethod
    def serves(cls, specs):
        return set(specs) == {"images"} and specs["images"].dtype != tf.string

    @classmethod
    def predict(cls, serve, request):
        """The first `count` test images of TFDS `dataset`, with their true labels."""
        if not request["dataset"]:
            raise UsageError("--dataset is needed to feed test images to an image model")
        (test,), info = load_splits(request["dataset"], [f"test[:{request['count']}]"],
                                    request["data_dir"], download=False)
        images, truth = next(iter(test.batch(request["count"])))
        out = serve(images=images)
        names = info.features["label"].names
        return [
            {"label": label.decode(), "true_label": names[int(t)],
             "probability": round(float(p.max()), 4)}
            for label, t, p in zip(out["labels"].numpy(), truth.numpy(),
                                   out["probabilities"].numpy())
        ]


def run(flags_obj, model_name, model_kwargs, datasets_override=None, strategy_override=None):
    """Trains `model_name` (e.g. `"mlp"`) on --dataset, evaluates, exports; see `run_task`."""
    return run_task(ImageClassification(), flags_obj, model_name, model_kwargs,
                    datasets_override, strategy_override)
