"""Scoring a published SavedModel on raw test inputs, as TF Serving would run it.

A recipe reports the metric of its in-memory Keras model; `export_metrics`
computes the same metric from what was exported, fed what a client sends
(uint8 pixels, review strings, prompts, questions). The two agreeing shows
there is no skew between training and serving. The export's kind (its
model card, else its signature) picks the client that scores it
(`modelzoo.clients`); nothing here imports tasks or training.
"""

import numpy as np
import tensorflow_text  # noqa: F401 - the ops a QA export's tokenizer uses

from modelzoo.data import pipelines


def load_signature(path):
    """The `serving_default` signature of the SavedModel at `path`.

    Called as TF Serving calls it: optional inputs (those with a
    SignatureDef default) may be left out (`verify.ServedSignature`).
    """
    from modelzoo.export.verify import ServedSignature

    return ServedSignature(path)


def client_of(path, serve):
    """The `clients.Client` of the export at `path` (its `serve` loaded)."""
    from modelzoo.clients import client_for
    from modelzoo.predict import card_kind

    return client_for(serve.specs, card_kind(path))


def export_metrics(path, inputs, targets):
    """The metrics of the export at `path` on raw test `inputs`.

    Args:
        path: str or None. A published export; None (a worker that did not
            publish) gives None.
        inputs: what a client sends, one per example: uint8 pixels, image
            bytes, texts or prompts (an array or list), or for question
            answering a `(questions, contexts)` pair.
        targets: the true class ids, next characters, or gold answer lists.

    Returns:
        dict: `accuracy` (classifiers), `next_char_accuracy` (generators), or
        `exact_match` and `f1` (question answering); None without a path.

    Example:
    >>> export_metrics("saved_models/mnist_cnn/1", images, labels)  # doctest: +SKIP
    {'accuracy': 0.994}
    """
    if not path:
        return None
    serve = load_signature(path)
    return client_of(path, serve).score(serve, inputs, targets)


def split_arrays(test, max_examples=None):
    """`(inputs, labels)` numpy arrays of a supervised raw test split, as evaluated."""
    return pipelines.as_arrays(pipelines.take(test, max_examples))


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
