"""Transfer learning on flowers or any folder of images: head, then fine-tuning."""

import os
import time

import keras
import numpy as np
import tensorflow as tf

from modelzoo import pixels, recipe
from modelzoo.data import pipelines
from modelzoo.data.loading import load_splits
from modelzoo.errors import DataError, UsageError
from modelzoo.export.image_bytes import publish_image_bytes_classifier
from modelzoo.models.transfer import BACKBONES, unfreeze_top_layers
from modelzoo.training import Throughput, compile_model, model_dir_callbacks

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
    (train, test), info = datasets_override or load_splits(
        flags_obj.dataset, split_specs(flags_obj),
        flags_obj.data_dir, flags_obj.download,
        manual_dir=flags_obj.manual_dir,
    )
    example = [tf.io.encode_jpeg(image).numpy() for image, _ in test.take(4)]

    def resize(image, label):
        return pixels.resize(image, size), label

    return train.map(resize), test.map(resize), info.features["label"].names, example


def batches(ds, flags_obj, training, max_examples):
    """Caches the pixels as uint8 (4× less memory), batches, casts to float32."""
    ds = pipelines.take(ds, max_examples).map(lambda x, y: (tf.cast(x, tf.uint8), y))
    ds = pipelines.finish(ds, flags_obj.batch_size, training, flags_obj.seed)
    return ds.map(lambda x, y: (tf.cast(x, tf.float32), y))


def run(flags_obj, model_name, model_kwargs, datasets_override=None, strategy_override=None):
    """Trains the head, optionally fine-tunes the backbone's top, exports.

    Args:
        flags_obj: parsed flags; besides the common ones, `image_dir`,
            `image_size`, `validation_fraction`, `weights`, `weights_sha256`,
            `fine_tune_layers`, `fine_tune_epochs`, `fine_tune_learning_rate`.
        model_name: str. A registered transfer model, e.g.
            `"transfer_classifier"`.
        model_kwargs: dict of builder arguments from the recipe's own flags.
        datasets_override: `((train, test), info)` as `load_splits` returns.
        strategy_override: a `tf.distribute.Strategy` instead of --strategy.

    Returns:
        The summary dict the recipe prints as JSON.
    """
    start = time.time()
    check_task_flags(flags_obj)
    source = "images" if flags_obj.image_dir else "flowers"
    name = flags_obj.name or f"{source}_{model_kwargs.get('backbone', 'resnet50')}"
    strategy = recipe.prepare(flags_obj, DATASETS, name, strategy_override)
    train, test, class_names, example = load_images(flags_obj, datasets_override)
    train_ds = batches(train, flags_obj, True, flags_obj.max_train_examples)
    test_ds = batches(test, flags_obj, False, flags_obj.max_eval_examples)
    train_steps = recipe.count(train_ds)
    size = flags_obj.image_size
    model = recipe.build_and_compile(
        flags_obj, strategy, model_name, train_steps,
        num_classes=len(class_names), input_shape=(size, size, 3), **model_kwargs,
    )
    examples = recipe.count(pipelines.take(train, flags_obj.max_train_examples).batch(1))
    metrics, throughput = recipe.fit_and_evaluate(
        model, train_ds, test_ds, flags_obj, strategy, examples
    )
    extra = {"head_metrics": {k: round(float(v), 6) for k, v in metrics.items()}}
    if flags_obj.fine_tune_layers:
        with strategy.scope():
            extra["fine_tuned_weights"] = unfreeze_top_layers(model, flags_obj.fine_tune_layers)
            compile_model(model, flags_obj.fine_tune_learning_rate,
                          decay_steps=train_steps and train_steps * flags_obj.fine_tune_epochs,
                          steps_per_execution=flags_obj.steps_per_execution)
        model_dir = flags_obj.model_dir and os.path.join(flags_obj.model_dir, "fine_tune")
        throughput = Throughput(examples)
        callbacks = [throughput, *model_dir_callbacks(model_dir, strategy, flags_obj.fresh_start)]
        model.fit(train_ds, epochs=flags_obj.fine_tune_epochs, callbacks=callbacks, verbose=2)
        metrics = model.evaluate(test_ds, return_dict=True, verbose=0)
    export_path = recipe.publish(
        flags_obj, strategy, publish_image_bytes_classifier, model, class_names,
        name=name, example=np.asarray(example, dtype=object) if example else None,
        card=recipe.card_facts(flags_obj, model, metrics, split_specs(flags_obj)),
    )
    summary = recipe.summarize(flags_obj, model_name, metrics, export_path, start, throughput,
                               classes=len(class_names), **extra)
    if flags_obj.image_dir:
        summary["dataset"] = flags_obj.image_dir
    return summary
