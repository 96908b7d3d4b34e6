import contextlib
import os
import tempfile

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Runs write presets under $MODELZOO_HOME: a throw-away one, never the user's ~/.modelzoo.
os.environ.setdefault("MODELZOO_HOME", tempfile.mkdtemp(prefix="modelzoo-home-"))


class ReliabilityTally:
    """What `test_reliability.py` tried: inputs, clean handlings, bytes lost."""

    def __init__(self):
        self.tried = 0
        self.clean = 0
        self.bytes_lost = None  # None until some work was compared before and after.

    @contextlib.contextmanager
    def case(self):
        """Counts one input tried; it was handled cleanly if the block raises nothing."""
        self.tried += 1
        yield
        self.clean += 1

    def lost(self, count):
        """Adds `count` bytes of earlier work that did not survive."""
        self.bytes_lost = (self.bytes_lost or 0) + count


RELIABILITY = pytest.StashKey[ReliabilityTally]()


@pytest.fixture(scope="session")
def reliability(pytestconfig):
    """The session's `ReliabilityTally`, kept on the config for the terminal summary."""
    return pytestconfig.stash.setdefault(RELIABILITY, ReliabilityTally())


def pytest_sessionfinish(session):
    # Under pytest-xdist each worker counts its own cases; the controller adds them up.
    tally = session.config.stash.get(RELIABILITY, None)
    if tally is not None and hasattr(session.config, "workeroutput"):
        session.config.workeroutput["reliability"] = (tally.tried, tally.clean, tally.bytes_lost)


def pytest_testnodedown(node, error):
    counts = getattr(node, "workeroutput", {}).get("reliability")
    if counts is None:
        return
    tally = node.config.stash.setdefault(RELIABILITY, ReliabilityTally())
    tried, clean, bytes_lost = counts
    tally.tried += tried
    tally.clean += clean
    if bytes_lost is not None:
        tally.lost(bytes_lost)


def pytest_terminal_summary(terminalreporter, config):
    tally = config.stash.get(RELIABILITY, None)
    if tally is not None and tally.tried:
        bytes_lost = "unknown" if tally.bytes_lost is None else tally.bytes_lost
        terminalreporter.write_line(
            f"reliability: {tally.tried} inputs tried, {tally.clean} handled "
            f"cleanly, {bytes_lost} bytes lost"
        )
