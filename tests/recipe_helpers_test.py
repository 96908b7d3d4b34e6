"""`build_once`: one build per test run, shared by processes through a file lock."""

import multiprocessing

import pytest

from tests.recipe_helpers import build_once


def _build_in_child(locks, marks):
    def build():
        with open(marks, "a") as f:
            f.write("built\n")

    build_once(locks, "thing", build)


def test_build_once_builds_once_across_processes(tmp_path):
    marks = tmp_path / "marks.txt"
    children = [multiprocessing.get_context("fork").Process(
        target=_build_in_child, args=(tmp_path / "locks", marks)) for _ in range(3)]
    for child in children:
        child.start()
    for child in children:
        child.join(timeout=60)
        assert child.exitcode == 0
    assert marks.read_text() == "built\n"


def test_a_failed_build_is_tried_again_by_the_next_caller(tmp_path):
    calls = []

    def failing():
        calls.append("failed")
        raise RuntimeError("no data")

    with pytest.raises(RuntimeError, match="no data"):
        build_once(tmp_path, "thing", failing)
    build_once(tmp_path, "thing", lambda: calls.append("built"))
    build_once(tmp_path, "thing", lambda: calls.append("again"))
    assert calls == ["failed", "built"]
