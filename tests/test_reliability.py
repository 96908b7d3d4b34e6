"""Every bad input at every entry point: one clear line, the right exit code,
no traceback, and nothing already written is lost.

The module counts the cases and the terminal summary prints
"reliability: N inputs tried, M handled cleanly, B bytes lost".
"""

import hashlib
import os
import subprocess
import sys

import pytest

from tests.recipe_helpers import ROOT, TINY

pytestmark = pytest.mark.slow

RESULTS = {"tried": 0, "clean": 0}

MOCK = (
    "import runpy, sys; import tensorflow_datasets as tfds\n"
    "sys.argv = sys.argv[1:]\n"
    "with tfds.testing.mock_data(num_examples=16):\n"
    "    runpy.run_path(sys.argv[0], run_name='__main__')\n"
)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """An export root and a data dir holding work that must survive."""
    root = tmp_path_factory.mktemp("world")
    version = root / "exports" / "mnist_mlp" / "1"
    (version / "variables").mkdir(parents=True)
    (version / "saved_model.pb").write_bytes(os.urandom(4096))
    (version / "variables" / "variables.index").write_bytes(os.urandom(512))
    (root / "exports" / "a_file").write_text("not a directory")
    dataset = root / "tfds" / "mnist" / "3.0.1"
    dataset.mkdir(parents=True)
    (dataset / "dataset_info.json").write_text("{}")
    (root / "bad.txt").write_bytes(b"caf\xe9 \xff\xfe")
    (root / "empty.txt").write_text("")
    (root / "idx").mkdir()
    (root / "idx" / "train-images-idx3-ubyte").write_bytes(b"\x00\x00\x08\x04" + b"\x00" * 12)
    before = snapshot(root)
    yield root
    lost = sum(size for path, (digest, size) in before.items()
               if snapshot(root).get(path, (None,))[0] != digest)
    RESULTS["bytes_lost"] = lost
    assert lost == 0


def snapshot(root):
    out = {}
    for folder, _, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            data = open(path, "rb").read()
            out[path] = (hashlib.sha256(data).hexdigest(), len(data))
    return out


def check(command, code, needle, env=None):
    RESULTS["tried"] += 1
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=300,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", **(env or {})),
    )
    last = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else ""
    assert result.returncode == code, (result.returncode, result.stderr[-1500:])
    assert "Traceback" not in result.stderr, result.stderr[-1500:]
    assert needle in last, last
    RESULTS["clean"] += 1


def recipe(world, *args, name="mnist_mlp"):
    script = os.path.join(ROOT, "recipes", f"{name}.py")
    return [sys.executable, "-c", MOCK, script, *TINY[name],
            f"--export_dir={world / 'exports'}", *args]


RECIPE_CASES = [
    (["--strategy=warp"], 2, "--strategy='warp' is unknown"),
    (["--dataset=cifar10"], 2, "--dataset='cifar10' is not supported"),
    (["--epochs=0"], 2, "--epochs=0 must be a positive integer"),
    (["--batch_size=-4"], 2, "--batch_size=-4 must be a positive integer"),
    (["--learning_rate=0"], 2, "--learning_rate=0.0 must be > 0"),
    (["--learning_rate=-1e-3"], 2, "must be > 0"),
    (["--hidden_units=12,x"], 2, "--hidden_units=12,x must be comma-separated integers"),
    (["--hidden_units=0"], 2, "`hidden_units` must be"),
    (["--dropout=1.5"], 2, "`dropout` must be a float in [0, 1)"),
    (["--no_such_flag=1"], 2, "no_such_flag"),
    (["--epochs=three"], 2, "epochs"),
    (["--version=1"], 2, "--version 1 already exists"),
    (["--version=0"], 2, "--version=0 must be a positive integer"),
    (["--max_train_examples=0"], 2, "--max_train_examples=0 must be a positive integer"),
    (["--strategy=tpu"], 1, "tpu"),
    (["--strategy=multi_worker"], 2, "TF_CONFIG"),
    (["--strategy=mirrored", "--cpu_replicas=0"], 2, "--cpu_replicas=0 must be a positive integer"),
]


@pytest.mark.parametrize("args, code, needle", RECIPE_CASES)
def test_recipe_flags(world, args, code, needle):
    check(recipe(world, *args), code, needle)


def test_export_dir_that_is_a_file(world):
    check(recipe(world, f"--export_dir={world / 'exports' / 'a_file'}"), 2, "is a file")


def test_unwritable_export_dir(world):
    # Root ignores file modes, so use a directory no one can create files in.
    check(recipe(world, "--export_dir=/proc/modelzoo_exports"), 1, "/proc/modelzoo_exports")


def test_full_export_dir(world, tmp_path):
    # A 256 KiB tmpfs holds an existing version but not the new export.
    full = tmp_path / "full"
    full.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(full)],
                             capture_output=True)
    if mounted.returncode != 0:
        pytest.skip("mounting a tmpfs is not permitted here")
    try:
        kept = full / "mnist_mlp" / "1"
        (kept / "variables").mkdir(parents=True)
        (kept / "saved_model.pb").write_bytes(os.urandom(2048))
        before = snapshot(full)
        check(recipe(world, f"--export_dir={full}"), 1, "No space left on device")
        assert snapshot(full) == before  # nothing lost, no partial version left
        assert sorted(os.listdir(full / "mnist_mlp")) == ["1"]
    finally:
        subprocess.run(["umount", str(full)], check=True)


def test_dataset_not_prepared_offline(world):
    command = [sys.executable, os.path.join(ROOT, "recipes", "mnist_cnn.py"),
               f"--data_dir={world / 'nothing'}", "--download=false",
               f"--export_dir={world / 'exports'}"]
    check(command, 1, "modelzoo data import-idx --name mnist")


def test_text_recipe_offline(world):
    command = [sys.executable, os.path.join(ROOT, "recipes", "shakespeare_lstm.py"),
               f"--data_dir={world / 'nothing'}", "--download=false"]
    check(command, 1, "modelzoo data import-text --name tiny_shakespeare")


def modelzoo_cli(*args):
    return [sys.executable, "-m", "modelzoo", *args]


CLI_CASES = [
    (["data", "import-idx", "--name", "cifar10", "--src", "{w}/idx"], 2, "cifar10"),
    (["data", "import-idx", "--name", "mnist", "--src", "{w}/missing", "--data_dir", "{w}/new"], 1, "missing"),
    (["data", "import-idx", "--name", "mnist", "--src", "{w}/idx", "--data_dir", "{w}/new"], 1, "idx"),
    (["data", "import-text", "--name", "tiny_shakespeare", "--src", "{w}/bad.txt", "--data_dir", "{w}/new"], 1, "UTF-8"),
    (["data", "import-text", "--name", "tiny_shakespeare", "--src", "{w}/empty.txt", "--data_dir", "{w}/new"], 1, "empty"),
    (["data", "import-text", "--name", "tiny_shakespeare", "--src", "{w}/nope.txt", "--data_dir", "{w}/new"], 1, "nope.txt"),
    (["data", "frobnicate"], 2, "frobnicate"),
    (["predict", "--model", "{w}/exports/nothing"], 2, "holds no exported version"),
    (["predict", "--model", "{w}/exports/mnist_mlp", "--count", "0"], 2, "--count=0"),
    (["inspect", "{w}/exports/nothing"], 2, "is not a directory"),
    (["inspect", "{w}/exports/mnist_mlp"], 1, "saved_model.pb is not a SavedModel"),
    (["serving-config", "--export_dir", "{w}/exports/a_file", "--out", "{w}/m.config"], 2,
     "is not a directory"),
    (["serving-config", "--export_dir", "{w}/exports", "--out", "{w}/m.config",
      "--versions=sometimes"], 2, "--versions='sometimes' is not valid"),
    (["serving-config", "--export_dir", "{w}/exports", "--out", "{w}/bad.txt"], 2,
     "already exists; pass --force"),
]


@pytest.mark.parametrize("args, code, needle", CLI_CASES)
def test_modelzoo_command(world, args, code, needle):
    check(modelzoo_cli(*[a.format(w=world) for a in args]), code, needle)


def test_no_lambda_layers_or_pickle_in_the_package():
    RESULTS["tried"] += 1
    offenders = []
    for folder, _, files in os.walk(os.path.join(ROOT, "modelzoo")):
        for name in files:
            if name.endswith(".py") and not name.endswith("_test.py"):
                text = open(os.path.join(folder, name)).read()
                if "layers.Lambda" in text or "import pickle" in text or "safe_mode=False" in text:
                    offenders.append(name)
    assert offenders == []
    RESULTS["clean"] += 1
