"""The character vocabulary and its one character → id table.

Training (`data/pipelines.char_sequences`, the greedy accuracy) and the
generator exports (`export/char_sampling.CharSampler`, its plain checks)
all read characters through `char_table`, so they cannot disagree.
"""

import tensorflow as tf

__all__ = ["char_ids", "char_table", "char_vocabulary", "check_char_vocabulary"]


def char_vocabulary(text):
    """Returns `["", *sorted characters of text]`; id 0 is the unknown character.

    Example:
    >>> char_vocabulary("abca")
    ['', 'a', 'b', 'c']
    """
    return [""] + sorted(set(text))


def char_table(vocabulary):
    """The table from character to int64 id; characters not in it map to 0.

    Args:
        vocabulary: list of str from `char_vocabulary`.

    Returns:
        A `tf.lookup.StaticHashTable` (a resource an export must track).
    """
    return tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(
            tf.constant(vocabulary[1:], tf.string), tf.range(1, len(vocabulary), dtype=tf.int64)
        ),
        default_value=0,
    )


def char_ids(table, text):
    """The ids of the characters of `text` (str, or a string tensor of any rank).

    Invalid UTF-8 becomes U+FFFD, which is unknown (id 0) unless in the
    vocabulary.

    Returns:
        int64 ids: `[chars]` for a scalar, ragged `[batch, (chars)]` for a vector.

    Example:
    >>> table = char_table(char_vocabulary("abc"))
    >>> char_ids(table, "cab!").numpy().tolist()
    [3, 1, 2, 0]
    """
    return table.lookup(tf.strings.unicode_split(text, "UTF-8", errors="replace"))


def check_char_vocabulary(vocabulary, vocab_size):
    """Returns `vocabulary` as a list of str after checking it fits a model.

    Args:
        vocabulary: sequence of str; `vocabulary[0]` is the unknown id and
            every other entry is one character (one code point), all distinct.
        vocab_size: int. The model's number of logits (and token ids).

    Returns:
        A list of str.

    Raises:
        ValueError: on a size mismatch, a duplicate or a multi-character entry.

    Example:
    >>> check_char_vocabulary(["", "a", "b"], 3)
    ['', 'a', 'b']
    """
    if isinstance(vocabulary, str):
        raise ValueError(f"`vocabulary` must be a list of str. Received: vocabulary={vocabulary!r}")
    vocabulary = list(vocabulary)
    if len(vocabulary) < 2:
        raise ValueError("`vocabulary` needs the unknown id 0 and at least one character.")
    if len(vocabulary) != vocab_size:
        raise ValueError(
            f"`vocabulary` has {len(vocabulary)} entries but the model has "
            f"{vocab_size} logits; they must match."
        )
    letters = vocabulary[1:]
    single = all(isinstance(c, str) and len(c) == 1 for c in letters)
    if not single or len(set(letters)) != len(letters):
        raise ValueError("`vocabulary[1:]` must be distinct single characters (code points).")
    return vocabulary
