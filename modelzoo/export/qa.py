"""The question-answering export: raw question and context in, answer span out.

Tokenizing (TF Text's `FastBertTokenizer`), windowing and picking the best
span all run in the graph, with the same `QaProcessor`
(`modelzoo.text.qa_processor`) that made the training windows. The graph
uses two TF Text ops, `FastBertNormalize` and
`FastWordpieceTokenizeWithOffsets`, both in TF Text 2.12, which TF Serving
2.16-2.19 links; everything else is core TensorFlow.
"""

import tensorflow as tf

from modelzoo.export.archive import write_archive
from modelzoo.export.base import ExportModule, Target, publish
from modelzoo.export.publish import string_array
from modelzoo.models.bert import backbone_of

QA_CONTRACT = {
    "inputs": {
        "question": {"dtype": "string", "shape": [None]},
        "context": {"dtype": "string", "shape": [None]},
    },
    "outputs": {
        "answer": {"dtype": "string", "shape": [None]},
        "score": {"dtype": "float32", "shape": [None]},
    },
}


def check_model(model, processor):
    """Raises `ValueError` unless `model` takes `processor`'s windows."""
    if tuple(model.input_shape[1:]) != (processor.sequence_length,) or tuple(
        model.output_shape[1:]
    ) != (2, processor.sequence_length):
        raise ValueError(
            f"The model must map ids [batch, {processor.sequence_length}] to logits "
            f"[batch, 2, {processor.sequence_length}] (the processor's sequence_length). "
            f"Received input {model.input_shape}, output {model.output_shape}."
        )
    vocab_size = backbone_of(model).vocab_size
    if vocab_size != len(processor.vocabulary):
        raise ValueError(
            f"`vocabulary` has {len(processor.vocabulary)} entries but the model embeds "
            f"{vocab_size} ids; they must match."
        )


def export_qa(model, processor, path):
    """Writes a TF Serving SavedModel that answers questions about a text.

    The `serving_default` signature takes `question` and `context`, string
    `[batch]`, and returns `answer` string `[batch]` (a substring of the
    context, cut at the byte offsets of its WordPiece pieces) and `score`
    float32 `[batch]` (the span's probability under the model, in [0, 1]).
    Tokenizing, windowing (contexts longer than a window are read with a
    stride) and picking the best valid span all run in the graph (see
    `QaProcessor`). A request fails with InvalidArgument, naming the
    problem, if a question or context is empty, not valid UTF-8 or longer
    than `max_question_bytes` / `max_context_bytes`, or if the two inputs'
    batch sizes differ; nothing else in the server is affected.

    A TF Serving REST request names both inputs in each instance:
    `{"instances": [{"question": "Who?", "context": "Bob did."}]}`.

    Args:
        model: a built `build_qa` model.
        processor: the `QaProcessor` the model was trained with.
        path: str. Directory to write; it must be empty or not exist.

    Returns:
        `path`.
    """
    check_model(model, processor)

    def serve(question, context):
        question = tf.ensure_shape(question, [None])
        context = tf.ensure_shape(context, [None])
        question, context = processor.check_requests(question, context)
        return processor.answer(model, question, context)

    inputs = [("question", tf.string, [None]), ("context", tf.string, [None])]
    return write_archive(path, model, serve, inputs, [processor.tokenizer])


class QaExport(ExportModule):
    """A question-answering model's export: `question` and `context` in.

    Args:
        model, processor: see `export_qa`.
        example: `(questions, contexts)`, sequences of valid UTF-8 str (real
            examples) to check the export with; defaults to texts made of
            the vocabulary, one long enough for several windows.

    Example:
        >>> publish(QaExport(model, processor), Target("saved_models", "squad"))  # doctest: +SKIP
    """

    kind = "qa"
    rtol = 1e-4

    def __init__(self, model, processor, example=None):
        super().__init__(model)
        check_model(model, processor)
        self.processor = processor
        if example is None:
            words = [w for w in processor.vocabulary if w.isalpha()][:40] or ["a"]
            long_context = " ".join(words * (1 + 3 * processor.sequence_length // len(words)))
            example = (
                [" ".join(words[:3]), " ".join(words[2:6]) + "?"],
                [" ".join(words), long_context],
            )
        self._questions, self._contexts = (string_array(x) for x in example)

    def write(self, path):
        return export_qa(self.model, self.processor, path)

    def contract(self):
        return QA_CONTRACT

    def example(self):
        return {"question": self._questions, "context": self._contexts}

    def expected(self, example):
        return self.processor.predict(self.model, example["question"], example["context"])


def publish_qa(
    model, processor, export_dir, name, version=None, example=None, timeout=600, card=None
):
    """`publish` of `QaExport(model, processor, example)`."""
    return publish(QaExport(model, processor, example), Target(export_dir, name, version),
                   card, timeout)
