import pytest

from benchmarks import presets_transcript


def test_run_shows_each_statement_with_its_value_and_hides_the_home():
    lines = presets_transcript.run(
        ["x = '/home/me/presets/a'", "x", "print('a\\nb')", "_ = [print('progress')]"],
        {}, "/home/me")
    assert lines.splitlines() == [
        ">>> x = '$MODELZOO_HOME/presets/a'", ">>> x", "'$MODELZOO_HOME/presets/a'",
        ">>> print('a\\nb')", "a", "b", ">>> _ = [print('progress')]"]


def test_a_doc_without_markers_is_refused(tmp_path):
    doc = tmp_path / "doc.md"
    doc.write_text("no markers\n")
    with pytest.raises(SystemExit, match="has no <!-- transcript:begin -->"):
        presets_transcript.main(["--doc", str(doc)])
    assert doc.read_text() == "no markers\n"
