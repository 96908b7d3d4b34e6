"""Scoring a published SavedModel on raw test inputs, as TF Serving would run it.

A recipe reports the metric of its in-memory Keras model; these functions
compute the same metric from what was exported, fed what a client sends
(uint8 pixels, review strings, prompts). The two agreeing shows there is no
skew between training and serving.
"""

import numpy as np
import tensorflow as tf
import tensorflow_text  # noqa: F401 - the ops a QA export's tokenizer uses

from modelzoo.data import pipelines


def load_signature(path):
    """The `serving_default` signature of the SavedModel at `path`.

    Called as TF Serving calls it: optional inputs (those with a
    SignatureDef default) may be left out (`verify.ServedSignature`).
    """
    from modelzoo.export.verify import ServedSignature

    return ServedSignature(path)


def classifier_accuracy(path, input_name, inputs, labels, batch_size=512):
    """Fraction of `inputs` whose exported `class_ids` equal `labels`.

    Args:
        path: str. A published classifier export.
        input_name: str. Its input, e.g. `"images"` or `"text"`.
        inputs: numpy array of raw inputs (uint8 pixels, or bytes strings).
        labels: int array of the true class ids.
        batch_size: int. Examples per call.

    Returns:
        The accuracy as a float in [0, 1].
    """
    serve = load_signature(path)
    predicted = np.concatenate([
        serve(**{input_name: tf.constant(inputs[i : i + batch_size])})["class_ids"].numpy()
        for i in range(0, len(inputs), batch_size)
    ])
    return float(np.mean(predicted == np.asarray(labels)))


def classifier_export_metrics(path, input_name, test, max_examples=None):
    """`{"accuracy": ...}` of the export at `path` on a supervised test split.

    Args:
        path: str or None. The published classifier; None (a worker that
            did not publish) gives None.
        input_name: str. The signature's input, e.g. `"images"`.
        test: a `tf.data.Dataset` of raw `(input, label)` pairs.
        max_examples: int or None. Score only the first ones, as evaluated.
    """
    if not path:
        return None
    inputs, labels = pipelines.as_arrays(pipelines.take(test, max_examples))
    return {"accuracy": classifier_accuracy(path, input_name, inputs, labels)}


def next_char_windows(text, sequence_length, count):
    """Up to `count` evenly spaced `(prompt, next_char)` pairs from `text`.

    Each prompt is `sequence_length` characters, the context the model was
    trained with; the next character is the one a greedy model should
    predict.
    """
    last = len(text) - sequence_length - 1
    if last < 0:
        return [], []
    starts = np.linspace(0, last, num=min(count, last + 1)).astype(int)
    return ([text[s : s + sequence_length] for s in starts],
            [text[s + sequence_length] for s in starts])


def generator_next_char_accuracy(path, prompts, next_chars, batch_size=256):
    """Fraction of `prompts` whose greedy first generated character is right.

    Args:
        path: str. A published text-generator export.
        prompts: list of str.
        next_chars: list of str, one character each.
        batch_size: int. Prompts per call.

    Returns:
        The accuracy as a float in [0, 1].
    """
    serve = load_signature(path)
    hits = 0
    for i in range(0, len(prompts), batch_size):
        batch = prompts[i : i + batch_size]
        inputs = dict(
            prompt=tf.constant(batch),
            num_chars=tf.ones([len(batch)], tf.int32),
            temperature=tf.zeros([len(batch)], tf.float32),
        )
        if "top_k" in serve.structured_input_signature[1]:
            inputs["top_k"] = tf.zeros([len(batch)], tf.int32)
        texts = serve(**inputs)["text"].numpy()
        hits += sum(t.decode("utf-8", "replace") == c
                    for t, c in zip(texts, next_chars[i : i + batch_size]))
    return hits / max(len(prompts), 1)


def qa_answers(path, questions, contexts, batch_size=64):
    """The exported QA model's answers to raw `questions` about `contexts`.

    Args:
        path: str. A published question-answering export.
        questions, contexts: sequences of bytes or str, one context per question.
        batch_size: int. Questions per call.

    Returns:
        A list of str answers.
    """
    serve = load_signature(path)
    answers = []
    for i in range(0, len(questions), batch_size):
        out = serve(question=tf.constant(questions[i : i + batch_size]),
                    context=tf.constant(contexts[i : i + batch_size]))
        answers += [a.decode("utf-8", "replace") for a in out["answer"].numpy()]
    return answers
