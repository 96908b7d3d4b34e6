"""Quiet, fast commands: `--help` without TensorFlow, one-line errors, no start-up lines.

Every check runs a fresh interpreter, since what matters is what a command
imports and prints from a cold start. TF_CPP_MIN_LOG_LEVEL is taken out of
the environment (conftest sets it for the test process), so the defaults of
`modelzoo.quiet` are what is tested.
"""

import os
import subprocess
import sys

import pytest

from modelzoo import quiet
from tests.recipe_helpers import ROOT

SUBCOMMANDS = [[], ["data"], ["data", "import-idx"], ["data", "import-text"], ["data", "prepare"],
               ["data", "import-imdb"], ["data", "import-squad"], ["predict"], ["inspect"],
               ["serving-config"]]

# What `modelzoo ... --help` runs, reporting which heavy modules it loaded.
HELP_PROBE = """
import sys
from modelzoo import cli
try:
    cli.main(sys.argv[1:])
except SystemExit as e:
    code = e.code
print("EXIT", code, "LOADED", sorted(m for m in ("tensorflow", "keras", "tensorflow_datasets")
                                     if m in sys.modules))
"""


def _env():
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _python(*args, timeout=120):
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=_env(),
                          cwd=ROOT, timeout=timeout)


@pytest.mark.parametrize("command", SUBCOMMANDS, ids=lambda c: " ".join(c) or "modelzoo")
def test_help_does_not_import_tensorflow(command):
    result = _python("-c", HELP_PROBE, *command, "--help")
    assert result.stdout.strip().splitlines()[-1] == "EXIT 0 LOADED []", result.stdout
    assert "usage: modelzoo" in result.stdout
    assert result.stderr == ""


def test_python_m_modelzoo_help_prints_only_its_help():
    result = _python("-m", "modelzoo", "--help")
    assert result.returncode == 0
    assert result.stdout.startswith("usage: modelzoo")
    assert result.stderr == ""


@pytest.mark.parametrize("argv, words", [
    (["bogus"], "invalid choice: 'bogus'"),
    (["data", "import-idx", "--name", "mnist"], "required: --src"),
    (["predict", "--model", "x", "--count", "many"], "--count: invalid int value"),
])
def test_cli_usage_error_is_one_line_on_stderr(argv, words):
    result = _python("-c", HELP_PROBE, *argv)
    assert result.stdout.strip().splitlines()[-1] == "EXIT 2 LOADED []"
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("modelzoo") and ": error: " in lines[0] and words in lines[0]
    assert lines[0].endswith("--help)")


def test_builders_still_import_from_the_package():
    from modelzoo import build_mlp, get_model, list_models  # noqa: F401 - lazy names resolve
    import modelzoo

    assert "build_vit" in modelzoo.__all__ and "vit" in list_models()
    assert modelzoo.layers.TransformerEncoder is not None
    with pytest.raises(AttributeError, match="no attribute 'build_resnet'"):
        modelzoo.build_resnet  # noqa: B018


def test_registry_loads_the_builders_it_names():
    # `modelzoo.registry` used alone (as modelzoo.recipe.steps does) still knows every model.
    result = _python("-c", "from modelzoo.registry import list_models; print(list_models())")
    assert "'mlp'" in result.stdout and "'vit'" in result.stdout, result.stderr


@pytest.mark.parametrize("argv, verbose", [
    (["p", "--verbose"], True), (["p", "--verbose=true"], True), (["p", "-v"], True),
    (["p"], False), (["p", "--verbose=false"], False), (["p", "--verbose", "--noverbose"], False),
    (["p", "--", "--verbose"], False),
])
def test_verbose_requested(argv, verbose):
    assert quiet.verbose_requested(argv) is verbose


# TensorFlow loaded and run after `import modelzoo.quiet`, as a recipe starts; first
# probed with find_spec, as TFDS and etils do, which must not use up the quiet import.
TF_PROBE = ("import importlib.util, modelzoo.quiet; importlib.util.find_spec('tensorflow'); "
            "import tensorflow as tf; print(float(tf.constant(1.0) + 1))")


@pytest.mark.slow  # Two subprocesses that import TensorFlow (~5 s each).
def test_tensorflow_start_up_lines_are_dropped_unless_verbose():
    result = _python("-c", TF_PROBE)
    assert result.returncode == 0 and result.stdout.strip() == "2.0"
    assert result.stderr == ""
    # The lines are there to drop: --verbose shows them.
    loud = _python("-c", TF_PROBE, "--verbose")
    assert loud.stdout.strip() == "2.0"
    assert "absl::InitializeLog" in loud.stderr or "cpu_feature_guard" in loud.stderr, loud.stderr


@pytest.mark.slow  # A recipe subprocess that imports TensorFlow.
def test_recipe_usage_error_is_one_line_after_the_quiet_import(tmp_path):
    # What a recipe prints once its first import is `import modelzoo.quiet`.
    probe = ("import modelzoo.quiet, runpy, sys; sys.argv = sys.argv[1:]; "
             "runpy.run_path(sys.argv[0], run_name='__main__')")
    result = _python("-c", probe, os.path.join(ROOT, "recipes", "mnist_mlp.py"), "--epochs=0")
    assert result.returncode == 2
    assert result.stderr.splitlines() == ["mnist_mlp.py: error: --epochs=0 must be a positive integer"]
    result = _python("-c", probe, os.path.join(ROOT, "recipes", "mnist_mlp.py"),
                     f"--data_dir={tmp_path}", "--download=false")
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith("mnist_mlp.py: error: dataset 'mnist' is not prepared")
