"""Quiet start-up: TensorFlow's start-up lines off unless `--verbose` is given.

Importing this module before TensorFlow loads is all it takes; a recipe's
first import is

    import modelzoo.quiet  # noqa: F401 - before TensorFlow loads; --verbose shows its start-up lines

What TensorFlow 2.21 prints when it starts, and what turns each off:

- `cpu_feature_guard` ("This TensorFlow binary is optimized to use ...") and
  `E0000 ... failed call to cuInit` (when the first op finds no GPU): logged
  after absl's logging is set up, so `TF_CPP_MIN_LOG_LEVEL=3` hides them
  (at 2 the `cuInit` line, an ERROR, still shows).
- "All log messages before absl::InitializeLog() is called are written to
  STDERR", oneDNN's "custom operations are on" and "Could not find cuda
  drivers": written to file descriptor 2 while TensorFlow's shared libraries
  load, before any log level is read, so no environment variable hides
  them. `install` puts a finder on `sys.meta_path` that points descriptor 2
  at a temporary file for the length of the first `import tensorflow`, then
  writes back every captured line that is not one of these (so a real
  failure to load still shows). Nothing else is captured, and importing
  this module does not import TensorFlow. oneDNN stays on (`TF_ENABLE_ONEDNN_OPTS=0` would
  silence its line but change numerics and speed).

A value of `TF_CPP_MIN_LOG_LEVEL` already in the environment is kept.
"""

import os
import re
import sys
import tempfile

# The start-up lines dropped while TensorFlow loads; anything else captured is written back.
STARTUP_LINES = re.compile(
    r"All log messages before absl::InitializeLog\(\) is called"
    r"|oneDNN custom operations are on"
    r"|Could not find cuda drivers"
    r"|cpu_feature_guard"
    r"|^To enable the following instructions:"
    r"|failed call to cuInit"
    r"|Unable to register cu(DNN|FFT|BLAS) factory"
)


def verbose_requested(argv=None):
    """Whether the command line asks for `--verbose` (absl's or argparse's spelling).

    Example:
    >>> verbose_requested(["prog", "--epochs=1", "--verbose"])
    True
    >>> verbose_requested(["prog", "--verbose=false"]), verbose_requested(["prog", "--noverbose"])
    (False, False)
    """
    argv = sys.argv if argv is None else argv
    verbose = False
    for arg in argv[1:]:
        if arg == "--":
            break
        if arg in ("--verbose", "-v"):
            verbose = True
        elif arg == "--noverbose":
            verbose = False
        elif arg.startswith("--verbose="):
            verbose = arg.split("=", 1)[1].lower() in ("1", "true", "t", "yes", "y")
    return verbose


_SET_BY_US = []  # the environment variables `install` set, for `uninstall`


def configure():
    """Sets the log-level variables TensorFlow reads when it loads (kept if already set)."""
    if "TF_CPP_MIN_LOG_LEVEL" not in os.environ:
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
        _SET_BY_US.append("TF_CPP_MIN_LOG_LEVEL")


class _Captured:
    """Points file descriptor 2 at a temporary file; on exit writes back the non-start-up lines."""

    def __enter__(self):
        sys.stderr.flush()
        self._saved = os.dup(2)
        self._file = tempfile.TemporaryFile()
        os.dup2(self._file.fileno(), 2)
        return self

    def __exit__(self, *exc):
        os.dup2(self._saved, 2)
        os.close(self._saved)
        self._file.seek(0)
        kept = [line for line in self._file.read().decode("utf-8", "replace").splitlines()
                if line.strip() and not STARTUP_LINES.search(line)]
        self._file.close()
        if kept:
            print("\n".join(kept), file=sys.stderr)
        return False


def _can_capture():
    try:
        os.fstat(2)
        return True
    except OSError:  # no descriptor 2 (some embedded interpreters)
        return False


class _QuietLoader:
    """Runs the `tensorflow` package's loader with descriptor 2 captured."""

    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        uninstall(keep_environment=True)  # once is enough: this is the real import
        # The module keeps its real loader (importlib.resources and pkgutil ask it).
        module.__spec__.loader = module.__loader__ = self._loader
        with _Captured():
            self._loader.exec_module(module)


class _TensorFlowFinder:
    """A `sys.meta_path` finder that hands the first `import tensorflow` to `_QuietLoader`."""

    _searching = False

    def find_spec(self, name, path=None, target=None):
        # Also asked by probes such as importlib.util.find_spec("tensorflow") (TFDS and
        # etils check whether TensorFlow is installed), which load nothing: so this
        # finder stays on sys.meta_path until the loader really runs.
        if name != "tensorflow" or self._searching:
            return None
        import importlib.util

        self._searching = True
        try:
            spec = importlib.util.find_spec(name)  # the real spec, from the other finders
        finally:
            self._searching = False
        if spec is None or spec.loader is None or not _can_capture():
            return spec
        spec.loader = _QuietLoader(spec.loader)
        return spec


_FINDER = _TensorFlowFinder()

# Python-side warnings that only repeat what the one-line error after them says.
REDUNDANT_WARNINGS = re.compile(r"Variant folder .* has no (dataset_info\.json|%s)")


class _RedundantWarnings:
    """An absl-logger filter dropping `REDUNDANT_WARNINGS` (a `logging.Filter` by duck typing)."""

    @staticmethod
    def filter(record):
        return not REDUNDANT_WARNINGS.search(str(record.msg))  # the unformatted message


_FILTER = _RedundantWarnings()


def _absl_logger():
    try:
        from absl import logging as absl_logging
    except ImportError:
        return None
    return absl_logging.get_absl_logger()


def install():
    """Quiet start-up from here on: sets the log level, and the first `import tensorflow`
    drops its start-up lines (nothing to do for those if TensorFlow is already
    loaded). Also drops absl warnings that only repeat the error after them
    (`REDUNDANT_WARNINGS`)."""
    logger = _absl_logger()
    if logger is not None and _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
    if "tensorflow" in sys.modules:
        return
    configure()
    if _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)


def uninstall(keep_environment=False):
    """Undoes `install` (for `--verbose`), unless TensorFlow has loaded already."""
    while _FINDER in sys.meta_path:
        sys.meta_path.remove(_FINDER)
    if keep_environment:
        return
    logger = _absl_logger()
    if logger is not None and _FILTER in logger.filters:
        logger.removeFilter(_FILTER)
    while _SET_BY_US:
        os.environ.pop(_SET_BY_US.pop(), None)


def import_tensorflow():
    """Imports TensorFlow, quietly; returns the module."""
    install()
    import tensorflow

    return tensorflow


def start(argv=None):
    """Quiet start-up for a command unless `argv` (default sys.argv) asks for --verbose."""
    if verbose_requested(argv):
        uninstall()
    else:
        install()


start()
