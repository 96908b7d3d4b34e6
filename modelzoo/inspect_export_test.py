"""`modelzoo inspect`: an export's model card, signatures and warm-up requests."""

import json
import os

import numpy as np
import pytest

from modelzoo import cli
from modelzoo.export import model_card, warmup
from tests.serving_helpers import write_tiny_saved_model


@pytest.fixture
def model_dir(tmp_path):
    write_tiny_saved_model(str(tmp_path / "m" / "1"))
    path = write_tiny_saved_model(str(tmp_path / "m" / "2"))
    facts = {
        "model": {"name": "mlp", "builder_config": {"hidden_units": [8]}},
        "dataset": {"name": "fashion_mnist", "version": "3.0.1",
                    "splits": {"train": 60000, "test": 10000}},
        "metrics": {"accuracy": 0.5},
        "flags": {"epochs": 3, "hidden_units": ["8"]},
    }
    model_card.write_card(path, model_card.build_card("m", facts, path))
    warmup.write_warmup(path, [{"x": np.float32([1, 2])}, {"x": np.float32([1])}], "m")
    return tmp_path / "m"


def inspect(capsys, *argv):
    code = cli.main(["inspect", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_prints_the_latest_versions_card_and_signatures(model_dir, capsys):
    code, out, _ = inspect(capsys, str(model_dir))
    assert code == 0
    card = model_card.read_card(str(model_dir / "2"))
    lines = out.splitlines()
    assert lines[0] == f"export:     {model_dir / '2'}"
    assert lines[1] == f"summary:    {model_card.summary_line(card)}"
    for line in [
        'model:      mlp {"hidden_units": [8]}',
        "dataset:    fashion_mnist 3.0.1; train (60000 examples), test (10000 examples)",
        "metrics:    accuracy 0.5",
        "flags:      --epochs=3 --hidden_units=8",
        f"git commit: {card['git_commit']}",
        "signature serving_default:",
        "  input  x               float32  [None]",
        "  output y               float32  [None]",
        "warm-up:    2 requests",
        "  serving_default: x [2]",
        "  serving_default: x [1]",
    ]:
        assert line in lines, f"{line!r} not in\n{out}"


def test_json_is_the_card_the_signatures_and_the_warmup(model_dir, capsys):
    code, out, _ = inspect(capsys, str(model_dir / "2"), "--json")
    assert code == 0
    info = json.loads(out)
    assert info["model_card"] == model_card.read_card(str(model_dir / "2"))
    assert info["signatures"]["serving_default"]["inputs"] == {
        "x": {"dtype": "float32", "shape": [None]}}
    assert info["warmup_requests"] == [
        {"signature": "serving_default", "inputs": {"x": [2]}},
        {"signature": "serving_default", "inputs": {"x": [1]}},
    ]


def test_an_export_without_a_card_still_shows_its_signatures(model_dir, capsys):
    code, out, _ = inspect(capsys, str(model_dir / "1"))
    assert code == 0
    assert "summary:    no model card (exported without one)" in out
    assert "  input  x               float32  [None]" in out and "warm-up:    0 requests" in out


def test_bad_export_dirs_are_one_line(model_dir, tmp_path, capsys):
    os.makedirs(tmp_path / "empty")
    with open(model_dir / "2" / model_card.MODEL_CARD_FILE, "w") as f:
        f.write("{not json")
    for path, code, needle in [
        (tmp_path / "missing", 2, "EXPORT_DIR {p} is not a directory"),
        (tmp_path / "empty", 2, "EXPORT_DIR {p} holds no exported version"),
        (model_dir / "2", 1, "is not a readable JSON model card"),
    ]:
        got, out, err = inspect(capsys, str(path))
        assert (got, out) == (code, "") and err.count("\n") == 1, err
        assert err.startswith("modelzoo: error: ") and needle.format(p=path) in err


def test_the_kind_is_the_cards_else_the_signatures():
    from modelzoo.inspect_export import export_kind

    text = {"serving_default": {"inputs": {"text": {"dtype": "string", "shape": [None]}}}}
    pixels = {"serving_default": {"inputs": {"images": {"dtype": "uint8",
                                                        "shape": [None, 28, 28, 1]}}}}
    assert export_kind({"kind": "qa"}, text) == "qa"
    assert export_kind(None, text) == "text_classifier"
    assert export_kind({"kind": None}, pixels) == "image"
    assert export_kind(None, {"serving_default": {"inputs": {"x": {
        "dtype": "float32", "shape": [None]}}}}) is None
