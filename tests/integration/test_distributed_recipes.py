"""Recipes under `mirrored` and `multi_worker`, against one-process runs."""

import json
import os
import subprocess
import sys

import pytest

from tests.recipe_helpers import ROOT, free_ports, tiny_flags

pytestmark = pytest.mark.slow

MOCK = (
    "import runpy, sys; import tensorflow_datasets as tfds\n"
    "sys.argv = sys.argv[1:]\n"
    "with tfds.testing.mock_data(num_examples=256):\n"
    "    runpy.run_path(sys.argv[0], run_name='__main__')\n"
)
# Same data, seed and GLOBAL batch in every run; only the strategy differs.
COMMON = ["--epochs=2", "--batch_size=32", "--seed=5", "--dropout=0"]


def command(*args):
    script = os.path.join(ROOT, "recipes", "mnist_mlp.py")
    return [sys.executable, "-c", MOCK, script, *tiny_flags("mnist_mlp"), *COMMON, *args]


def env(tf_config=None):
    out = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    out.pop("TF_CONFIG", None)
    if tf_config:
        out["TF_CONFIG"] = json.dumps(tf_config)
    return out


def summary(stdout):
    return json.loads(stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def one_device(tmp_path_factory):
    out = tmp_path_factory.mktemp("single")
    result = subprocess.run(command("--strategy=one_device", f"--export_dir={out}"),
                            capture_output=True, text=True, timeout=300, env=env())
    assert result.returncode == 0, result.stderr[-2000:]
    return summary(result.stdout)


def test_mirrored_on_two_cpu_replicas_matches_one_device(tmp_path, one_device):
    result = subprocess.run(
        command("--strategy=mirrored", "--cpu_replicas=2", f"--export_dir={tmp_path}"),
        capture_output=True, text=True, timeout=300, env=env(),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    mirrored = summary(result.stdout)
    assert os.path.isdir(mirrored["export_path"])
    # Only float32 summation order differs between the runs (seen: < 1e-6).
    for key in ("loss", "accuracy"):
        assert mirrored["metrics"][key] == pytest.approx(one_device["metrics"][key], abs=1e-4)


def test_two_workers_train_a_recipe_and_only_the_chief_exports(tmp_path, one_device):
    ports = free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    exports, runs = tmp_path / "exports", tmp_path / "run"
    logs = [open(tmp_path / f"worker{i}.log", "w+") for i in range(2)]
    workers = [
        subprocess.Popen(
            command("--strategy=multi_worker", f"--export_dir={exports}", f"--model_dir={runs}"),
            stdout=logs[i], stderr=subprocess.STDOUT,
            env=env({"cluster": cluster, "task": {"type": "worker", "index": i}}),
        )
        for i in range(2)
    ]
    try:
        codes = [w.wait(timeout=300) for w in workers]
    finally:
        for w in workers:
            w.kill()
    outputs = []
    for log in logs:
        log.seek(0)
        outputs.append(log.read())
    assert codes == [0, 0], [o[-2000:] for o in outputs]
    chief, other = summary(outputs[0]), summary(outputs[1])
    assert chief["export_path"] == str(exports / "mnist_mlp" / "1")
    assert other["export_path"] is None
    assert sorted(os.listdir(exports)) == ["mnist_mlp"]
    assert sorted(os.listdir(exports / "mnist_mlp")) == ["1"]
    # Non-chief scratch directories are gone; the chief's checkpoints remain.
    assert sorted(os.listdir(tmp_path)) == ["exports", "run", "worker0.log", "worker1.log"]
    assert sorted(os.listdir(runs / "checkpoints")) == ["epoch-001.weights.h5", "epoch-002.weights.h5"]
    for key in ("loss", "accuracy"):
        assert chief["metrics"][key] == pytest.approx(one_device["metrics"][key], abs=1e-4)
        assert other["metrics"][key] == pytest.approx(chief["metrics"][key], abs=1e-6)
