import os
import unicodedata

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

from modelzoo.text import wordpiece

CORPUS = [
    "Café au lait, s'il vous plaît! Naïve façade; résumé.",
    "東京は日本の首都です。北京と上海も大きい。",
    "The Denver Broncos won Super Bowl 50 — 24–10 — in 2016 (“Feb. 7”).",
    "Zoë's café-crème costs €3.50... or $4?",
] * 20


@pytest.fixture(scope="module")
def vocabulary():
    return wordpiece.learn_vocabulary(tf.data.Dataset.from_tensor_slices(CORPUS), 300)


def normalized(text):
    # What BERT's lower_case_nfd_strip_accents does to a piece's source text.
    decomposed = unicodedata.normalize("NFD", text.casefold())
    return "".join(c for c in decomposed if unicodedata.category(c) != "Mn")


def test_learned_vocabulary_starts_with_the_reserved_pieces_and_is_repeatable(vocabulary):
    assert vocabulary[:5] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    assert 5 < len(vocabulary) <= 300
    assert {"cafe", "東", ",", "denver"} <= set(vocabulary)
    again = wordpiece.learn_vocabulary(tf.data.Dataset.from_tensor_slices(CORPUS), 300)
    assert again == vocabulary


# Characters whose normalization is one character (compatibility expansions
# such as "…" → "..." are tested on their own below).
ALPHABET = st.sampled_from(list("abcdenvrofCAFÉéïüÖ 東京日本首都 ,.;!?'\"()-—–“”€$\t\n\u00a0\u3000"))


@settings(max_examples=80, deadline=None)
@given(texts=st.lists(st.text(ALPHABET, min_size=1, max_size=40), min_size=1, max_size=4))
def test_offsets_map_back_to_the_exact_source_text(vocabulary, texts):
    tokenizer = wordpiece.tokenizer(vocabulary)
    ids, starts, ends = tokenizer.tokenize_with_offsets(tf.constant(texts))
    for i, text in enumerate(texts):
        raw = text.encode("utf-8")
        pieces = [vocabulary[j] for j in ids[i].numpy()]
        spans = list(zip(starts[i].numpy().tolist(), ends[i].numpy().tolist()))
        # Group the pieces into words ("##" continues one): each word's pieces
        # spell its source text, cut at the offsets, once normalized.
        words = []
        for piece, (start, end) in zip(pieces, spans):
            if piece.startswith("##") and words:
                words[-1][0].append(piece[2:])
                words[-1][2] = end
            else:
                words.append([[piece], start, end])
        for word, start, end in words:
            source = raw[start:end].decode("utf-8")  # offsets fall on character boundaries
            assert source and source.strip() == source
            if "[UNK]" not in word:
                assert normalized(source) == "".join(word), (text, word, source)
        # Pieces follow the text in order and cover every character but spaces.
        assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))
        covered = {k for s, e in spans for k in range(s, e)}
        for k, char in enumerate(raw.decode("utf-8")):
            at = len(text[:k].encode("utf-8"))
            if not char.isspace() and unicodedata.category(char) not in ("Mn", "Cc"):
                assert at in covered, (text, char)


def test_accents_cjk_and_punctuation_become_the_expected_pieces(vocabulary):
    tokenizer = wordpiece.tokenizer(vocabulary)
    text = "Café 東京, (Broncos)!"
    ids, starts, ends = tokenizer.tokenize_with_offsets(tf.constant([text]))
    raw = text.encode()
    cut = [raw[s:e].decode() for s, e in zip(starts[0].numpy(), ends[0].numpy())]
    assert cut[:5] == ["Café", "東", "京", ",", "("]
    assert cut[-2:] == [")", "!"]
    assert "".join(cut[5:-2]) == "Broncos"
    assert [vocabulary[i] for i in ids[0].numpy()][:3] == ["cafe", "東", "京"]


def test_a_character_that_expands_is_cut_whole_from_its_first_to_its_last_piece(vocabulary):
    # NFKD-style expansions: "…" is three "." pieces; the first two have empty
    # spans at its start, so a span from the first to the last piece is "…".
    ids, starts, ends = wordpiece.tokenizer(vocabulary).tokenize_with_offsets(
        tf.constant(["a…b"]))
    assert [vocabulary[i] for i in ids[0].numpy()][1:4] == [".", ".", "."]
    assert starts[0].numpy().tolist()[1:4] == [1, 1, 1]
    assert ends[0].numpy().tolist()[1:4] == [1, 1, 4]
    assert "a…b".encode()[1:4].decode() == "…"


def test_vocabulary_files_round_trip_and_bad_vocabularies_are_named(vocabulary, tmp_path):
    path = wordpiece.save_vocabulary(vocabulary, str(tmp_path))
    assert os.path.basename(path) == "vocab.txt"
    assert wordpiece.load_vocabulary(str(tmp_path)) == vocabulary
    for bad in (["a", "b"], wordpiece.RESERVED, wordpiece.RESERVED + ["x", "x"],
                wordpiece.RESERVED + ["two\nlines"]):
        with pytest.raises(ValueError, match="`vocabulary`"):
            wordpiece.check_vocabulary(bad)
    with pytest.raises(ValueError, match="`vocab_size`"):
        wordpiece.learn_vocabulary(tf.data.Dataset.from_tensor_slices(CORPUS), 5)


def test_unknown_words_and_invalid_utf8_read_as_unk(vocabulary):
    ids = wordpiece.tokenizer(vocabulary).tokenize(tf.constant([b"\xff\xfe", b"qqqq"]))
    assert np.all(ids.flat_values.numpy() == wordpiece.UNK) or "q" in vocabulary
