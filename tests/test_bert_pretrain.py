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
from tests.recipe_helpers import run_recipe, run_script

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
    # (tests/test_real_data.py pre-trains on real text.)
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
    ("--vocab_size=3", "--vocab_size=3 must be an integer > 5"),
    ("--dataset=wikipedia", "--dataset='wikipedia' is not supported"),
    ("--batch_size=4096", "fewer than one --batch_size=4096 batch to train on"),
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
        json.loads(run_script("bert_pretrain", f"--output_dir={tmp_path / name}", "--seed=3")
                   .stdout.strip().splitlines()[-1])
        for name in ("a", "b")
    )
    for key in ("initial_metrics", "metrics", "vocab_size", "train_rows"):
        assert first[key] == second[key], key
    assert ((tmp_path / "a" / "backbone.weights.h5").read_bytes()
            == (tmp_path / "b" / "backbone.weights.h5").read_bytes())
    assert (tmp_path / "a" / "vocab.txt").read_text() == (tmp_path / "b" / "vocab.txt").read_text()
