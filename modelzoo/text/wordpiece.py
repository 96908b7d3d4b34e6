"""WordPiece vocabularies and tokenizers from TF Text, shared by training and export.

The vocabulary is learned with TF Text's own tool
(`bert_vocab_from_dataset`), and text is tokenized with
`tensorflow_text.FastBertTokenizer`: lowercased, accents stripped, split into
words and punctuation as BERT does, then into WordPiece pieces. Its offsets
are byte offsets into the original text, so an answer cut at them is an
exact substring of what the user sent. Its two ops (`FastBertNormalize`,
`FastWordpieceTokenizeWithOffsets`) exist in TF Text 2.12, which TF Serving
2.16-2.19 links.
"""

import os

import tensorflow as tf
import tensorflow_text as tf_text
from tensorflow_text.tools.wordpiece_vocab import bert_vocab_from_dataset

RESERVED = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
PAD, UNK, CLS, SEP, MASK = range(len(RESERVED))
VOCAB_FILE = "vocab.txt"


def learn_vocabulary(texts, vocab_size):
    """Learns a WordPiece vocabulary of at most `vocab_size` entries.

    Args:
        texts: a `tf.data.Dataset` of string scalars (the corpus).
        vocab_size: int. Most entries, `RESERVED` included.

    Returns:
        A list of str: `RESERVED`, then the learned pieces.

    Raises:
        ValueError: `vocab_size` leaves no room after `RESERVED`.

    Example:
    >>> texts = tf.data.Dataset.from_tensor_slices(["the cat sat", "the cats sat"])
    >>> learn_vocabulary(texts, 40)[:6]
    ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'a']
    """
    if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or (
        vocab_size <= len(RESERVED)
    ):
        raise ValueError(
            f"`vocab_size` must be an integer > {len(RESERVED)}. Received: vocab_size={vocab_size!r}"
        )
    learned = bert_vocab_from_dataset.bert_vocab_from_dataset(
        texts.batch(1024).prefetch(2),
        vocab_size=vocab_size,
        reserved_tokens=RESERVED,
        bert_tokenizer_params={"lower_case": True},
        learn_params={},
    )
    return check_vocabulary(learned[:vocab_size])


def check_vocabulary(vocabulary):
    """Returns `vocabulary` as a list of str, checked.

    Raises:
        ValueError: it does not start with `RESERVED`, has no other entry,
            or has duplicate, empty or non-str entries.
    """
    vocabulary = list(vocabulary)
    if vocabulary[: len(RESERVED)] != RESERVED or len(vocabulary) <= len(RESERVED):
        raise ValueError(f"`vocabulary` must start with {RESERVED} and hold at least one piece.")
    if not all(isinstance(v, str) and v and "\n" not in v for v in vocabulary) or len(
        set(vocabulary)
    ) != len(vocabulary):
        raise ValueError("`vocabulary` entries must be distinct non-empty one-line str.")
    return vocabulary


def save_vocabulary(vocabulary, directory):
    """Writes `directory/vocab.txt`, one piece per line (BERT's format)."""
    path = os.path.join(directory, VOCAB_FILE)
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(check_vocabulary(vocabulary)) + "\n")
    return path


def load_vocabulary(directory):
    """Reads `directory/vocab.txt` as written by `save_vocabulary`."""
    with open(os.path.join(directory, VOCAB_FILE), encoding="utf-8") as f:
        return check_vocabulary(f.read().splitlines())


def tokenizer(vocabulary):
    """The tokenizer of `vocabulary`: `tensorflow_text.FastBertTokenizer`.

    Returns:
        A `FastBertTokenizer` whose `tokenize_with_offsets(texts)` gives int64
        ids and byte `starts`/`ends` into the original texts, each ragged
        `[batch, (pieces)]`. Unknown words are `[UNK]`; invalid UTF-8 bytes
        are read as unknown words.

    Example:
    >>> ids, starts, ends = tokenizer(RESERVED + ["the", "cat", "##s"]).tokenize_with_offsets(
    ...     tf.constant(["The cats"]))
    >>> ids.to_list(), starts.to_list(), ends.to_list()
    ([[5, 6, 7]], [[0, 4, 7]], [[3, 7, 8]])
    """
    return tf_text.FastBertTokenizer(
        check_vocabulary(vocabulary),
        token_out_type=tf.int64,
        unknown_token=RESERVED[UNK],
        lower_case_nfd_strip_accents=True,
    )
