"""Masked-LM pre-training: packing, BERT's 80/10/10 masking, the recipe (loss falls)."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from modelzoo.errors import UsageError
from modelzoo.models import bert
from modelzoo.tasks import masked_lm
from modelzoo.text import wordpiece
from tests.recipe_helpers import parse, run_recipe, run_script

VOCAB = wordpiece.RESERVED + "the cat sat on mat a dog ran".split()


def test_pack_joins_documents_with_sep_into_cls_sep_rows():
    tokenizer = wordpiece.tokenizer(VOCAB)
    rows = masked_lm.pack(tokenizer, [b"the cat sat", b"a dog ran on the mat", b"cat"], 6)
    # Pieces: the cat sat [SEP] a dog ran on the mat [SEP] cat [SEP] = 13, 4 per row.
    assert rows.shape == (3, 6) and rows.dtype == np.int32
    assert (rows[:, 0] == wordpiece.CLS).all() and (rows[:, -1] == wordpiece.SEP).all()
    body = rows[:, 1:-1].ravel().tolist()
    want = [VOCAB.index(w) if w != "|" else wordpiece.SEP
            for w in "the cat sat | a dog ran on the mat | cat".split()]
    assert body == want[:12]


def test_read_texts_strips_html_line_breaks_and_repeats():
    config = parse("bert_pretrain", ["--dataset=imdb_reviews,squad"])
    texts = masked_lm.read_texts(config.data, {
        "imdb_reviews": tf.data.Dataset.from_tensor_slices({"text": [b"Fine.<br /><br />Next<br/>"]}),
        "squad": tf.data.Dataset.from_tensor_slices({"context": [b"Same.", b"Same.", b"Other."]}),
    })
    assert texts == [b"Fine.  Next ", b"Same.", b"Other."]


def test_masking_follows_bert_15_percent_and_80_10_10():
    tf.random.set_seed(0)
    vocab_size, length, rows = 1000, 128, 400
    rng = np.random.default_rng(0)
    ids = rng.integers(len(wordpiece.RESERVED), vocab_size, (rows, length)).astype("int32")
    ids[:, 0], ids[:, -1] = wordpiece.CLS, wordpiece.SEP
    features, labels, weights = masked_lm.masker(vocab_size, 21)(tf.constant(ids))
    masked = features["token_ids"].numpy()
    positions = features["mask_positions"].numpy()
    labels, weights = labels.numpy(), weights.numpy()
    assert positions.shape == labels.shape == weights.shape == (rows, 21)
    chosen = weights.sum()
    # 15 % of the 126 maskable pieces per row (never [CLS] or [SEP]).
    assert chosen / (rows * (length - 2)) == pytest.approx(0.15, abs=0.01)
    picked = positions[weights > 0]
    row_of = np.nonzero(weights > 0)[0]
    assert ((picked > 0) & (picked < length - 1)).all()
    np.testing.assert_array_equal(labels[weights > 0], ids[row_of, picked])
    became = masked[row_of, picked]
    share_mask = (became == wordpiece.MASK).mean()
    share_same = (became == ids[row_of, picked]).mean()
    assert share_mask == pytest.approx(0.8, abs=0.02)
    assert share_same == pytest.approx(0.1, abs=0.02)
    assert 1 - share_mask - share_same == pytest.approx(0.1, abs=0.02)
    # Pieces not chosen are untouched.
    untouched = np.ones_like(ids, bool)
    untouched[row_of, picked] = False
    np.testing.assert_array_equal(masked[untouched], ids[untouched])


@pytest.mark.slow
def test_pretraining_lowers_the_masked_lm_loss_and_writes_a_checkpoint(tmp_path):
    out = tmp_path / "ckpt"
    summary = run_recipe("bert_pretrain", f"--output_dir={out}", "--seed=0", "--epochs=3",
                         "--learning_rate=1e-2", num_examples=64)
    # Mock text is random words: the model can learn their frequencies only.
    # (tests/integration/test_real_data.py pre-trains on real text.)
    assert summary["metrics"]["loss"] < summary["initial_metrics"]["loss"] - 0.1
    assert sorted(os.listdir(out)) == ["backbone.json", "backbone.weights.h5", "vocab.txt"]
    config, vocabulary = bert.read_checkpoint(str(out))
    assert config["vocab_size"] == len(vocabulary) == summary["vocab_size"]
    before = sorted(os.listdir(out))
    with pytest.raises(UsageError, match="already exists; a checkpoint is never overwritten"):
        run_recipe("bert_pretrain", f"--output_dir={out}")
    assert sorted(os.listdir(out)) == before


@pytest.mark.parametrize("flag, message", [
    ("--mask_selection_rate=1.5", "--mask_selection_rate=1.5 must be in"),
    ("--validation_fraction=0", "--validation_fraction=0.0 must be in"),
    ("--vocab_size=3", "--vocab_size=3 must be an integer >= 6"),
    ("--dataset=wikipedia", "--dataset='wikipedia' is not supported"),
    ("--batch_size=4096", "fewer than one --batch_size=4096 batch to train on"),
    ("--span_questions=100", r"the text gives \d+ cloze questions, \d+ held out: fewer than one"),
    ("--span_questions=-1", "--span_questions=-1 must be an integer >= 0"),
    ("--span_questions_per_text=0", "--span_questions_per_text=0 must be a positive integer"),
    ("--span_epochs=0", "--span_epochs=0 must be a positive integer"),
])
def test_bad_flags_are_usage_errors(tmp_path, flag, message):
    with pytest.raises(UsageError, match=message):
        run_recipe("bert_pretrain", f"--output_dir={tmp_path / 'ckpt'}", flag)
    assert not (tmp_path / "ckpt").exists()


@pytest.mark.slow
def test_seed_makes_pretraining_repeatable(tmp_path):
    # Two commands, as a user reruns one: the same vocabulary, masks, metrics
    # and weights, bit for bit. (TF Text's default shuffle raced in threads.)
    first, second = (
        json.loads(run_script("bert_pretrain", f"--output_dir={tmp_path / name}", "--seed=3",
                              subprocess_only=True).stdout.strip().splitlines()[-1])
        for name in ("a", "b")
    )
    for key in ("initial_metrics", "metrics", "vocab_size", "train_rows"):
        assert first[key] == second[key], key
    assert ((tmp_path / "a" / "backbone.weights.h5").read_bytes()
            == (tmp_path / "b" / "backbone.weights.h5").read_bytes())
    assert (tmp_path / "a" / "vocab.txt").read_text() == (tmp_path / "b" / "vocab.txt").read_text()


def sentences(count, seed):
    """Documents of plain sentences with names, places and years to ask about."""
    rng = np.random.default_rng(seed)
    names = "Alice Bob Carol Dmitri Erin Farah Goran Hana".split()
    places = "Boston Lagos Quito Oslo Pune Perth Riga Turin".split()
    verbs = "moved to|was born in|studied music in|opened a shop in|painted murals in".split("|")
    docs = []
    for _ in range(count):
        docs.append(" ".join(
            f"In {rng.integers(1900, 2020)} {rng.choice(names)} {rng.choice(places[:4])} "
            f"{rng.choice(verbs)} {rng.choice(places)} with friends."
            for _ in range(4)
        ).encode())
    return docs


@pytest.mark.parametrize("per_text", [1, 2])
def test_cloze_questions_take_at_most_per_text_from_each_document(per_text):
    config = parse("bert_pretrain", [
        f"--span_questions_per_text={per_text}", "--span_questions=1000", "--batch_size=8",
        "--validation_fraction=0.1", "--seed=0"])
    docs = sentences(40, 1)
    train, held_out = masked_lm.cloze_questions(docs, config)
    contexts = list(train["context"]) + list(held_out["context"])
    # Each document's four sentences fit in one context, so a context names its document.
    per_document = [sum(c in doc for c in contexts) for doc in docs]
    assert max(per_document) == per_text and sum(per_document) == len(contexts) > 40 * (per_text - 1)
    assert len(held_out["question"]) == int(len(contexts) * 0.1)
    for part in (train, held_out):
        for context, start, end in zip(part["context"], part["answer_start"], part["answer_end"]):
            assert 0 <= start < end <= len(context)


def span_selection_run(tmp_path, name):
    texts = tf.data.Dataset.from_tensor_slices({"text": sentences(300, 0)})
    return run_recipe(
        "bert_pretrain", f"--output_dir={tmp_path / name}", "--seed=0", "--epochs=1",
        "--sequence_length=64", "--embed_dim=32", "--ff_dim=64", "--span_questions=300",
        "--span_epochs=4", "--span_learning_rate=3e-3", "--dataset=imdb_reviews",
        "--span_questions_per_text=1",  # 300 questions from 300 documents, as it was tuned.
        datasets_override={"imdb_reviews": texts},
    )


@pytest.mark.slow
def test_span_selection_learns_to_answer_cloze_questions_repeatably(tmp_path):
    first = span_selection_run(tmp_path, "a")
    span = first["span_selection"]
    assert span["train_questions"] + span["validation_questions"] == 300
    # Chance is about 1 in 40 positions; the answer is the span the question leaves out.
    assert span["initial_metrics"]["accuracy"] < 0.1
    assert span["metrics"]["accuracy"] > 0.4
    again = span_selection_run(tmp_path, "b")["span_selection"]
    for key in ("initial_metrics", "metrics", "train_questions"):
        assert again[key] == span[key], key
    # In one process Keras numbers layer names, so the files' bytes differ.
    for got, want in zip(*(checkpoint_weights(tmp_path / name) for name in "ab")):
        np.testing.assert_array_equal(got, want)


def checkpoint_weights(path):
    config, _ = bert.read_checkpoint(str(path))
    backbone = bert.build_bert_backbone(**dict(config, dtype=None))
    backbone.load_weights(str(path / bert.WEIGHTS_FILE))
    return backbone.get_weights()
