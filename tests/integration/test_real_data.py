"""Real data from ../shared/data: prepare, train briefly, export, score the export.

Each test fails if the real-data path breaks: TFDS's own builder offline, the
recipe on the real examples, and the published export scoring on raw test
inputs what the recipe reported. `make reproduce` is the full-size run.
"""

import json
import os
import sys

import pytest
import tensorflow_datasets as tfds

from tests.commands import run_command
from tests.recipe_helpers import MANUAL, SHARED, needs_shared, run_script


def modelzoo(*args):
    return run_command([sys.executable, "-m", "modelzoo", *args])


def summary_of(result):
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def assert_export_scores_as_trained(summary, metric):
    trained, exported = summary["metrics"][metric], summary["export_metrics"][metric]
    assert abs(trained - exported) <= 0.002, (trained, exported)


@needs_shared
@pytest.mark.slow
def test_mnist_prepared_by_tfds_from_manual_dir_trains_and_exports(real_data, tmp_path):
    # `modelzoo data prepare` ran TFDS's builder on the manual dir (see `RealData`).
    data_dir = real_data("mnist")
    result = run_script(
        "mnist_mlp", f"--manual_dir={MANUAL}", f"--data_dir={data_dir}", "--download=false",
        "--max_train_examples=6000", "--max_eval_examples=2000", "--seed=0",
        f"--export_dir={tmp_path}", mock=False,
    )
    summary = summary_of(result)
    info = tfds.builder("mnist", data_dir=str(data_dir)).info
    assert {s: info.splits[s].num_examples for s in ("train", "test")} == {
        "train": 60000, "test": 10000}
    # Real digits: one small epoch already separates them; noise would not.
    assert summary["metrics"]["accuracy"] > 0.85
    assert_export_scores_as_trained(summary, "accuracy")


@needs_shared
@pytest.mark.slow
def test_vit_on_real_mnist_learns_and_its_export_scores_alike(real_data, tmp_path):
    data_dir = real_data("mnist")
    # Half the data for one epoch: 0.92 here, 0.64 on a fifth (make
    # reproduce's full run: ≥ 0.97).
    result = run_script(
        "mnist_vit", f"--manual_dir={MANUAL}", f"--data_dir={data_dir}", "--download=false",
        "--max_train_examples=30000", "--max_eval_examples=2000", "--batch_size=128",
        "--warmup_steps=20", "--seed=0", f"--export_dir={tmp_path}", mock=False,
    )
    summary = summary_of(result)
    assert summary["metrics"]["accuracy"] > 0.85
    assert_export_scores_as_trained(summary, "accuracy")


@needs_shared
@pytest.mark.slow
def test_tiny_shakespeare_prepared_by_tfds_trains_a_generator(tmp_path):
    # A fresh data dir: the recipe itself prepares the corpus from --manual_dir.
    data_dir = tmp_path / "tfds"
    result = run_script(
        "shakespeare_lstm", f"--manual_dir={MANUAL}", f"--data_dir={data_dir}",
        "--download=false", "--max_train_examples=10000", "--sequence_length=32", "--epochs=3",
        "--lstm_units=128", "--batch_size=32", "--seed=0", f"--export_dir={tmp_path}", mock=False,
    )
    summary = summary_of(result)
    info = tfds.builder("tiny_shakespeare", data_dir=str(data_dir)).info
    assert sorted(info.splits) == ["test", "train", "validation"]
    # Karpathy's corpus starts with this line; the mock data does not.
    train = next(iter(tfds.load("tiny_shakespeare", split="train", data_dir=str(data_dir))))
    assert train["text"].numpy().startswith(b"First Citizen:\nBefore we proceed any further")
    # Always guessing a space, the commonest character, scores about 0.16.
    assert summary["metrics"]["next_char_accuracy"] > 0.25
    assert_export_scores_as_trained(summary, "next_char_accuracy")


def test_prepare_names_a_corrupt_file_and_leaves_no_dataset(tmp_path):
    manual = tmp_path / "manual"
    manual.mkdir()
    (manual / "input.txt").write_text("First Citizen:\nnot the original corpus\n")
    out = tmp_path / "tfds"
    result = modelzoo("data", "prepare", "--name", "tiny_shakespeare",
                      "--manual_dir", str(manual), "--data_dir", str(out))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith(f"modelzoo: error: {manual / 'input.txt'}: checksum does not match")
    assert "Traceback" not in result.stderr
    assert not list(out.rglob("*.tfrecord*")) and not (out / "tiny_shakespeare").exists()


def test_prepare_names_missing_files_without_touching_the_network(tmp_path):
    manual = tmp_path / "manual"
    manual.mkdir()
    (manual / "train-labels-idx1-ubyte.gz").write_bytes(b"")
    result = modelzoo("data", "prepare", "--name", "mnist", "--manual_dir", str(manual),
                      "--data_dir", str(tmp_path / "tfds"))
    assert result.returncode == 1
    message = result.stderr.strip().splitlines()[-1]
    assert "lacks t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz, " \
           "train-images-idx3-ubyte.gz" in message
    assert "Traceback" not in result.stderr


@needs_shared
@pytest.mark.slow
def test_imdb_imported_trains_a_transformer_and_exports(real_data, tmp_path):
    data_dir = real_data("imdb_reviews")
    # Imported once per test run; this import finds it and describes it.
    imported = modelzoo("data", "import-imdb", "--src",
                        str(SHARED / "imdb_reviews" / "aclImdb_labelled.tar.gz"),
                        "--data_dir", str(data_dir))
    assert summary_of(imported)["splits"] == {"train": 25000, "test": 25000}
    result = run_script(
        "imdb_transformer", f"--data_dir={data_dir}", "--download=false", "--seed=0",
        "--max_train_examples=4000", "--max_eval_examples=1000", "--vocab_size=5000",
        "--sequence_length=128", "--embed_dim=16", f"--export_dir={tmp_path}", mock=False,
    )
    summary = summary_of(result)
    # Real reviews carry sentiment words; 4,000 of them already beat chance.
    assert summary["metrics"]["accuracy"] > 0.6
    assert_export_scores_as_trained(summary, "accuracy")


@needs_shared
@pytest.mark.slow
def test_squad_dev_articles_train_a_reader_and_the_export_scores_alike(real_data, tmp_path):
    data_dir = real_data("squad")
    imported = modelzoo("data", "import-squad", "--src", str(MANUAL / "dev-v1.1.json"),
                        "--data_dir", str(data_dir))
    assert summary_of(imported)["splits"] == {"train": 8595, "validation": 1975}
    result = run_script(
        "squad_qa", f"--data_dir={data_dir}", "--download=false", "--seed=0",
        "--max_train_examples=400", "--max_eval_examples=150", f"--export_dir={tmp_path}",
        # The test's 8-wide encoder under the default reader (4 LSTM units each
        # way) learns nothing in 50 steps and answers every question at one
        # position (F1 0.0); make reproduce measures the reader on this data.
        "--reader_layers=0", mock=False,
    )
    summary = summary_of(result)
    # Any span of a real context shares some words with the gold answers.
    assert summary["metrics"]["f1"] > 0
    for metric in ("exact_match", "f1"):
        assert_export_scores_as_trained(summary, metric)
    assert summary["skipped_examples"] < 40  # real answers are found in their contexts


@needs_shared
@pytest.mark.slow
def test_pretraining_on_real_text_then_fine_tuning_on_squad(real_data, tmp_path):
    data_dir = real_data("imdb_reviews", "squad")
    checkpoint = tmp_path / "bert"
    pretrained = summary_of(run_script(
        "bert_pretrain", f"--data_dir={data_dir}", "--download=false", "--seed=0",
        "--max_train_examples=300", "--vocab_size=2000", "--learning_rate=5e-3",
        "--validation_fraction=0.05", "--dataset=imdb_reviews,squad", "--span_questions=1000",
        f"--output_dir={checkpoint}", f"--preset_dir={tmp_path / 'presets'}", mock=False,
    ))
    # The pre-trained backbone is a preset: it loads in safe mode, with its vocabulary.
    from modelzoo import presets

    preset = pretrained["preset_path"]
    assert preset == str(tmp_path / "presets" / "bert_pretrain" / "1")
    assert [row["name"] for row in presets.list_presets(str(tmp_path / "presets"))] == [
        "bert_pretrain"]
    backbone = presets.from_preset(preset)
    assert len(backbone.vocabulary) == pretrained["vocab_size"]
    assert backbone.preset["metrics"]["loss"] == pytest.approx(pretrained["metrics"]["loss"])
    assert sorted(os.listdir(os.path.join(preset, "assets"))) == ["vocab.txt"]
    # 300 reviews, then the distinct contexts of 300 questions (267).
    assert pretrained["documents"] == 567
    # Real text has structure to learn: the masked-LM loss falls well below
    # its start (about ln(vocabulary size)).
    assert pretrained["metrics"]["loss"] < pretrained["initial_metrics"]["loss"] - 1.0
    # Then span selection: one cloze question per document, answered better.
    span = pretrained["span_selection"]
    assert span["train_questions"] + span["validation_questions"] > 500
    assert span["metrics"]["loss"] < span["initial_metrics"]["loss"] - 0.5
    summary = summary_of(run_script(
        "squad_qa", f"--data_dir={data_dir}", "--download=false", "--seed=0",
        "--init_preset=bert_pretrain", f"--preset_dir={tmp_path / 'presets'}",
        "--max_train_examples=300", "--max_eval_examples=100", f"--export_dir={tmp_path}",
        mock=False,
    ))
    assert summary["init_preset"] == "bert_pretrain"
    assert summary["vocab_size"] == pretrained["vocab_size"]
    for metric in ("exact_match", "f1"):
        assert_export_scores_as_trained(summary, metric)
