import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def pytest_terminal_summary(terminalreporter):
    from tests import test_reliability

    results = test_reliability.RESULTS
    if results["tried"]:
        terminalreporter.write_line(
            f"reliability: {results['tried']} inputs tried, {results['clean']} handled "
            f"cleanly, {results.get('bytes_lost', 'unknown')} bytes lost"
        )
