"""The Python API: `modelzoo.train`, `modelzoo.experiments`, `modelzoo.get_config`."""

import json
import os
import subprocess
import sys

import pytest

import modelzoo
from modelzoo.errors import UsageError
from modelzoo.recipe.flags import as_flags
from tests.recipe_helpers import MANUAL, RECIPES, ROOT, needs_shared


def test_every_recipe_is_a_registered_experiment():
    assert modelzoo.experiments() == RECIPES
    assert modelzoo.experiments("mnist_*") == ["mnist_cnn", "mnist_mlp", "mnist_vit"]


def test_get_config_applies_overrides_in_any_section():
    config = modelzoo.get_config("imdb_transformer", epochs=1, embed_dim=16, data_dir="D",
                                 export_dir="E", clipnorm=1.0)
    assert (config.training.epochs, config.model.embed_dim, config.data.data_dir,
            config.export.export_dir, config.optimizer.clipnorm) == (1, 16, "D", "E", 1.0)
    # A fresh copy each time: editing one never changes the registered defaults.
    config.training.epochs = 7
    assert modelzoo.get_config("imdb_transformer").training.epochs == 2


def test_unknown_names_and_fields_list_the_known_ones():
    with pytest.raises(UsageError, match="unknown experiment 'resnet'; known experiments: "
                       "bert_pretrain, flowers_resnet50, imdb_transformer"):
        modelzoo.get_config("resnet")
    with pytest.raises(UsageError, match=r"unknown config field\(s\) epoch for "
                       r"ImageClassificationConfig; known fields: .*\bepochs\b"):
        modelzoo.get_config("mnist_mlp", epoch=3)
    with pytest.raises(UsageError, match="unknown experiment"):
        modelzoo.train("resnet")


@pytest.mark.parametrize("overrides, message", [
    (dict(epochs=0), "--epochs=0 must be a positive integer"),
    (dict(epochs="3"), "--epochs='3' must be an integer"),
    (dict(dropout=1.5), r"--dropout=1.5 must be in \[0, 1\)"),
    (dict(learning_rate=float("nan")), "--learning_rate=nan must be a finite number"),
    (dict(seed=-1), r"--seed=-1 must be in \[0, 4294967295\]"),
    (dict(version=2**63), "--version=9223372036854775808 is too large"),
    (dict(batch_size=2**31), "--batch_size=2147483648 is too large; the largest is 2147483647"),
    (dict(dataset="cifar10"), "--dataset='cifar10' is not supported; use one of: mnist"),
    (dict(strategy="gpu"), "--strategy='gpu' is unknown; use one of: default"),
    (dict(hidden_units=(128, 0)), "--hidden_units=128,0 must be positive integers"),
    (dict(export_dir=""), "--export_dir is empty"),
    (dict(name=""), "--name is empty"),
    (dict(name="a/b"), "--name='a/b' must be a plain folder name"),
])
def test_a_bad_field_is_refused_when_the_config_is_made(overrides, message):
    with pytest.raises(UsageError, match=message):
        modelzoo.get_config("mnist_mlp", **overrides)


def test_an_edited_config_is_checked_again_before_training(tmp_path):
    config = modelzoo.get_config("mnist_mlp", export_dir=str(tmp_path))
    config.training.epochs = -1
    with pytest.raises(UsageError, match="--epochs=-1 must be a positive integer"):
        modelzoo.train(config)
    assert os.listdir(tmp_path) == []


@needs_shared
@pytest.mark.slow
def test_python_and_command_line_runs_give_the_same_metrics(tmp_path):
    """Real MNIST, same config and seed: `modelzoo.train` in process, no absl
    flag parsing, and the recipe as a command."""
    settings = dict(manual_dir=str(MANUAL), data_dir=str(tmp_path / "tfds"), download=False,
                    epochs=1, batch_size=64, max_train_examples=3000, max_eval_examples=1000,
                    seed=0)
    summary = modelzoo.train("mnist_mlp", export_dir=str(tmp_path / "py"), **settings)
    assert summary["model"] == "mlp" and summary["dataset"] == "mnist"
    assert summary["export_path"] == str(tmp_path / "py" / "mnist_mlp" / "1")
    assert summary["metrics"]["accuracy"] > 0.85  # real digits, one small epoch
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "recipes", "mnist_mlp.py"),
         *as_flags(dict(settings, export_dir=str(tmp_path / "cli")))],
        capture_output=True, text=True, timeout=600,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    assert result.returncode == 0, result.stderr[-2000:]
    command = json.loads(result.stdout.strip().splitlines()[-1])
    assert command["metrics"] == summary["metrics"]
    assert command["export_metrics"] == summary["export_metrics"]
