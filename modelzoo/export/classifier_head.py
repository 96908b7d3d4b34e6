"""The outputs every exported classifier serves: probabilities, ids, labels."""

import numpy as np
import tensorflow as tf


def check_class_names(class_names, num_classes):
    """Returns `class_names` as a list of str, one per logit.

    Args:
        class_names: sequence of str.
        num_classes: int. Number of logits of the model.

    Returns:
        A list of str.

    Raises:
        ValueError: if the count differs from `num_classes` or a name is not
            a str.
    """
    names = list(class_names)
    if len(names) != num_classes or not all(isinstance(n, str) for n in names):
        raise ValueError(
            f"`class_names` must be {num_classes} strings, one per logit. "
            f"Received: class_names={class_names!r}"
        )
    if num_classes < 2:
        raise ValueError(
            "Exported classifiers need at least 2 logits (softmax). "
            f"Received a model with {num_classes}."
        )
    return names


def classifier_contract(input_name, input_dtype, input_shape, num_classes):
    """The signature contract (see `verify.check_signature`) of a classifier."""
    return {
        "inputs": {input_name: {"dtype": input_dtype, "shape": list(input_shape)}},
        "outputs": {
            "probabilities": {"dtype": "float32", "shape": [None, num_classes]},
            "class_ids": {"dtype": "int64", "shape": [None]},
            "labels": {"dtype": "string", "shape": [None]},
        },
    }


def classifier_outputs(logits, class_names, has_input=None):
    """Graph ops from logits to the served outputs.

    Args:
        logits: float tensor `[batch, num_classes]`.
        class_names: list of str.
        has_input: optional bool tensor `[batch]`; rows where it is False
            get uniform probabilities and class id 0 instead of the logits'
            (used for texts with no tokens, where the model gives NaN).

    Returns:
        A dict with `probabilities` float32 `[batch, num_classes]`,
        `class_ids` int64 `[batch]` and `labels` string `[batch]`.
    """
    logits = tf.cast(logits, tf.float32)
    probabilities = tf.nn.softmax(logits, axis=-1)
    # Ids come from the logits, not the rounded probabilities, so that ties
    # after float32 rounding cannot pick a different class than the model.
    class_ids = tf.argmax(logits, axis=-1, output_type=tf.int64)
    if has_input is not None:
        uniform = tf.fill(tf.shape(probabilities), 1.0 / len(class_names))
        probabilities = tf.where(has_input[:, None], probabilities, uniform)
        class_ids = tf.where(has_input, class_ids, tf.zeros_like(class_ids))
    labels = tf.gather(tf.constant(class_names, tf.string), class_ids)
    return {"probabilities": probabilities, "class_ids": class_ids, "labels": labels}


def expected_classifier_outputs(logits, class_names, has_input=None):
    """The same outputs as `classifier_outputs`, computed in numpy.

    Used to check a SavedModel against the in-memory model without reusing
    the graph code under test.

    Args:
        logits: array `[batch, num_classes]` from the in-memory model.
        class_names: list of str.
        has_input: optional bool array `[batch]` (see `classifier_outputs`).

    Returns:
        A dict of numpy arrays; `labels` holds `bytes`.
    """
    logits = np.asarray(logits, dtype=np.float32)
    wide = logits.astype(np.float64)
    shifted = np.exp(wide - wide.max(axis=-1, keepdims=True))
    probabilities = shifted / shifted.sum(axis=-1, keepdims=True)
    class_ids = np.argmax(logits, axis=-1).astype(np.int64)
    if has_input is not None:
        has_input = np.asarray(has_input, dtype=bool)
        uniform = np.full_like(probabilities, 1.0 / len(class_names))
        probabilities = np.where(has_input[:, None], probabilities, uniform)
        class_ids = np.where(has_input, class_ids, 0)
    labels = np.empty(len(class_ids), dtype=object)
    labels[:] = [class_names[i].encode("utf-8") for i in class_ids]
    return {
        "probabilities": probabilities.astype(np.float32),
        "class_ids": class_ids,
        "labels": labels,
    }
