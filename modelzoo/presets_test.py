"""Presets: written by a run, loaded in safe mode, listed, never overwritten."""

import json
import os
import subprocess
import sys
import types

import numpy as np
import pytest
import tensorflow as tf

import modelzoo
from modelzoo import presets
from modelzoo.errors import UsageError

GOOD = ["a wonderful great film", "great acting and a wonderful story", "loved it, great"]
BAD = ["an awful boring film", "boring and awful acting", "hated it, awful"]


def tiny_reviews(repeat=8):
    texts = (GOOD + BAD) * repeat
    labels = ([1] * len(GOOD) + [0] * len(BAD)) * repeat
    ds = tf.data.Dataset.from_tensor_slices((texts, np.array(labels, "int64")))
    info = types.SimpleNamespace(features={"label": types.SimpleNamespace(names=["neg", "pos"])})
    return (ds, ds), info


def train_tiny(tmp_path, **overrides):
    settings = dict(epochs=1, batch_size=8, seed=0, vocab_size=50, sequence_length=8,
                    embed_dim=8, num_heads=2, ff_dim=8, num_layers=1,
                    export_dir=str(tmp_path / "exports"), preset_dir=str(tmp_path / "presets"))
    settings.update(overrides)
    return modelzoo.train("imdb_transformer", datasets_override=tiny_reviews(), **settings)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("presets")
    return tmp_path, train_tiny(tmp_path)


def test_a_run_writes_a_whole_preset_matching_its_export_version(trained):
    tmp_path, summary = trained
    path = summary["preset_path"]
    assert path == str(tmp_path / "presets" / "imdb_transformer" / "1")
    assert os.path.basename(summary["export_path"]) == "1"
    for file in presets.FILES + ("assets/vocabulary.json", "assets/class_names.json"):
        assert os.path.isfile(os.path.join(path, file)), file
    experiment = json.load(open(os.path.join(path, "experiment.json")))
    assert experiment["config"]["data"]["sequence_length"] == 8
    rebuilt = presets.experiment_config(path)
    assert rebuilt.as_dict() == modelzoo.get_config(
        "imdb_transformer", **{k: v for k, v in rebuilt.flat().items()}).as_dict()
    metadata = json.load(open(os.path.join(path, "metadata.json")))
    assert metadata["metrics"]["accuracy"] == pytest.approx(summary["metrics"]["accuracy"])
    assert metadata["version"] == 1 and metadata["versions"]["keras"]


def test_round_trip_gives_the_same_predictions_on_raw_text(trained):
    tmp_path, summary = trained
    model = modelzoo.from_preset("imdb_transformer", preset_dir=str(tmp_path / "presets"))
    assert model.preprocessor.class_names == ["neg", "pos"]
    ids = model.preprocessor(GOOD + BAD)
    assert tuple(ids.shape) == (6, 8)
    probs = model.predict_texts(GOOD + BAD)
    again = modelzoo.from_preset(summary["preset_path"]).predict(ids, verbose=0)
    np.testing.assert_allclose(probs, again, atol=1e-6)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(ids, np.array([1, 1, 1, 0, 0, 0]), epochs=1, verbose=0)  # ready for fit


def test_loads_in_safe_mode_in_a_fresh_process(trained):
    tmp_path, _ = trained
    code = ("import modelzoo, keras; m = modelzoo.from_preset('imdb_transformer'); "
            "print(m.predict_texts(['great film']).shape)")
    env = dict(os.environ, MODELZOO_HOME=str(tmp_path), PYTHONPATH=os.getcwd())
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip().endswith("(1, 2)")


def test_a_partial_preset_names_the_missing_file(trained, tmp_path):
    source, summary = trained
    broken = tmp_path / "broken"
    subprocess.run(["cp", "-r", summary["preset_path"], str(broken)], check=True)
    os.remove(broken / "preprocessor.json")
    with pytest.raises(UsageError, match=r"preprocessor\.json is missing"):
        modelzoo.from_preset(str(broken))
    with pytest.raises(UsageError, match="no preset 'nothing_here'"):
        modelzoo.from_preset("nothing_here", preset_dir=str(source / "presets"))


def test_a_preprocessor_json_without_a_setting_names_it(trained, tmp_path):
    _, summary = trained
    broken = tmp_path / "broken"
    subprocess.run(["cp", "-r", summary["preset_path"], str(broken)], check=True)
    spec = json.loads((broken / "preprocessor.json").read_text())
    del spec["sequence_length"]
    (broken / "preprocessor.json").write_text(json.dumps(spec))
    with pytest.raises(UsageError, match="has no 'sequence_length'"):
        modelzoo.from_preset(str(broken))


def test_fine_tuning_starts_from_the_preset_and_never_overwrites_it(trained, tmp_path):
    source, summary = trained
    before = os.path.getmtime(os.path.join(summary["preset_path"], "model.keras"))
    # The config's sizes are ignored: the preset's model, vocabulary and length are used.
    tuned = train_tiny(tmp_path, init_preset="imdb_transformer", vocab_size=3,
                       sequence_length=3, embed_dim=4, version=1,
                       preset_dir=str(source / "presets"))
    card = json.load(open(os.path.join(tuned["export_path"], "assets.extra", "model_card.json")))
    assert card["config"]["training"]["init_preset"] == "imdb_transformer"
    assert card["model"] == json.load(open(os.path.join(summary["preset_path"], "metadata.json")))["model"]
    # Its version 1 exists in the presets folder: kept, not replaced.
    assert tuned["preset_path"] is None
    assert os.path.getmtime(os.path.join(summary["preset_path"], "model.keras")) == before
    rows = presets.list_presets(str(source / "presets"))
    assert [(r["name"], r["version"], r["metric"]) for r in rows] == [
        ("imdb_transformer", 1, "accuracy")]
    assert presets.render(rows).startswith("imdb_transformer/1  accuracy=")


def test_presets_cli_lists_without_importing_tensorflow(trained):
    tmp_path, _ = trained
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    code = ("import sys; from modelzoo import cli; sys.argv=['modelzoo','presets','--json',"
            f"'--preset_dir',{str(tmp_path / 'presets')!r}]; rc = cli.main(); "
            "assert 'tensorflow' not in sys.modules, 'tensorflow imported'; sys.exit(rc)")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert rows[0]["name"] == "imdb_transformer" and rows[0]["metric"] == "accuracy"


def test_init_preset_of_another_kind_or_task_is_one_usage_error(trained, tmp_path):
    _, summary = trained
    with pytest.raises(UsageError, match="is a text_classifier preset; image_classification"):
        modelzoo.train("mnist_mlp", init_preset=summary["preset_path"],
                       export_dir=str(tmp_path))
    with pytest.raises(UsageError, match="is a text_classifier preset; question_answering "
                       "needs a wordpiece one"):
        modelzoo.train("squad_qa", init_preset=summary["preset_path"], export_dir=str(tmp_path))


def test_a_generator_preset_generates_with_its_vocabulary(tmp_path):
    from modelzoo.preprocessors import CharPreprocessor
    from modelzoo.text import chars

    vocabulary = chars.char_vocabulary("ROMEO: but soft, what light\n")
    model = modelzoo.get_model("gpt", vocab_size=len(vocabulary), sequence_length=8, embed_dim=8,
                               num_heads=2, ff_dim=8, num_layers=1, vocabulary=vocabulary)
    config = modelzoo.get_config("shakespeare_gpt")
    path = presets.write_preset(model, CharPreprocessor(vocabulary, 8), config,
                                dict(metrics={"loss": 3.0}), "shakespeare_gpt", 4, str(tmp_path))
    loaded = modelzoo.from_preset("shakespeare_gpt/4", preset_dir=str(tmp_path))
    assert loaded.vocabulary == vocabulary == loaded.preprocessor.vocabulary
    first = loaded.generate(["ROMEO:"], max_length=10, sampler="top_k", top_k=3, seed=1)
    assert first == loaded.generate(["ROMEO:"], max_length=10, sampler="top_k", top_k=3, seed=1)
    assert first == model.generate(["ROMEO:"], max_length=10, sampler="top_k", top_k=3, seed=1)
    assert presets.experiment_config(path).as_dict() == config.as_dict()
    with pytest.raises(FileExistsError):
        presets.write_preset(model, CharPreprocessor(vocabulary, 8), config, {},
                             "shakespeare_gpt", 4, str(tmp_path))


def test_every_experiment_writes_a_preset():
    # make reproduce publishes a preset for each recipe row: a task with no
    # preprocessor (and no preset of its own, as masked_lm writes) would not.
    from modelzoo import configs
    from modelzoo.tasks.base import Task, task_for
    from modelzoo.tasks.masked_lm import MaskedLm

    for name in configs.experiments():
        task = task_for(configs.get_config(name))
        if isinstance(task, MaskedLm):
            continue
        assert type(task).preprocessor is not Task.preprocessor, name
