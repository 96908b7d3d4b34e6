"""Transfer learning on flowers or any folder of images: head, then fine-tuning."""

import dataclasses
import os
from typing import Optional

import keras
import numpy as np
import tensorflow as tf

from modelzoo import pixels
from modelzoo.config import Config, field
from modelzoo.data import pipelines
from modelzoo.errors import DataError, UsageError
from modelzoo.experiment_config import DataConfig, ExperimentConfig
from modelzoo.export.image import ImageClassifierExport
from modelzoo.models.transfer import TransferConfig, unfreeze_top_layers
from modelzoo.tasks.base import Data, Task
from modelzoo.trainer import compile_args, count, fit_and_evaluate
from modelzoo.training import compile_model

DATASETS = ("tf_flowers",)


@dataclasses.dataclass
class ImageDataConfig(DataConfig):
    """TFDS tf_flowers, or a folder of class subfolders of images."""

    dataset: str = field("tf_flowers", "TFDS dataset.")
    image_dir: Optional[str] = field(None, "Folder of class subfolders of images (not TFDS).")
    image_size: int = field(224, "Images are resized to this square size.", minimum=32)
    validation_fraction: float = field(0.15, "Share of images held out.", above=0, below=1)

    def check(self):
        if self.image_dir is not None and not os.path.isdir(self.image_dir):
            raise UsageError(f"--image_dir={self.image_dir} is not a directory")


@dataclasses.dataclass
class FineTuneConfig(Config):
    """The second stage: the backbone's top layers unfrozen at a lower rate."""

    fine_tune_layers: int = field(0, "Backbone layers unfrozen after the head.", minimum=0)
    fine_tune_epochs: int = field(3, "Epochs of fine-tuning.", minimum=1)
    fine_tune_learning_rate: float = field(1e-5, "Peak learning rate of fine-tuning.", above=0)


@dataclasses.dataclass
class TransferClassificationConfig(ExperimentConfig):
    """Encoded image bytes in, class probabilities out."""

    task_name = "transfer_classification"
    datasets = DATASETS

    data: ImageDataConfig = dataclasses.field(default_factory=ImageDataConfig)
    model: TransferConfig = dataclasses.field(default_factory=TransferConfig)
    fine_tune: FineTuneConfig = dataclasses.field(default_factory=FineTuneConfig)

    def default_export_name(self):
        source = "images" if self.data.image_dir else "flowers"
        return f"{source}_{self.model.backbone}"


def split_specs(data):
    """The TFDS splits trained and evaluated on: `train` cut at `validation_fraction`."""
    percent = round(100 * (1 - data.validation_fraction))
    return [f"train[:{percent}%]", f"train[{percent}%:]"]


def load_images(task, datasets_override=None):
    """Train and test `(float32 pixels [s, s, 3], label)` datasets and their classes.

    Returns:
        `(train, test, class_names, example)`: `example` is a list of encoded
        test images (bytes) to check the export with.
    """
    data, seed = task.config.data, task.config.training.seed
    size = (data.image_size, data.image_size)
    if data.image_dir is not None:
        try:
            train, test = keras.utils.image_dataset_from_directory(
                data.image_dir, validation_split=data.validation_fraction,
                subset="both", seed=seed or 0, image_size=size, batch_size=None,
            )
        except ValueError as e:
            message = str(e).splitlines()[0]
            raise DataError(f"--image_dir={data.image_dir}: {message}") from None
        if len(train.class_names) < 2:
            raise DataError(f"--image_dir={data.image_dir} needs at least 2 class subfolders")
        example = [tf.io.read_file(p).numpy() for p in test.file_paths[:4]]
        class_names = train.class_names
        train, test = (ds.map(lambda x, y: (pixels.quantize(x), y)) for ds in (train, test))
        return train, test, class_names, example
    (train, test), info = task.read_splits(split_specs(data), datasets_override)
    example = [tf.io.encode_jpeg(image).numpy() for image, _ in test.take(4)]

    def resize(image, label):
        return pixels.resize(image, size), label

    return train.map(resize), test.map(resize), info.features["label"].names, example


def batches(ds, config, training, max_examples):
    """Caches the pixels as uint8 (4× less memory), batches, casts to float32."""
    ds = pipelines.take(ds, max_examples).map(lambda x, y: (tf.cast(x, tf.uint8), y))
    ds = pipelines.finish(ds, config.training.batch_size, training, config.training.seed,
                          drop_remainder=training and config.training.drop_remainder())
    return ds.map(lambda x, y: (tf.cast(x, tf.float32), y))


class TransferClassification(Task):
    """Trains the head, then optionally fine-tunes the backbone's top layers."""

    config_class = TransferClassificationConfig

    def splits(self):
        return split_specs(self.config.data)

    def dataset_facts(self):
        if self.config.data.image_dir:
            return {"name": self.config.data.image_dir, "version": None,
                    "splits": dict.fromkeys(self.splits())}
        return super().dataset_facts()

    def load(self, datasets_override):
        """`datasets_override`: `((train, test), info)` as `load_splits` returns."""
        data = self.config.data
        train, test, class_names, example = load_images(self, datasets_override)
        size = data.image_size
        return Data(
            train=batches(train, self.config, True, data.max_train_examples),
            test=batches(test, self.config, False, data.max_eval_examples),
            examples=count(pipelines.take(train, data.max_train_examples).batch(1)),
            model_kwargs=dict(num_classes=len(class_names), input_shape=(size, size, 3)),
            state=dict(class_names=class_names, example=example),
        )

    def fit(self, model, data, strategy):
        metrics, throughput, extras = super().fit(model, data, strategy)
        extras["head_metrics"] = {k: round(float(v), 6) for k, v in metrics.items()}
        stage = self.config.fine_tune
        if stage.fine_tune_layers:
            with strategy.scope():
                extras["fine_tuned_weights"] = unfreeze_top_layers(model, stage.fine_tune_layers)
                compile_model(model, **compile_args(
                    self.config, count(data.train), epochs=stage.fine_tune_epochs,
                    learning_rate=stage.fine_tune_learning_rate))
            metrics, throughput = fit_and_evaluate(
                model, data.train, data.test, self.config, strategy, data.examples,
                epochs=stage.fine_tune_epochs, model_subdir="fine_tune")
        return metrics, throughput, extras

    def preprocessor(self, data):
        from modelzoo.preprocessors import ImageBytesPreprocessor

        return ImageBytesPreprocessor(self.config.data.image_size, data.state["class_names"])

    def publish(self, strategy, model, data, card):
        example = data.state["example"]
        module = ImageClassifierExport(
            model, data.state["class_names"], input_type="bytes",
            example=np.asarray(example, dtype=object) if example else None)
        return self.publish_export(strategy, module, card)

    def report(self, path, data):
        extra = {"classes": len(data.state["class_names"])}
        if self.config.data.image_dir:
            extra["dataset"] = self.config.data.image_dir
        return extra
