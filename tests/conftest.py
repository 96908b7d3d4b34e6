import contextlib
import os
import tempfile

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Runs write presets under $MODELZOO_HOME: a throw-away one, never the user's ~/.modelzoo.
os.environ.setdefault("MODELZOO_HOME", tempfile.mkdtemp(prefix="modelzoo-home-"))


@pytest.fixture(scope="session", autouse=True)
def verify_server():
    """Publishes check their SavedModel in processes forked from one warm
    `verify_server.py` (per pytest worker), not in new ones: the suite
    publishes about a hundred exports, and each new check process paid
    ~4.5 s of CPU importing TensorFlow. A test that needs the check as its
    own process removes `MODELZOO_VERIFY_SERVER` from the environment."""
    import importlib

    from modelzoo.export import verify_server as check_server

    # The module: `modelzoo.export.publish` the attribute is its function.
    publish = importlib.import_module("modelzoo.export.publish")

    folder = tempfile.mkdtemp(prefix="mzv-")  # short: a socket path has ~100 bytes
    path = os.path.join(folder, "socket")
    try:
        server = check_server.start(path, publish.verify_environment(os.environ))
    except RuntimeError:
        yield None  # each publish then starts its own check process
        return
    os.environ["MODELZOO_VERIFY_SERVER"] = path
    yield path
    os.environ.pop("MODELZOO_VERIFY_SERVER", None)
    server.terminate()
    server.wait(timeout=30)


@pytest.fixture(scope="session")
def real_data(tmp_path_factory):
    """`real_data(*names)`: the test run's data dir holding the real datasets
    `names` from ../shared/data (see `tests.recipe_helpers.RealData`)."""
    from tests.recipe_helpers import RealData, run_folder

    return RealData(run_folder(tmp_path_factory))


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
