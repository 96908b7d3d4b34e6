"""Text classification on IMDB reviews with a Transformer encoder."""

import dataclasses

from modelzoo import export, scoring
from modelzoo.config import field
from modelzoo.data import pipelines
from modelzoo.experiment_config import DataConfig, ExperimentConfig
from modelzoo.models.transformer import TransformerConfig
from modelzoo.tasks.base import Data, Task
from modelzoo.trainer import count

DATASETS = ("imdb_reviews",)


@dataclasses.dataclass
class TextDataConfig(DataConfig):
    """The reviews and how they become ids."""

    dataset: str = field("imdb_reviews", "TFDS dataset.")
    vocab_size: int = field(20000, "Vocabulary size, learned from the train split.", minimum=3)
    sequence_length: int = field(
        400, "Tokens per review: its last ones; earlier ones are cut.", minimum=3)


@dataclasses.dataclass
class TextClassificationConfig(ExperimentConfig):
    """Raw text in, class probabilities out; the vocabulary is in the export."""

    task_name = "text_classification"
    datasets = DATASETS

    data: TextDataConfig = dataclasses.field(default_factory=TextDataConfig)
    model: TransformerConfig = dataclasses.field(default_factory=TransformerConfig)

    def default_export_name(self):
        return f"imdb_{self.model.registered_name}"


class TextClassification(Task):
    """Learns a vocabulary from the train split, then trains on its ids."""

    preset_kind = "text_classifier"
    config_class = TextClassificationConfig

    def load(self, datasets_override):
        """`datasets_override`: `((train, test), info)` as `load_splits` returns."""
        data, training = self.config.data, self.config.training
        (train, test), info = self.read_splits(["train", "test"], datasets_override)
        class_names = info.features["label"].names
        train = pipelines.take(train, data.max_train_examples)
        preset = self.init_preprocessor()
        if preset is not None:
            # Fine-tuning: the preset's vocabulary and length, which its weights were trained on.
            vectorizer, sequence_length = preset.vectorizer, preset.sequence_length
        else:
            # The vocabulary comes from the training split only.
            vectorizer = pipelines.make_vectorizer(
                train.map(lambda text, label: text), data.vocab_size)
            sequence_length = data.sequence_length
        pipeline_args = dict(vectorizer=vectorizer, sequence_length=sequence_length,
                             batch_size=training.batch_size)
        return Data(
            train=pipelines.text_classification_pipeline(
                train, training=True, seed=training.seed,
                drop_remainder=training.drop_remainder(), **pipeline_args),
            test=pipelines.text_classification_pipeline(
                test, training=False, max_examples=data.max_eval_examples, **pipeline_args),
            examples=count(train),
            model_kwargs=dict(
                vocab_size=vectorizer.vocabulary_size(),
                sequence_length=sequence_length,
                num_classes=len(class_names),
            ),
            state=dict(test=test, class_names=class_names, vectorizer=vectorizer,
                       sequence_length=sequence_length),
        )

    def preprocessor(self, data):
        from modelzoo.preprocessors import TextClassifierPreprocessor

        return TextClassifierPreprocessor(data.state["vectorizer"].get_vocabulary(),
                                          data.state["sequence_length"], data.state["class_names"])

    def publish(self, strategy, model, data, card):
        texts, _ = next(iter(data.state["test"].batch(8)))
        module = export.TextClassifierExport(
            model, data.state["vectorizer"], data.state["class_names"], example=texts.numpy())
        return self.publish_export(strategy, module, card)

    def report(self, path, data):
        return {"export_metrics": path and scoring.export_metrics(
            path, *scoring.split_arrays(data.state["test"], self.config.data.max_eval_examples))}
