"""Text classification on IMDB reviews with a Transformer encoder."""

import tensorflow as tf

from modelzoo import recipe, scoring
from modelzoo.data import pipelines
from modelzoo.errors import UsageError
from modelzoo.tasks.base import Data, Task, read_splits, run_task

DATASETS = ("imdb_reviews",)


class TextClassification(Task):
    """Raw text in, class probabilities out; the vocabulary is in the export."""

    datasets = DATASETS

    def check_flags(self, flags_obj):
        for flag in ("vocab_size", "sequence_length"):
            if getattr(flags_obj, flag) <= 2:
                raise UsageError(f"--{flag}={getattr(flags_obj, flag)} must be an integer > 2")

    def export_name(self, flags_obj, model_name):
        return f"imdb_{model_name}"

    def load(self, flags_obj, datasets_override):
        """`datasets_override`: `((train, test), info)` as `load_splits` returns."""
        (train, test), info = read_splits(flags_obj, ["train", "test"], datasets_override)
        class_names = info.features["label"].names
        train = pipelines.take(train, flags_obj.max_train_examples)
        # The vocabulary comes from the training split only.
        vectorizer = pipelines.make_vectorizer(
            train.map(lambda text, label: text), flags_obj.vocab_size
        )
        pipeline_args = dict(vectorizer=vectorizer, sequence_length=flags_obj.sequence_length,
                             batch_size=flags_obj.batch_size)
        return Data(
            train=pipelines.text_classification_pipeline(
                train, training=True, seed=flags_obj.seed, **pipeline_args
            ),
            test=pipelines.text_classification_pipeline(
                test, training=False, max_examples=flags_obj.max_eval_examples, **pipeline_args
            ),
            examples=recipe.count(train),
            model_kwargs=dict(
                vocab_size=vectorizer.vocabulary_size(),
                sequence_length=flags_obj.sequence_length,
                num_classes=len(class_names),
            ),
            state=dict(test=test, class_names=class_names, vectorizer=vectorizer),
        )

    def publish(self, flags_obj, strategy, name, model, data, card):
        texts, _ = next(iter(data.state["test"].batch(8)))
        return recipe.publish_text_classifier(
            flags_obj, name, model, data.state["vectorizer"], data.state["class_names"], texts,
            strategy, card,
        )

    def report(self, path, data, flags_obj):
        return {"export_metrics": scoring.classifier_export_metrics(
            path, "text", data.state["test"], flags_obj.max_eval_examples)}

    @classmethod
    def serves(cls, specs):
        return set(specs) == {"text"}

    @classmethod
    def predict(cls, serve, request):
        """Each `text`'s label and its probability."""
        text = request["text"]
        if not text:
            raise UsageError("--text is needed for a text classifier")
        out = serve(text=tf.constant(text))
        return [
            {"text": t, "label": label.decode(), "probability": round(float(p.max()), 4)}
            for t, label, p in zip(text, out["labels"].numpy(), out["probabilities"].numpy())
        ]


def run(flags_obj, model_name, model_kwargs, datasets_override=None, strategy_override=None):
    """Learns a vocabulary, trains `model_name` (e.g. `"transformer"`), exports; see `run_task`."""
    return run_task(TextClassification(), flags_obj, model_name, model_kwargs,
                    datasets_override, strategy_override)
