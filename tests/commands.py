"""Running a recipe or `python -m modelzoo` command in the test's own process.

A command's own process costs about 4.5 s of CPU before its first line (the
TensorFlow import). `run_command` runs `recipes/<name>.py` (under TFDS's mock
data, as `MOCK` does in a subprocess) and `python -m modelzoo` through the
same `main` functions the scripts call, in this process, and returns what
`subprocess.run(capture_output=True, text=True)` would: the exit code and
what the command wrote to stdout and stderr. The global state a run changes
(Keras's session and dtype policy, op determinism, signal handlers, the
environment) is put back afterwards.

What only a real process shows (the quiet start-up, signals, a second
TensorFlow runtime for mirrored CPUs or TF_CONFIG) stays in subprocess
tests; `run_command(..., subprocess_only=True)` or any `env` runs one.
"""

import contextlib
import io
import os
import re
import signal
import subprocess
import sys
import time

MOCK_SCRIPT = re.compile(r"mock_data\(num_examples=(\d+)\)")


def run_command(command, env=None, timeout=600, subprocess_only=False, **kwargs):
    """Runs `command` in this process where it can, else as a subprocess.

    Args:
        command: list of str: `[python, "-m", "modelzoo", ...]`,
            `[python, "recipes/<name>.py", ...]`, or
            `[python, "-c", <a mock_data runner>, "recipes/<name>.py", ...]`.
        env: dict, or None. An environment of its own needs a process.
        timeout: float. Seconds, for a subprocess.
        subprocess_only: bool. Always start a process.
        **kwargs: passed to `subprocess.run`; any makes it a subprocess.

    Returns:
        A `subprocess.CompletedProcess` with text `stdout` and `stderr`.
    """
    if subprocess_only or env is not None or kwargs or command[0] != sys.executable:
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                              env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", **(env or {})),
                              **kwargs)
    if command[1:3] == ["-m", "modelzoo"]:
        from modelzoo import cli

        return _in_process(command, lambda: cli.main(command[3:]))
    mock = MOCK_SCRIPT.search(command[2]) if command[1] == "-c" and len(command) > 3 else None
    if mock and _is_recipe(command[3]):
        import tensorflow_datasets as tfds

        from modelzoo.recipe import main

        name = os.path.basename(command[3])[:-3]

        def run():
            with tfds.testing.mock_data(num_examples=int(mock.group(1))):
                main(name, command[3:])

        return _in_process(command, run)
    if len(command) > 1 and _is_recipe(command[1]):
        from modelzoo.recipe import main

        return _in_process(command, lambda: main(os.path.basename(command[1])[:-3], command[1:]))
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))


def gone(pid, timeout=30):
    """Whether process `pid` ends (or is a zombie) within `timeout` seconds."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True
        except OSError:
            return True
        time.sleep(0.1)
    return False


def _is_recipe(path):
    return path.endswith(".py") and os.path.basename(os.path.dirname(path)) == "recipes"


def _in_process(command, run):
    out, err = io.StringIO(), io.StringIO()
    saved = _State()
    code = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                result = run()
                code = result if isinstance(result, int) else 0
            except SystemExit as exit_:
                code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
                if isinstance(exit_.code, str):
                    print(exit_.code, file=sys.stderr)
    finally:
        saved.restore()
    return subprocess.CompletedProcess(command, code, out.getvalue(), err.getvalue())


class _State:
    """The process-wide state a command sets, to put back after it."""

    def __init__(self):
        self.environ = dict(os.environ)
        self.handlers = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
        self.unraisablehook = sys.unraisablehook

    def restore(self):
        import keras
        from tensorflow.python.framework import config as tf_config

        keras.backend.clear_session()
        keras.mixed_precision.set_global_policy("float32")
        if tf_config.is_op_determinism_enabled():
            tf_config.disable_op_determinism()
        for sig, handler in self.handlers.items():
            signal.signal(sig, handler)
        sys.unraisablehook = self.unraisablehook
        os.environ.clear()
        os.environ.update(self.environ)
