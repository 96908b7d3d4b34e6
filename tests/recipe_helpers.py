"""Loading recipe scripts and running them in-process on mock TFDS data."""

import fcntl
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import tensorflow_datasets as tfds
from absl import flags

from modelzoo import configs, trainer
from modelzoo.recipe.flags import as_flags, config_from_flags, define_flags
from tests.commands import run_command

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = Path(ROOT).parent / "shared" / "data"
MANUAL = SHARED / "tfds_manual"
IN_CI = bool(os.environ.get("CI"))

# Real data from ../shared/data: tests that need it skip only outside CI.
needs_shared = pytest.mark.skipif(
    not MANUAL.is_dir() and not IN_CI, reason="../shared/data is absent (CI always has it)"
)

# How `RealData` puts each real dataset into its data dir: a `modelzoo data` command.
REAL_DATASETS = {
    "mnist": ["prepare", "--name", "mnist", "--manual_dir", str(MANUAL)],
    "imdb_reviews": ["import-imdb", "--src",
                     str(SHARED / "imdb_reviews" / "aclImdb_labelled.tar.gz")],
    "squad": ["import-squad", "--src", str(MANUAL / "dev-v1.1.json")],
}


def run_folder(tmp_path_factory):
    """The test run's temporary folder, which every pytest-xdist worker shares."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def build_once(locks, key, build):
    """Calls `build()` unless it already succeeded in this test run, in any
    worker: the first caller builds while holding a file lock in `locks`,
    later ones wait for it and return."""
    locks.mkdir(parents=True, exist_ok=True)
    with open(locks / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = locks / f"{key}.done"
        if not done.exists():
            build()
            done.touch()


class RealData:
    """One TFDS data dir of the real ../shared datasets for the whole test run.

    Called as `real_data(*names)`, it returns the dir once it holds `names`
    (keys of `REAL_DATASETS`), each put there once per run by its `modelzoo
    data` command: importing IMDB or SQuAD takes 10-15 s, and several test
    modules on both workers read them. Tests only read it.
    """

    def __init__(self, root):
        self.data_dir = root / "real_tfds"
        self._locks = root / "real_tfds.locks"

    def __call__(self, *names):
        for name in names:
            build_once(self._locks, name, lambda name=name: self._put(name))
        return self.data_dir

    def _put(self, name):
        done = run_command([sys.executable, "-m", "modelzoo", "data", *REAL_DATASETS[name],
                            "--data_dir", str(self.data_dir)])
        if done.returncode != 0:
            pytest.fail(f"putting the real {name} into {self.data_dir} failed: "
                        f"{done.stderr[-1500:]}")


# Every recipe script; tests that cover all recipes parametrize over this.
RECIPES = sorted(name[:-3] for name in os.listdir(os.path.join(ROOT, "recipes"))
                 if name.endswith(".py"))


def tiny_flags(name):
    """The flags that make recipe `name` train in seconds on mock data (its
    experiment's smoke overrides, as flags)."""
    return as_flags(configs.smoke_overrides(name))


def parse(name, args=()):
    """The smoke config of experiment `name` with the command-line `args` applied,
    through the recipe's own flag layer."""
    config = configs.get_config(name, **configs.smoke_overrides(name))
    flag_values = flags.FlagValues()
    define_flags(config, flag_values)
    flag_values([name, *args])
    return config_from_flags(config, flag_values)


def run_recipe(name, *args, num_examples=48, **overrides):
    """Runs experiment `name` (smoke sizes + `args`) in process under
    `tfds.testing.mock_data`; returns the summary."""
    config = parse(name, args)
    with tfds.testing.mock_data(num_examples=num_examples):
        return trainer.run(config, **overrides)


def run_script(name, *args, mock=True, timeout=600, subprocess_only=False):
    """Runs `recipes/<name>.py` as a command (in this process unless
    `subprocess_only`, see `tests.commands`); returns the CompletedProcess."""
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
    return run_command(command + tiny_flags(name) + list(args), timeout=timeout,
                       subprocess_only=subprocess_only)


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


def free_ports(count):
    """`count` distinct free TCP ports on 127.0.0.1."""
    # Hold all sockets open together so the ports are distinct.
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports
