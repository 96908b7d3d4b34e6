"""Warm-up records and model cards (`modelzoo.export.warmup`, `model_card`).

`tests.serving_helpers.check_serving_assets` is what every publishing test
of an export kind calls on its published version; the tests here cover the
pieces, the checks of the verification step and their failures.
"""

import datetime
import json
import os
import subprocess

import numpy as np
import pytest
import tensorflow as tf

from modelzoo import trainer
from modelzoo.errors import ModelzooError
from modelzoo.export import model_card, publish, verify, warmup
from tests.recipe_helpers import ROOT, parse
from tests.serving_helpers import (
    check_serving_assets,
    write_tiny_saved_model,
)

TINY_CONTRACT = {
    "serving_default": {
        "inputs": {"x": {"dtype": "float32", "shape": [None]}},
        "outputs": {"y": {"dtype": "float32", "shape": [None]}},
    }
}


def test_warmup_inputs_are_the_batch_then_its_first_row():
    batch = {"x": np.arange(3, dtype="float32"), "s": np.asarray([b"a", b"b", b"c"], object)}
    whole, first = warmup.warmup_inputs(batch)
    np.testing.assert_array_equal(whole["x"], [0, 1, 2])
    np.testing.assert_array_equal(first["x"], [0])
    assert first["s"].tolist() == [b"a"]
    assert len(warmup.warmup_inputs({"x": np.zeros(1, "float32")})) == 1


def test_warmup_records_round_trip_and_replay_as_the_server_does(tmp_path):
    path = write_tiny_saved_model(str(tmp_path / "m"))
    assert warmup.read_warmup(path) == []
    warmup.write_warmup(path, [{"x": np.float32([1, 2])}, {"x": np.float32([3])}], "m")
    logs = warmup.read_warmup(path)
    assert len(logs) == 2 and logs[0].predict_log.request.model_spec.name == "m"
    loaded = tf.saved_model.load(path)
    out = verify.run_request(loaded, logs[0].predict_log.request)
    np.testing.assert_array_equal(out["y"].numpy(), [2, 4])

    wrong_dtype = warmup.predict_request({"x": np.int64([1])}, "m")
    with pytest.raises(verify.VerifyError, match="input 'x' is int64, the signature takes float32"):
        verify.run_request(loaded, wrong_dtype)
    with pytest.raises(verify.VerifyError, match=r"inputs \['z'\], the signature takes \['x'\]"):
        verify.run_request(loaded, warmup.predict_request({"z": np.float32([1])}, "m"))
    with pytest.raises(verify.VerifyError, match="no 'other' signature"):
        verify.run_request(loaded, warmup.predict_request({"x": np.float32([1])}, "m", "other"))


def test_model_card_records_the_facts_versions_commit_and_signatures(tmp_path):
    path = write_tiny_saved_model(str(tmp_path / "m"))
    facts = {
        "model": {"name": "mlp", "builder_config": {"hidden_units": (128,)}},
        "metrics": {"accuracy": np.float32(0.75), "loss": float("nan")},
    }
    card = model_card.build_card("m", facts, path)
    assert card["model"] == {"name": "mlp", "builder_config": {"hidden_units": [128]}}
    # Strict JSON: a metric that is not a number is null.
    assert card["metrics"] == {"accuracy": 0.75, "loss": None}
    assert card["dataset"] is None and card["flags"] is None
    assert card["signatures"] == TINY_CONTRACT
    assert set(card["versions"]) == {"python", "tensorflow", "keras", "tensorflow-datasets",
                                     "modelzoo"}
    assert card["versions"]["keras"] and card["versions"]["modelzoo"] == "0.1.0"
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    assert card["git_commit"] == head.stdout.strip()
    assert datetime.datetime.fromisoformat(card["date"]).tzinfo is not None
    model_card.write_card(path, card)
    assert model_card.read_card(path) == card
    with pytest.raises(ValueError, match=r"unknown model card facts \['metric'\]"):
        model_card.build_card("m", {"metric": {}}, path)


def test_git_commit_is_null_when_not_known(monkeypatch):
    def no_git(*args, **kwargs):
        raise FileNotFoundError(2, "No such file or directory", "git")

    monkeypatch.setattr(model_card.subprocess, "run", no_git)
    assert model_card.git_commit() is None
    monkeypatch.setattr(
        model_card.subprocess, "run",
        lambda *a, **k: subprocess.CompletedProcess(a, 128, "", "fatal: not a git repository"),
    )
    assert model_card.git_commit() is None


def test_summary_line():
    card = {
        "name": "fashion_mnist_mlp", "model": {"name": "mlp"},
        "dataset": {"name": "fashion_mnist", "version": "3.0.1"},
        "metrics": {"accuracy": 0.88381, "loss": None},
        "versions": {"modelzoo": "0.1.0", "tensorflow": "2.21.0"},
        "git_commit": "0123456789abcdef", "date": "2026-11-23T12:00:00+00:00",
    }
    assert model_card.summary_line(card) == (
        "fashion_mnist_mlp: mlp on fashion_mnist 3.0.1; accuracy 0.8838, loss n/a; "
        "published 2026-11-23 by modelzoo 0.1.0, tensorflow 2.21.0, commit 0123456789ab"
    )
    assert "commit unknown" in model_card.summary_line({**card, "git_commit": None})
    assert model_card.summary_line(None) == "no model card (exported without one)"


def spec_for(path, card, count):
    return {"signature": "serving_default", "card": card, "warmup_requests": count}


def test_verify_replays_the_warmup_file_and_checks_the_card(tmp_path):
    path = write_tiny_saved_model(str(tmp_path / "m"))
    card = model_card.build_card("m", None, path)
    model_card.write_card(path, card)
    warmup.write_warmup(path, [{"x": np.float32([1, 2])}, {"x": np.float32([1])}], "m")
    assert verify.verify(path, spec_for(path, card, 2))["warmup_requests"] == 2

    with pytest.raises(verify.VerifyError, match="holds 2 records, 3 were written"):
        verify.verify(path, spec_for(path, card, 3))
    with pytest.raises(verify.VerifyError, match="differs from the one written"):
        verify.verify(path, spec_for(path, {**card, "metrics": {"accuracy": 1.0}}, 2))
    wrong = {**card, "signatures": {"serving_default": {
        "inputs": {"x": {"dtype": "int32", "shape": [None]}},
        "outputs": TINY_CONTRACT["serving_default"]["outputs"]}}}
    model_card.write_card(path, wrong)
    with pytest.raises(verify.VerifyError, match="input 'x' has dtype float32, expected int32"):
        verify.verify(path, spec_for(path, wrong, 2))
    model_card.write_card(path, card)
    warmup.write_warmup(path, [{"x": np.float32([1])}, {"x": np.int32([1])}], "m")
    with pytest.raises(verify.VerifyError, match="warm-up request 2 failed: input 'x' is int32"):
        verify.verify(path, spec_for(path, card, 2))
    with open(os.path.join(path, warmup.WARMUP_FILE), "wb") as f:
        f.write(b"not a TFRecord file")
    with pytest.raises(verify.VerifyError, match="not a TFRecord file"):
        verify.verify(path, spec_for(path, card, 2))
    os.remove(os.path.join(path, warmup.WARMUP_FILE))
    with pytest.raises(verify.VerifyError, match="no warm-up file"):
        verify.verify(path, spec_for(path, card, 2))


def test_card_facts_of_a_recipe_run():
    from modelzoo.tasks.base import task_for

    config = parse("mnist_mlp", ["--dataset=fashion_mnist", "--seed=3"])
    # The arguments the builder got: registered defaults, then the recipe's.
    assert trainer.built_as("mlp", num_classes=3, hidden_units=(8,), dropout=None) == {
        "name": "mlp", "builder_config": {
            "input_shape": (28, 28, 1), "num_classes": 3, "rescale": 1 / 255,
            "hidden_units": (8,)}}
    with tfds_mock():
        facts = task_for(config).dataset_facts()
    assert facts["name"] == "fashion_mnist" and facts["version"]
    assert set(facts["splits"]) == {"train", "test"}
    assert config.flat()["seed"] == 3 and config.flat()["epochs"] == 1
    assert config.as_dict()["model"] == {"hidden_units": [128], "dropout": 0.2, "activation": "relu"}


def tfds_mock():
    import tensorflow_datasets as tfds

    return tfds.testing.mock_data(num_examples=4)


@pytest.mark.slow
def test_publish_fails_when_a_warmup_request_fails(tmp_path, monkeypatch):
    # The records are built from the example; a wrong dtype is what a broken
    # builder would write, and TF Serving would refuse to load the version.
    monkeypatch.setattr(warmup, "warmup_inputs", lambda example: [{"x": np.int64([1])}])
    with pytest.raises(ModelzooError, match="failed verification.*warm-up request 1 fail") as info:
        publish(write_tiny_saved_model, str(tmp_path), "m", example={"x": np.float32([1, 2])})
    assert "\n" not in str(info.value)
    # Nothing is left: not even the model folder the failed publish made.
    assert not (tmp_path / "m").exists()


@pytest.mark.slow
def test_published_export_has_replayable_warmup_and_a_card(tmp_path):
    example = {"x": np.float32([1, 2, 3])}
    path = publish(write_tiny_saved_model, str(tmp_path), "m", example=example,
                   card={"metrics": {"mse": 0.25}})
    card = check_serving_assets(path, "m", example)
    assert card.pop("warmup")["x"].tolist() == [1, 2, 3]
    assert card["metrics"] == {"mse": 0.25}
    with open(os.path.join(path, model_card.MODEL_CARD_FILE), encoding="utf-8") as f:
        assert json.load(f) == card
