"""Preemption: a run killed with SIGKILL resumes from its last backup."""

import json
import os
import signal
import subprocess
import sys

import pytest

from tests.recipe_helpers import ROOT, signal_when

pytestmark = pytest.mark.slow

MOCK = (
    "import runpy, sys; import tensorflow_datasets as tfds\n"
    "sys.argv = sys.argv[1:]\n"
    "with tfds.testing.mock_data(num_examples=3000):\n"
    "    runpy.run_path(sys.argv[0], run_name='__main__')\n"
)


def command(tmp_path, *args):
    return [
        sys.executable, "-c", MOCK, os.path.join(ROOT, "recipes", "mnist_cnn.py"),
        "--epochs=4", "--batch_size=32", "--filters=8,16", "--dense_units=32", "--seed=3",
        f"--model_dir={tmp_path / 'run'}", f"--export_dir={tmp_path / 'exports'}", *args,
    ]


def run(tmp_path, *args):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run(command(tmp_path, *args), capture_output=True, text=True,
                          timeout=600, env=env)


def start_and_kill_after_first_backup(tmp_path):
    metadata = tmp_path / "run" / "backup" / "training_metadata.json"
    _, output, _ = signal_when(command(tmp_path), metadata.exists, signal.SIGKILL,
                               "its first backup", stderr=subprocess.DEVNULL)
    return output


def test_killed_run_resumes_from_its_backup_and_exports_once(tmp_path):
    first = start_and_kill_after_first_backup(tmp_path)
    assert "Epoch 1/4" in first and '"export_path"' not in first
    backed_up = json.loads((tmp_path / "run" / "backup" / "training_metadata.json").read_text())
    assert backed_up["epoch"] >= 1

    second = run(tmp_path)
    assert second.returncode == 0, second.stderr[-2000:]
    epochs_logged = [l.split()[1] for l in second.stdout.splitlines() if l.startswith("Epoch ")]
    assert epochs_logged[0] == f"{backed_up['epoch'] + 1}/4", epochs_logged
    assert epochs_logged[-1] == "4/4"
    summary = json.loads(second.stdout.strip().splitlines()[-1])
    assert summary["epochs_run"] == 4 - backed_up["epoch"]
    checkpoints = sorted(os.listdir(tmp_path / "run" / "checkpoints"))
    assert checkpoints == [f"epoch-00{i}.weights.h5" for i in range(1, 5)]
    assert sorted(os.listdir(tmp_path / "exports" / "mnist_cnn")) == ["1"]
    # A finished run drops its backup, so the next run starts afresh.
    assert not (tmp_path / "run" / "backup").exists()


def test_corrupt_backup_is_named_and_fresh_start_sets_it_aside(tmp_path):
    backup = tmp_path / "run" / "backup"
    backup.mkdir(parents=True)
    (backup / "latest.weights.h5").write_bytes(b"not an h5 file")
    (backup / "training_metadata.json").write_text('{"epoch": 2, "batch": 0}')

    failed = run(tmp_path)
    assert failed.returncode == 1
    assert "Traceback" not in failed.stderr
    line = failed.stderr.strip().splitlines()[-1]
    assert str(backup / "latest.weights.h5") in line and "--fresh_start" in line
    assert (backup / "latest.weights.h5").read_bytes() == b"not an h5 file"

    fresh = run(tmp_path, "--fresh_start")
    assert fresh.returncode == 0, fresh.stderr[-2000:]
    assert json.loads(fresh.stdout.strip().splitlines()[-1])["epochs_run"] == 4
    kept = [p for p in os.listdir(tmp_path / "run") if p.startswith("backup.discarded-")]
    assert len(kept) == 1
    assert (tmp_path / "run" / kept[0] / "latest.weights.h5").read_bytes() == b"not an h5 file"


def test_corrupt_backup_metadata_is_named(tmp_path):
    backup = tmp_path / "run" / "backup"
    backup.mkdir(parents=True)
    (backup / "training_metadata.json").write_text("{epoch: ")
    failed = run(tmp_path)
    assert failed.returncode == 1
    assert str(backup / "training_metadata.json") in failed.stderr.strip().splitlines()[-1]
