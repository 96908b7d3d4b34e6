"""SavedModel export of text classifiers that take the raw text."""

import keras
import tensorflow as tf

from modelzoo.data.pipelines import text_ids
from modelzoo.export.archive import write_archive
from modelzoo.export.base import ExportModule, Target, publish
from modelzoo.export.classifier_head import (
    check_class_names,
    classifier_contract,
    classifier_outputs,
    expected_classifier_outputs,
)
from modelzoo.export.publish import string_array
from modelzoo.layers.token_and_position_embedding import TokenAndPositionEmbedding


def text_contract(model):
    """The `serving_default` contract of `export_text_classifier(model, ...)`."""
    return classifier_contract("text", "string", [None], model.output_shape[-1])


def check_vectorizer(model, vectorizer):
    """Raises `ValueError` unless `vectorizer` produces ids `model` accepts.

    Args:
        model: a `keras.Model` taking int ids `[batch, sequence_length]`.
        vectorizer: a `keras.layers.TextVectorization`.
    """
    if not isinstance(vectorizer, keras.layers.TextVectorization):
        raise ValueError(
            "`vectorizer` must be an adapted keras.layers.TextVectorization. "
            f"Received: {type(vectorizer).__name__}"
        )
    config = vectorizer.get_config()
    sequence_length = model.input_shape[1]
    length = None if config["ragged"] else config["output_sequence_length"]
    if config["output_mode"] != "int" or length not in (None, sequence_length):
        raise ValueError(
            "`vectorizer` must use output_mode='int' and either ragged=True or "
            f"output_sequence_length={sequence_length} (the model's). Received: "
            f"output_mode={config['output_mode']!r}, "
            f"output_sequence_length={config['output_sequence_length']!r}"
        )
    if vectorizer.vocabulary_size() <= 2:
        raise ValueError("`vectorizer` has no vocabulary; call `adapt` first.")
    embedding = _find_embedding(model)
    if embedding is not None and vectorizer.vocabulary_size() > embedding:
        raise ValueError(
            f"`vectorizer` has {vectorizer.vocabulary_size()} ids but the model "
            f"embeds only {embedding}."
        )


def _find_embedding(model):
    """How many token ids the model's embedding takes, found by type, or None."""
    for layer in model.layers:
        if isinstance(layer, TokenAndPositionEmbedding):
            return layer.vocabulary_size
        if isinstance(layer, keras.layers.Embedding):
            return layer.input_dim
    return None


def export_text_classifier(model, vectorizer, class_names, path):
    """Writes a TF Serving SavedModel that classifies raw text.

    The `serving_default` signature takes `text`: string `[batch]`, the raw
    review. `vectorizer` tokenizes, truncates and pads it in the graph (core
    TF string ops only, so TF Serving loads it without TF Text), so a text of
    any length works. Outputs: `probabilities` float32 `[batch, num_classes]`,
    `class_ids` int64 `[batch]` and `labels` string `[batch]` (e.g. "neg",
    "pos").

    A text with no tokens at all (empty, or only spaces and punctuation)
    would give the model nothing to average over (NaN); it gets uniform
    probabilities and class id 0 instead. Unknown words still count: they
    map to the vectorizer's OOV id.

    A TF Serving REST request has one raw string per instance, since the
    signature has a single input: `{"instances": ["A great movie!"]}`.

    Args:
        model: a built `keras.Model` taking int ids `[batch, sequence_length]`
            (0 = padding) and returning logits `[batch, num_classes]`.
        vectorizer: an adapted `keras.layers.TextVectorization` with
            `output_mode="int"`, and `ragged=True` (the export keeps a text's
            last `sequence_length` tokens, see `pipelines.text_ids`) or
            `output_sequence_length=sequence_length`.
        class_names: sequence of `num_classes` str.
        path: str. Directory to write; it must be empty or not exist.

    Returns:
        `path`.

    Raises:
        ValueError: if the vectorizer or class names do not fit the model.
    """
    check_vectorizer(model, vectorizer)
    names = check_class_names(class_names, model.output_shape[-1])
    sequence_length = model.input_shape[1]

    def serve(text):
        # Signatures do not enforce shapes; [batch, 1] would vectorize too.
        ids = tf.cast(text_ids(vectorizer, tf.ensure_shape(text, [None]), sequence_length), tf.int32)
        logits = model(ids, training=False)
        return classifier_outputs(logits, names, has_input=tf.reduce_any(ids != 0, axis=1))

    if not vectorizer.built:
        # `adapt` alone leaves it unbuilt, and the archive refuses unbuilt layers.
        vectorizer(tf.constant([""]))
    # The vectorizer's lookup table is a resource the archive must track.
    return write_archive(path, model, serve, [("text", tf.string, [None])], [vectorizer])


def expected_text_outputs(model, vectorizer, class_names, texts):
    """What the exported signature must return for `texts`, from the model.

    Args:
        model: the in-memory `keras.Model`.
        vectorizer: the adapted `TextVectorization`.
        class_names: sequence of str.
        texts: sequence of str or bytes.

    Returns:
        A dict name → numpy array.
    """
    ids = keras.ops.convert_to_numpy(
        text_ids(vectorizer, tf.constant(string_array(texts)), model.input_shape[1]))
    logits = keras.ops.convert_to_numpy(model(ids.astype("int32"), training=False))
    return expected_classifier_outputs(logits, list(class_names), has_input=(ids != 0).any(axis=1))


class TextClassifierExport(ExportModule):
    """A text classifier's export: raw `text` in, labels out.

    Args:
        model, vectorizer, class_names: see `export_text_classifier`.
        example: sequence of str or bytes (real reviews) to check the export
            with; defaults to a few texts made of the vocabulary, plus an
            empty one.
        rtol, atol: float tolerances, or None for the defaults.

    Example:
        >>> publish(TextClassifierExport(model, vectorizer, ["neg", "pos"]),
        ...         Target("saved_models", "reviews"))  # doctest: +SKIP
    """

    kind = "text_classifier"

    def __init__(self, model, vectorizer, class_names, example=None, rtol=None, atol=None):
        super().__init__(model, rtol, atol)
        check_vectorizer(model, vectorizer)
        self.class_names = check_class_names(class_names, model.output_shape[-1])
        self.vectorizer = vectorizer
        if example is None:
            words = [w for w in vectorizer.get_vocabulary()[2:12]]
            example = ["", " ".join(words), " ".join(reversed(words)) + " zzzunknown"]
        self._texts = string_array(example)

    def write(self, path):
        return export_text_classifier(self.model, self.vectorizer, self.class_names, path)

    def contract(self):
        return text_contract(self.model)

    def example(self):
        return {"text": self._texts}

    def expected(self, example):
        return expected_text_outputs(self.model, self.vectorizer, self.class_names,
                                     example["text"])


def publish_text_classifier(
    model, vectorizer, class_names, export_dir, name, version=None, example=None, timeout=600,
    rtol=1e-5, atol=1e-6, card=None,
):
    """`publish` of `TextClassifierExport(model, vectorizer, class_names, example)`."""
    module = TextClassifierExport(model, vectorizer, class_names, example, rtol, atol)
    return publish(module, Target(export_dir, name, version), card, timeout)
