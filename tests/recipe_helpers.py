"""Loading recipe scripts and running them in-process on mock TFDS data."""

import importlib.util
import os
import signal
import subprocess
import sys
import time

import tensorflow_datasets as tfds
from absl import flags

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Every recipe script; tests that cover all recipes parametrize over this.
RECIPES = sorted(name[:-3] for name in os.listdir(os.path.join(ROOT, "recipes"))
                 if name.endswith(".py"))

# One epoch of small batches: enough for a recipe at its default sizes on mock data.
SMALL = ["--epochs=1", "--batch_size=8"]

# Smaller sizes for the recipes whose defaults would take minutes on mock data.
TINY = {
    "mnist_mlp": ["--epochs=1", "--batch_size=16"],
    "mnist_cnn": ["--epochs=1", "--batch_size=16", "--filters=4,8", "--dense_units=16"],
    "imdb_transformer": [
        "--epochs=1", "--batch_size=8", "--vocab_size=60", "--sequence_length=16",
        "--embed_dim=8", "--num_heads=2", "--ff_dim=8", "--num_layers=1",
    ],
    "shakespeare_lstm": [
        "--epochs=1", "--batch_size=4", "--sequence_length=8", "--embed_dim=8",
        "--lstm_units=16", "--sample_chars=10",
    ],
    "shakespeare_gpt": [
        "--epochs=1", "--batch_size=4", "--sequence_length=8", "--embed_dim=8",
        "--num_heads=2", "--ff_dim=16", "--num_layers=1", "--sample_chars=10",
    ],
    "squad_qa": [
        "--epochs=1", "--batch_size=8", "--vocab_size=200", "--sequence_length=32",
        "--max_question_tokens=8", "--doc_stride=8", "--max_answer_tokens=5",
        "--embed_dim=8", "--num_heads=2", "--ff_dim=16", "--num_layers=1",
    ],
    "bert_pretrain": [
        "--epochs=2", "--batch_size=8", "--vocab_size=200", "--sequence_length=32",
        "--embed_dim=8", "--num_heads=2", "--ff_dim=16", "--num_layers=1",
        "--validation_fraction=0.2", "--warmup_steps=2",
        # Mock text has no sentences to make cloze questions from;
        # tests/test_bert_pretrain.py gives span selection real sentences.
        "--span_questions=0",
    ],
    "flowers_resnet50": [
        "--epochs=1", "--batch_size=4", "--image_size=32", "--weights=none",
    ],
}


def tiny_flags(name):
    """The flags that make recipe `name` train in seconds on mock data."""
    return TINY.get(name, SMALL)


def load_recipe(name):
    """Imports `recipes/<name>.py` as a module."""
    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, "recipes", f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def parse(name, args):
    """Returns `(module, flag_values)` parsed from the tiny defaults + `args`."""
    module = load_recipe(name)
    flag_values = flags.FlagValues()
    module.define_flags(flag_values)
    flag_values([name] + tiny_flags(name) + list(args))
    return module, flag_values


def run_recipe(name, *args, num_examples=48, **overrides):
    """Runs a recipe's `run` under `tfds.testing.mock_data`; returns the summary."""
    module, flag_values = parse(name, args)
    with tfds.testing.mock_data(num_examples=num_examples):
        return module.run(flag_values, **overrides)


def run_script(name, *args, mock=True, timeout=600):
    """Runs `recipes/<name>.py` as a command; returns the CompletedProcess."""
    script = os.path.join(ROOT, "recipes", f"{name}.py")
    if mock:
        code = (
            "import runpy, sys; import tensorflow_datasets as tfds\n"
            "sys.argv = sys.argv[1:]\n"
            "with tfds.testing.mock_data(num_examples=32):\n"
            "    runpy.run_path(sys.argv[0], run_name='__main__')\n"
        )
        command = [sys.executable, "-c", code, script]
    else:
        command = [sys.executable, script]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run(
        command + tiny_flags(name) + list(args), capture_output=True, text=True, timeout=timeout, env=env
    )


def _default_sigint():
    # A shell starts background jobs with SIGINT ignored, and Python then
    # never installs its KeyboardInterrupt handler; a user's terminal does not.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def signal_when(command, ready, sig, what, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                after_signal=None, timeout=120):
    """Starts `command`, sends `sig` once `ready()` is true, and waits for it.

    Args:
        command: list of str.
        ready: function returning True when the process should get `sig`.
        sig: the signal, e.g. `signal.SIGINT`.
        what: str. The moment waited for, named when the process ends or
            stalls for 300 s before it.
        stdout, stderr: as for `subprocess.Popen`.
        after_signal: function run right after the signal is sent, or None.
        timeout: float. Seconds allowed after the signal.

    Returns:
        `(returncode, stdout, stderr)`.
    """
    import pytest

    process = subprocess.Popen(command, stdout=stdout, stderr=stderr, text=True,
                               env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
                               preexec_fn=_default_sigint)
    deadline = time.time() + 300
    try:
        while not ready():
            if process.poll() is not None or time.time() > deadline:
                err = process.communicate()[1] or ""
                pytest.fail(f"the command ended or stalled before {what}: {err[-1500:]}")
            time.sleep(0.02)
        process.send_signal(sig)
        if after_signal:
            after_signal()
        out, err = process.communicate(timeout=timeout)
    finally:
        process.kill()
        process.wait()
    return process.returncode, out, err
