"""SIGTERM and Ctrl-C stop a run even when they land in a finalizer."""

import signal
import sys
import time

import pytest

from modelzoo import errors


class _SignalledWhileFinalized:
    """Gets `sig` while Python runs its `__del__`, where an exception is only printed."""

    def __init__(self, sig):
        self.sig = sig

    def __del__(self):
        signal.raise_signal(self.sig)
        sum(range(10))  # a few bytecodes: the handler runs here, inside the finalizer


@pytest.fixture
def handlers():
    saved = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    hook = sys.unraisablehook
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)
    sys.unraisablehook = hook


def _finalize_then_work(sig):
    _SignalledWhileFinalized(sig)  # dropped at once: __del__ runs now
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # the interrupt lands here, outside any finalizer
        time.sleep(0.01)


@pytest.mark.parametrize("sig, raised", [(signal.SIGTERM, errors.Terminated),
                                         (signal.SIGINT, KeyboardInterrupt)])
def test_a_signal_swallowed_by_a_finalizer_still_stops_the_run(handlers, sig, raised):
    errors.handle_sigterm()
    signal.signal(signal.SIGINT, signal.default_int_handler)
    with pytest.raises(raised):
        _finalize_then_work(sig)


def test_later_sigterms_are_ignored_while_the_first_one_cleans_up(handlers):
    errors.handle_sigterm()
    try:
        signal.raise_signal(signal.SIGTERM)
        sum(range(10))
    except errors.Terminated:
        signal.raise_signal(signal.SIGTERM)  # during the clean-up: no second raise
        sum(range(10))
    else:
        pytest.fail("the first SIGTERM raised nothing")


def test_other_unraisable_errors_reach_the_previous_hook(handlers):
    seen = []
    sys.unraisablehook = seen.append
    errors.handle_sigterm()

    class Broken:
        def __del__(self):
            raise ValueError("broken finalizer")

    Broken()
    assert [type(u.exc_value) for u in seen] == [ValueError]
