"""The figures of README.md and docs/ are the result files', never hand-copied.

`benchmarks/docs_figures.py` writes them between `<!-- figures:NAME -->` and
`<!-- /figures -->` from `benchmarks/results/*.json`; these tests fail when a
block differs from what it would write, and check what it writes.
"""

import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from benchmarks import docs_figures
from tests.recipe_helpers import ROOT

DOCS = ["README.md", *sorted(os.path.join("docs", f) for f in os.listdir(os.path.join(ROOT, "docs"))
                            if f.endswith(".md"))]


def _read(rel, root=ROOT):
    with open(os.path.join(root, rel), encoding="utf-8") as f:
        return f.read()


def test_every_block_is_what_the_result_files_give():
    assert docs_figures.stale_blocks() == []


def test_check_command_passes_on_the_repository():
    result = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "docs_figures.py"),
                             "--check"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_the_script_does_not_import_tensorflow():
    probe = ("import sys; from benchmarks import docs_figures; docs_figures.render_blocks(); "
             "print('tensorflow' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            cwd=ROOT, timeout=60)
    assert result.stdout.strip() == "False", result.stderr


@pytest.fixture
def copy(tmp_path):
    """A copy of the docs and the result files, to edit."""
    for rel in DOCS:
        os.makedirs(tmp_path / os.path.dirname(rel), exist_ok=True)
        shutil.copy(os.path.join(ROOT, rel), tmp_path / rel)
    shutil.copytree(os.path.join(ROOT, "recipes"), tmp_path / "recipes")
    shutil.copytree(os.path.join(ROOT, "modelzoo", "configs"), tmp_path / "modelzoo" / "configs")
    shutil.copytree(docs_figures.RESULTS, tmp_path / "results",
                    ignore=shutil.ignore_patterns("*.png"))
    return tmp_path


def _stale(root):
    return docs_figures.stale_blocks(root=str(root), results_dir=str(root / "results"))


@pytest.mark.parametrize("rel, figure", [
    ("README.md", "accuracy 0.9940"),                # the headline column
    ("README.md", '"train_time_s": 5.69'),           # the demo's summary line
    ("README.md", "predict 13 s"),                   # the demo's step times
    ("README.md", '"probability": 0.9999'),          # the demo's transcript
    ("docs/reproducing.md", "0.4150 (exact_match 0.2841)"),
    ("docs/benchmarks.md", "1.87-2.28× over 3 runs"),
    ("docs/benchmarks.md", "496,746 ex/s"),
])
def test_a_figure_edited_by_hand_fails(copy, rel, figure):
    assert _stale(copy) == []
    text = _read(rel, copy)
    assert figure in text, f"{figure!r} is not in {rel}"
    # Change one digit of the figure, as a hand edit would.
    edited = re.sub(r"\d(?=\D*$)", lambda m: str((int(m.group()) + 1) % 10), figure, count=1)
    with open(copy / rel, "w", encoding="utf-8") as f:
        f.write(text.replace(figure, edited, 1))
    assert any(r == rel and "differs" in problem for r, problem in _stale(copy))


def test_a_rerun_without_make_docs_fails_and_make_docs_fixes_it(copy):
    path = copy / "results" / "reproduce.json"
    data = json.loads(path.read_text())
    row = next(r for r in data["rows"] if r["run"] == "mnist_cnn")
    row["ours"] = 0.9951
    path.write_text(json.dumps(data))
    assert ("README.md", "block 'headline' differs from the result files") in _stale(copy)
    docs_figures.write(root=str(copy), results_dir=str(copy / "results"))
    assert _stale(copy) == []
    assert "[accuracy 0.9951](docs/reproducing.md#r-mnist_cnn)" in _read("README.md", copy)
    # Nothing outside the blocks changed.
    outside = docs_figures.BLOCK.sub("", _read("README.md", copy))
    assert outside == docs_figures.BLOCK.sub("", _read("README.md"))


def test_a_removed_block_fails(copy):
    text = _read("docs/benchmarks.md", copy)
    with open(copy / "docs" / "benchmarks.md", "w", encoding="utf-8") as f:
        f.write(docs_figures.BLOCK.sub("", text))
    problems = _stale(copy)
    assert ("docs/benchmarks.md", "no <!-- figures:bench --> block") in problems


def test_every_headline_links_to_its_anchored_row():
    readme, reproducing = _read("README.md"), _read("docs/reproducing.md")
    links = re.findall(r"\(docs/reproducing\.md#(r-[a-z0-9_]+)\)", readme)
    assert len(links) >= 10
    for anchor in links:
        assert f'<a id="{anchor}"></a>' in reproducing


def test_spread_over_saved_runs():
    runs = docs_figures.bench_runs()
    gpt = docs_figures.ratio_spread(
        "gpt", "modelzoo GPT recipe defaults (batch 12, lr 0.001, spe 10, 6 epochs)",
        "time to held-out loss 1.88", runs)
    # results.json, gpt/ and the same settings run as "try_1" in gpt_batch64_vs_defaults/.
    assert sorted(r for _, r in gpt) == [1.869, 2.097, 2.278]
    assert docs_figures.spread_text(gpt).startswith("1.87-2.28× over 3 runs")
    # Batch 64 is another contender, not a run of the defaults.
    assert all("batch 64" not in path for path, _ in gpt)
    assert docs_figures.spread_text([("results.json", 3.947)]) == "1 run"


def test_docs_name_no_issue_or_internal_path():
    for rel in DOCS:
        text = _read(rel)
        assert not re.search(r"issue #\d|#\d{1,3}\b(?!\))|\.\./shared|data/real", text), rel


def test_readme_is_short_and_in_order():
    readme = _read("README.md")
    assert len(readme) <= 10_000
    order = ["## Install", "make demo", "## Quickstart", "modelzoo.train(", "modelzoo predict --model",
             "## Models and recipes", "## Documentation", "## Tests", "make test"]
    position = 0
    for heading in order:  # each after the one before
        position = readme.index(heading, position)


def test_the_demo_transcript_is_a_captured_run():
    record = json.loads(_read(os.path.join("benchmarks", "results", "demo.json")))
    assert [s["step"] for s in record["steps"]] == ["import", "train", "predict"]
    assert all(s["returncode"] == 0 for s in record["steps"])
    predict = record["steps"][-1]
    for line in predict["stdout"] + predict["stderr"]:
        assert line in _read("README.md")
