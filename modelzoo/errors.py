"""Errors that the command-line entry points turn into one-line messages."""

import _thread
import os
import signal
import sys
import threading
import traceback

# What a shell reports for a process ended by SIGINT (128 + 2) and SIGTERM (128 + 15).
INTERRUPTED_EXIT_CODE = 130
TERMINATED_EXIT_CODE = 143


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that every clean-up runs on the way out.

    A `KeyboardInterrupt`, so the code that already cleans up after Ctrl-C
    (staged folders, the publish check's child process) does so for it too.
    """


def handle_sigterm():
    """Makes SIGTERM raise `Terminated` in the main thread, as Ctrl-C does.

    `kill`, `timeout`, `docker stop` and job schedulers send SIGTERM, whose
    default action ends the process at once and leaves staging folders and
    child processes behind. Does nothing outside the main thread, where
    Python cannot set handlers.

    A signal's exception raised while the main thread runs a finalizer (a
    `__del__`, a weakref callback; TensorFlow's objects have many) is only
    printed, "Exception ignored in ...", and the run would go on to its end.
    Such an interrupt is delivered again (`sys.unraisablehook`), so it still
    stops the run.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    _state["raised"] = False
    signal.signal(signal.SIGTERM, _terminate)
    if sys.unraisablehook is not _redeliver:
        _state["next_hook"] = sys.unraisablehook
        sys.unraisablehook = _redeliver


_REDELIVER_AFTER_S = 0.05
_state = {"raised": False, "next_hook": sys.__unraisablehook__}


def _terminate(signum, frame):
    # Later SIGTERMs are ignored, so the clean-up the first one started finishes.
    if _state["raised"]:
        return
    _state["raised"] = True
    raise Terminated()


def _redeliver(unraisable):
    """`sys.unraisablehook`: a swallowed Ctrl-C or SIGTERM is signalled again."""
    if isinstance(unraisable.exc_value, KeyboardInterrupt):
        terminated = isinstance(unraisable.exc_value, Terminated)
        if terminated:
            _state["raised"] = False
        # Later, from another thread: signalled now, the handler would run
        # within this hook, still inside the finalizer, and be swallowed again.
        # (If it is swallowed again, this hook runs again.)
        sig = signal.SIGTERM if terminated else signal.SIGINT
        timer = threading.Timer(_REDELIVER_AFTER_S, _thread.interrupt_main, args=(sig,))
        timer.daemon = True
        timer.start()
        return
    _state["next_hook"](unraisable)


class ModelzooError(Exception):
    """A failure the user can fix; printed as one line, exit code 1."""

    exit_code = 1


class UsageError(ModelzooError):
    """A bad flag or argument; exit code 2."""

    exit_code = 2


class DataError(ModelzooError):
    """A dataset that is missing, corrupt or unreadable; exit code 1."""


def check_utf8(flag, value):
    """Raises `UsageError` unless the argument `value` of `--flag` is UTF-8 text.

    Python reads command-line bytes that are not UTF-8 as lone surrogates,
    which no string tensor accepts.
    """
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as e:
        raw = os.fsencode(value)
        raise UsageError(
            f"--{flag}={raw!r} is not valid UTF-8 (byte 0x{raw[e.start]:02X} at offset "
            f"{e.start}); pass UTF-8 text"
        ) from None


def first_line(error, limit=None, empty=None):
    """The first non-blank line of `error`'s message, stripped.

    Library errors (TensorFlow's above all) can run to pages; the first line
    names them. A TF `OpError`'s text starts with its message, before the
    op's stack trace.

    Args:
        error: the exception (any object: its `str` is read).
        limit: int or None. A longer line is cut to `limit` characters, the
            last three being `...`.
        empty: str or None. What a blank message gives; None gives the
            error's type name.

    Returns:
        str, one line.

    Example:
    >>> first_line(ValueError("\\n  shape mismatch\\nmore detail"))
    'shape mismatch'
    >>> first_line(OSError(), empty="no message"), first_line("x" * 9, limit=6)
    ('no message', 'xxx...')
    """
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    line = lines[0] if lines else (type(error).__name__ if empty is None else empty)
    if limit is not None and len(line) > limit:
        line = line[: limit - 3] + "..."
    return line


def _interrupted(error):
    """The KeyboardInterrupt (or `Terminated`) in `error`'s chain, or None."""
    # Ctrl-C while Keras traces a layer reaches us wrapped in another error
    # ("Exception encountered when calling Flatten.call()").
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, KeyboardInterrupt):
            return error
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None


def report(prog, error, verbose=False):
    """Prints `error` as one line on stderr and returns the exit code.

    The one place where every entry point (the recipes and `modelzoo`)
    turns a failure into `<prog>: error: <one line>`. A `ModelzooError`
    is printed as it is; any other exception is named by its type, with a
    hint to rerun with --verbose; Ctrl-C is "interrupted; nothing
    published" and exit code 130, since exports and imports are renamed
    into place only once complete, and SIGTERM (see `handle_sigterm`) is
    "terminated; nothing published" and exit code 143.

    Args:
        prog: str. The program name that starts the line.
        error: the `BaseException` caught.
        verbose: bool. Print the traceback first.

    Returns:
        The process exit code.
    """
    if verbose:
        traceback.print_exception(error)
    interrupt = _interrupted(error)
    if isinstance(interrupt, Terminated):
        print(f"{prog}: terminated; nothing published", file=sys.stderr)
        return TERMINATED_EXIT_CODE
    if interrupt is not None:
        print(f"{prog}: interrupted; nothing published", file=sys.stderr)
        return INTERRUPTED_EXIT_CODE
    if isinstance(error, ModelzooError):
        # One line even if a message quotes a multi-line library error.
        message = " ".join(str(error).split()) or type(error).__name__
    else:
        message = f"{type(error).__name__}: {first_line(error, empty='no message')} " \
            "(rerun with --verbose for details)"
    print(f"{prog}: error: {message}", file=sys.stderr)
    return getattr(error, "exit_code", 1)
