"""benchmarks/reproduce.py: the QA rows, their floors from earlier runs, the table."""

import json
import types

import pytest

from benchmarks import reproduce

SPECS = {spec["run"]: spec for spec in reproduce.RUNS}


def qa_summary(f1, em):
    return {"metrics": {"f1": f1, "exact_match": em},
            "export_metrics": {"f1": f1 + 0.001, "exact_match": em},
            "train_time_s": 100.0, "epochs_run": 3}


def qa_rows(scratch, pretrained):
    """The three QA rows, run in order: the sliding window at F1 0.17, then
    the from-scratch and pre-trained summaries."""
    rows = {}
    for run, summary in [("squad_sliding_window", {"metrics": {"f1": 0.17, "exact_match": 0.04}}),
                         ("squad_qa", scratch), ("squad_qa_pretrained", pretrained)]:
        rows[run] = reproduce.row(SPECS[run], summary, rows)
    return rows


def test_each_qa_row_must_beat_the_one_before_it():
    rows = qa_rows(qa_summary(0.20, 0.10), qa_summary(0.19, 0.09))
    assert rows["squad_sliding_window"]["met"] is None
    assert rows["squad_qa"]["floor"] == 0.17 and rows["squad_qa"]["met"] is True
    assert rows["squad_qa_pretrained"]["floor"] == 0.20
    assert rows["squad_qa_pretrained"]["met"] is False
    table = reproduce.markdown(list(rows.values()), dict(date="d", cores=2, cpu="x"))
    assert "| squad_qa | squad (dev articles, i % 5 == 4), validation (1,975) | f1 | " \
           "0.2000 (exact_match 0.1000) | f1 0.2010 (0.2000) |" in table
    assert "| squad_qa_pretrained |" in table and "| **no** |" in table


def test_the_pretrained_row_alone_needs_a_preset(tmp_path):
    with pytest.raises(SystemExit):
        reproduce.parse_args(["--only=squad_qa_pretrained"])
    args = reproduce.parse_args(["--only=squad_qa_pretrained", f"--preset={tmp_path}"])
    assert args.preset == str(tmp_path)
    assert SPECS["squad_qa_pretrained"]["flags"] == ["--init_preset={preset}"]
    args = reproduce.parse_args(["--only=bert_pretrain,squad_qa_pretrained"])
    assert args.preset is None and "checkpoints/bert_pretrain-" in args.checkpoint
    # Pre-training alone still writes a new stamped folder.
    assert "checkpoints/bert_pretrain-" in reproduce.parse_args(["--only=bert_pretrain"]).checkpoint


def test_the_pretrained_row_starts_from_the_preset_bert_pretrain_wrote(tmp_path, monkeypatch):
    commands = []

    def fake_run(command, **kwargs):
        commands.append(command)
        summary = {"metrics": {"loss": 5.0, "f1": 0.4, "exact_match": 0.3},
                   "preset_path": "/presets/bert_pretrain/7"}
        return types.SimpleNamespace(returncode=0, stdout=json.dumps(summary), stderr="")

    monkeypatch.setattr(reproduce.subprocess, "run", fake_run)
    reproduce.main(["--only=bert_pretrain,squad_qa_pretrained", f"--out={tmp_path}"])
    assert "--init_preset=/presets/bert_pretrain/7" in commands[-1]
    assert any(flag.startswith("--output_dir=") for flag in commands[0])


def test_a_floor_follows_the_row_it_comes_from_when_that_row_is_rerun_later():
    rows = qa_rows(qa_summary(0.12, 0.05), qa_summary(0.30, 0.20))
    # squad_qa is rerun after (or beside) the pretrained row and now beats it.
    rows["squad_qa"] = reproduce.row(SPECS["squad_qa"], qa_summary(0.35, 0.25), rows)
    floors = {r["run"]: (r["floor"], r["met"]) for r in reproduce.with_floors(list(rows.values()))}
    assert floors["squad_qa"] == (0.17, True)
    assert floors["squad_qa_pretrained"] == (0.35, False)
    assert floors["squad_sliding_window"] == (None, None)
