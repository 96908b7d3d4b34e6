"""Image classification on MNIST-like TFDS datasets."""

import dataclasses

from modelzoo import export, scoring
from modelzoo.data import pipelines
from modelzoo.experiment_config import DataConfig, ExperimentConfig, ModelConfig
from modelzoo.models.mlp import MlpConfig
from modelzoo.tasks.base import Data, Task
from modelzoo.trainer import count

DATASETS = ("mnist", "fashion_mnist")


@dataclasses.dataclass
class ImageClassificationConfig(ExperimentConfig):
    """Pixels in, class probabilities out; any registered image classifier."""

    task_name = "image_classification"
    datasets = DATASETS

    data: DataConfig = dataclasses.field(default_factory=lambda: DataConfig(dataset="mnist"))
    model: ModelConfig = dataclasses.field(default_factory=MlpConfig)

    def default_export_name(self):
        return f"{self.data.dataset}_{self.model.registered_name}"


class ImageClassification(Task):
    """Trains on uint8 images; the export takes them as they are."""

    preset_kind = "image_classifier"
    config_class = ImageClassificationConfig

    def load(self, datasets_override):
        """`datasets_override`: `((train, test), info)` as `load_splits` returns."""
        data, batch = self.config.data, self.config.training.batch_size
        seed = self.config.training.seed
        (train, test), info = self.read_splits(["train", "test"], datasets_override)
        return Data(
            train=pipelines.image_pipeline(train, batch, True, seed, data.max_train_examples,
                                           self.config.training.drop_remainder()),
            test=pipelines.image_pipeline(test, batch, False, max_examples=data.max_eval_examples),
            examples=count(pipelines.take(train, data.max_train_examples)),
            model_kwargs=dict(
                input_shape=info.features["image"].shape,
                num_classes=len(info.features["label"].names),
                rescale=1 / 255,
            ),
            state=dict(test=test, class_names=info.features["label"].names),
        )

    def preprocessor(self, data):
        from modelzoo.preprocessors import ImagePreprocessor

        return ImagePreprocessor(data.state["class_names"])

    def publish(self, strategy, model, data, card):
        images, _ = next(iter(data.state["test"].batch(8)))
        module = export.ImageClassifierExport(
            model, data.state["class_names"], example=images.numpy())
        return self.publish_export(strategy, module, card)

    def report(self, path, data):
        return {"export_metrics": path and scoring.export_metrics(
            path, *scoring.split_arrays(data.state["test"], self.config.data.max_eval_examples))}
