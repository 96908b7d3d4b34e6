"""Transfer learning on flowers or any folder of images: head, then fine-tuning."""

import os

import keras
import numpy as np
import tensorflow as tf

from modelzoo import pixels, recipe
from modelzoo.data import pipelines
from modelzoo.errors import DataError, UsageError
from modelzoo.export.image_bytes import publish_image_bytes_classifier
from modelzoo.models.transfer import BACKBONES, unfreeze_top_layers
from modelzoo.tasks.base import Data, Task, read_splits, run_task
from modelzoo.training import compile_model

DATASETS = ("tf_flowers",)


def check_task_flags(flags_obj):
    """Raises `UsageError` for a bad transfer flag, before any work."""
    if flags_obj.image_size < 32:
        raise UsageError(f"--image_size={flags_obj.image_size} must be an integer >= 32")
    if flags_obj.fine_tune_layers < 0:
        raise UsageError(f"--fine_tune_layers={flags_obj.fine_tune_layers} must be >= 0")
    if flags_obj.fine_tune_epochs <= 0:
        raise UsageError(
            f"--fine_tune_epochs={flags_obj.fine_tune_epochs} must be a positive integer"
        )
    if not flags_obj.fine_tune_learning_rate > 0:
        raise UsageError(
            f"--fine_tune_learning_rate={flags_obj.fine_tune_learning_rate} must be > 0"
        )
    if not 0 < flags_obj.validation_fraction < 1:
        raise UsageError(f"--validation_fraction={flags_obj.validation_fraction} must be in (0, 1)")
    if flags_obj.image_dir is not None and not os.path.isdir(flags_obj.image_dir):
        raise UsageError(f"--image_dir={flags_obj.image_dir} is not a directory")
    # The builder checks these too, but only after the images are loaded.
    if flags_obj.backbone not in BACKBONES:
        raise UsageError(
            f"--backbone={flags_obj.backbone!r} is unknown; use one of: {', '.join(BACKBONES)}"
        )
    weights = flags_obj.weights
    if weights.lower() not in ("imagenet", "none") and not os.path.isfile(weights):
        raise UsageError(
            f"--weights={weights} is not a file; pass a weights file, 'imagenet' or 'none'"
        )


def split_specs(flags_obj):
    """The TFDS splits trained and evaluated on: `train` cut at --validation_fraction."""
    percent = round(100 * (1 - flags_obj.validation_fraction))
    return [f"train[:{percent}%]", f"train[{percent}%:]"]


def load_images(flags_obj, datasets_override=None):
    """Train and test `(float32 pixels [s, s, 3], label)` datasets and their classes.

    Returns:
        `(train, test, class_names, example)`: `example` is a list of encoded
        test images (bytes) to check the export with.
    """
    size = (flags_obj.image_size, flags_obj.image_size)
    if flags_obj.image_dir is not None:
        try:
            train, test = keras.utils.image_dataset_from_directory(
                flags_obj.image_dir, validation_split=flags_obj.validation_fraction,
                subset="both", seed=flags_obj.seed or 0, image_size=size, batch_size=None,
            )
        except ValueError as e:
            message = str(e).splitlines()[0]
            raise DataError(f"--image_dir={flags_obj.image_dir}: {message}") from None
        if len(train.class_names) < 2:
            raise DataError(f"--image_dir={flags_obj.image_dir} needs at least 2 class subfolders")
        example = [tf.io.read_file(p).numpy() for p in test.file_paths[:4]]
        class_names = train.class_names
        train, test = (ds.map(lambda x, y: (pixels.quantize(x), y)) for ds in (train, test))
        return train, test, class_names, example
    (train, test), info = read_splits(flags_obj, split_specs(flags_obj), datasets_override)
    example = [tf.io.encode_jpeg(image).numpy() for image, _ in test.take(4)]

    def resize(image, label):
        return pixels.resize(image, size), label

    return train.map(resize), test.map(resize), info.features["label"].names, example


def batches(ds, flags_obj, training, max_examples):
    """Caches the pixels as uint8 (4× less memory), batches, casts to float32."""
    ds = pipelines.take(ds, max_examples).map(lambda x, y: (tf.cast(x, tf.uint8), y))
    ds = pipelines.finish(ds, flags_obj.batch_size, training, flags_obj.seed)
    return ds.map(lambda x, y: (tf.cast(x, tf.float32), y))


class TransferClassification(Task):
    """Encoded image bytes in, class probabilities out: train the head, then
    optionally fine-tune the backbone's top layers (--fine_tune_layers)."""

    datasets = DATASETS

    def check_flags(self, flags_obj):
        check_task_flags(flags_obj)

    def export_name(self, flags_obj, model_name):
        source = "images" if flags_obj.image_dir else "flowers"
        return f"{source}_{flags_obj.backbone}"

    def splits(self, flags_obj):
        return split_specs(flags_obj)

    def load(self, flags_obj, datasets_override):
        """`datasets_override`: `((train, test), info)` as `load_splits` returns."""
        train, test, class_names, example = load_images(flags_obj, datasets_override)
        size = flags_obj.image_size
        return Data(
            train=batches(train, flags_obj, True, flags_obj.max_train_examples),
            test=batches(test, flags_obj, False, flags_obj.max_eval_examples),
            examples=recipe.count(pipelines.take(train, flags_obj.max_train_examples).batch(1)),
            model_kwargs=dict(num_classes=len(class_names), input_shape=(size, size, 3)),
            state=dict(class_names=class_names, example=example),
        )

    def fit(self, model, data, flags_obj, strategy):
        metrics, throughput, extras = super().fit(model, data, flags_obj, strategy)
        extras["head_metrics"] = {k: round(float(v), 6) for k, v in metrics.items()}
        if flags_obj.fine_tune_layers:
            train_steps = recipe.count(data.train)
            with strategy.scope():
                extras["fine_tuned_weights"] = unfreeze_top_layers(
                    model, flags_obj.fine_tune_layers)
                compile_model(
                    model, flags_obj.fine_tune_learning_rate,
                    decay_steps=train_steps and train_steps * flags_obj.fine_tune_epochs,
                    steps_per_execution=flags_obj.steps_per_execution,
                )
            metrics, throughput = recipe.fit_and_evaluate(
                model, data.train, data.test, flags_obj, strategy, data.examples,
                epochs=flags_obj.fine_tune_epochs, model_subdir="fine_tune",
            )
        return metrics, throughput, extras

    def publish(self, flags_obj, strategy, name, model, data, card):
        example = data.state["example"]
        return recipe.publish(
            flags_obj, strategy, publish_image_bytes_classifier, model,
            data.state["class_names"], name=name,
            example=np.asarray(example, dtype=object) if example else None, card=card,
        )

    def report(self, path, data, flags_obj):
        return {"classes": len(data.state["class_names"])}

    @classmethod
    def serves(cls, specs):
        return set(specs) == {"images"} and specs["images"].dtype == tf.string

    @classmethod
    def predict(cls, serve, request):
        """Each `image` file's label; a file that is no image is a `DataError`."""
        files = request["image"]
        if not files:
            raise UsageError("--image FILE is needed for a model that takes image bytes")
        contents = []
        for name in files:
            try:
                with open(name, "rb") as f:
                    contents.append(f.read())
            except OSError as e:
                raise UsageError(f"--image {name}: cannot be read ({e.strerror})") from None
        try:
            out = serve(images=tf.constant(contents))
        except tf.errors.InvalidArgumentError as e:
            raise DataError(
                f"--image: a file is not a JPEG, PNG, GIF or BMP image ({e.message})") from None
        return [
            {"image": name, "label": label.decode(), "probability": round(float(p.max()), 4)}
            for name, label, p in zip(files, out["labels"].numpy(), out["probabilities"].numpy())
        ]


def run(flags_obj, model_name, model_kwargs, datasets_override=None, strategy_override=None):
    """Trains the head of `model_name` (e.g. `"transfer_classifier"`), optionally
    fine-tunes, exports; see `run_task`."""
    summary = run_task(TransferClassification(), flags_obj, model_name, model_kwargs,
                       datasets_override, strategy_override)
    if flags_obj.image_dir:
        summary["dataset"] = flags_obj.image_dir
    return summary
