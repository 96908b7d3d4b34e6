"""The four recipes end to end on mock TFDS data: train, evaluate, export."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow_datasets as tfds

from modelzoo.errors import UsageError
from tests.recipe_helpers import run_recipe, run_script
from tests.serving_helpers import check_serving_assets, serve
from tests.serving_helpers import texts as served_texts

pytestmark = pytest.mark.slow

# Serving needs TensorFlow alone (it imports parts of keras itself): not
# modelzoo, not TF Text.
TF_ONLY = ("modelzoo", "tensorflow_text")
FASHION_MNIST = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                 "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


MOCK_EXAMPLES = 48


def mock_test_split(name):
    """The test split `run_recipe(..., num_examples=MOCK_EXAMPLES)` evaluates on.

    TFDS's mock data is seeded, so loading it again gives the same examples.
    """
    with tfds.testing.mock_data(num_examples=MOCK_EXAMPLES):
        test = tfds.load(name, split="test", as_supervised=True, shuffle_files=False)
        images, labels = zip(*tfds.as_numpy(test))
    return np.stack(images), np.array(labels)


@pytest.mark.parametrize("recipe", ["mnist_mlp", "mnist_cnn"])
def test_image_recipes_train_export_and_serve_labels(recipe, tmp_path):
    summary = run_recipe(recipe, f"--export_dir={tmp_path}", "--dataset=fashion_mnist",
                         num_examples=MOCK_EXAMPLES)
    assert summary["export_path"] == str(tmp_path / f"fashion_mnist_{recipe[6:]}" / "1")
    images, labels = mock_test_split("fashion_mnist")
    out = serve(summary["export_path"], {"images": images}, forbidden=TF_ONLY)
    probabilities = out["probabilities"]
    assert probabilities.shape == (len(images), 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(out["class_ids"], probabilities.argmax(axis=1))
    assert served_texts(out["labels"]) == [FASHION_MNIST[i] for i in out["class_ids"]]
    # The reported test accuracy, recomputed from the export's own predictions.
    assert summary["metrics"]["accuracy"] == pytest.approx(
        np.mean(out["class_ids"] == labels), abs=1e-6)


def test_recipe_exports_carry_the_runs_model_card(tmp_path):
    summary = run_recipe("mnist_mlp", f"--export_dir={tmp_path}", "--dataset=fashion_mnist",
                         "--hidden_units=16", "--seed=1")
    card = check_serving_assets(summary["export_path"], "fashion_mnist_mlp")
    assert len(card["warmup"]["images"]) == 8  # real test images
    assert card["model"] == {"name": "mlp", "builder_config": {
        "input_shape": [28, 28, 1], "num_classes": 10, "rescale": 1 / 255,
        "hidden_units": [16], "dropout": 0.2, "activation": "relu"}}
    assert card["dataset"]["name"] == "fashion_mnist" and card["dataset"]["version"] == "3.0.1"
    assert set(card["dataset"]["splits"]) == {"train", "test"}
    assert card["metrics"] == pytest.approx(summary["metrics"], abs=1e-6)
    assert card["flags"]["seed"] == 1 and card["flags"]["hidden_units"] == [16]
    # The experiment config it was trained with, by section.
    assert card["config"]["model"] == {"hidden_units": [16], "dropout": 0.2, "activation": "relu"}
    assert card["config"]["training"]["seed"] == 1


def test_transformer_recipe_serves_raw_text(tmp_path):
    summary = run_recipe("imdb_transformer", f"--export_dir={tmp_path}")
    out = serve(summary["export_path"], {"text": ["a fine film", "", "x" * 100000]},
                forbidden=TF_ONLY)
    assert out["probabilities"].shape == (3, 2)
    assert set(served_texts(out["labels"])) <= {"neg", "pos"}


def test_lstm_recipe_generates_in_graph(tmp_path):
    summary = run_recipe("shakespeare_lstm", f"--export_dir={tmp_path}", "--sample_prompt=ab")
    assert summary["sample"].startswith("ab") and len(summary["sample"]) > 2
    out = serve(summary["export_path"], {"prompt": ["ab", ""], "num_chars": [5, 3],
                                         "temperature": [0.0, 0.0]}, forbidden=TF_ONLY)
    first, second = served_texts(out["text"])
    # Greedy decoding: num_chars new characters each (mock text is ASCII).
    assert len(first) == 5 and len(second) == 3


def test_versions_increment_and_are_never_overwritten(tmp_path):
    first = run_recipe("mnist_mlp", f"--export_dir={tmp_path}")["export_path"]
    second = run_recipe("mnist_mlp", f"--export_dir={tmp_path}")["export_path"]
    assert (os.path.basename(first), os.path.basename(second)) == ("1", "2")
    before = {p: open(os.path.join(first, p), "rb").read() for p in ["saved_model.pb"]}
    with pytest.raises(UsageError, match="--version 1 already exists"):
        run_recipe("mnist_mlp", f"--export_dir={tmp_path}", "--version=1")
    assert before == {p: open(os.path.join(first, p), "rb").read() for p in ["saved_model.pb"]}
    assert sorted(os.listdir(tmp_path / "mnist_mlp")) == ["1", "2"]


def test_seed_makes_runs_repeatable(tmp_path):
    a = run_recipe("mnist_mlp", f"--export_dir={tmp_path}", "--seed=7", "--epochs=2")
    b = run_recipe("mnist_mlp", f"--export_dir={tmp_path}", "--seed=7", "--epochs=2")
    assert a["metrics"] == b["metrics"]


def test_saved_model_cli_lists_the_documented_signature(tmp_path):
    path = run_recipe("mnist_mlp", f"--export_dir={tmp_path}")["export_path"]
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    shown = subprocess.run(
        [cli, "show", "--dir", path, "--tag_set", "serve", "--signature_def", "serving_default"],
        capture_output=True, text=True, timeout=120,
    ).stdout
    for needle in ["inputs['images']", "DT_UINT8", "(-1, 28, 28, 1)", "outputs['probabilities']",
                   "outputs['class_ids']", "DT_INT64", "outputs['labels']", "DT_STRING"]:
        assert needle in shown, shown


def test_command_prints_one_json_line(tmp_path):
    result = run_script("mnist_mlp", f"--export_dir={tmp_path}", subprocess_only=True)
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["export_path"].endswith("mnist_mlp/1")
    assert {"metrics", "wall_time_s", "model", "dataset"} <= set(summary)
    # The card keeps the recipe's flags, not absl's own (--help, -v, --logtostderr).
    flags = check_serving_assets(summary["export_path"], "mnist_mlp")["flags"]
    assert {"epochs", "batch_size", "hidden_units", "export_dir"} <= set(flags)
    assert not {"?", "help", "v", "verbosity", "logtostderr"} & set(flags), sorted(flags)


def test_mixed_precision_keeps_the_serving_dtypes(tmp_path):
    import keras

    try:
        summary = run_recipe("mnist_cnn", f"--export_dir={tmp_path}", "--mixed_precision")
        assert keras.mixed_precision.global_policy().name == "mixed_bfloat16"
    finally:
        keras.mixed_precision.set_global_policy("float32")
    out = serve(summary["export_path"], {"images": np.zeros((3, 28, 28, 1), np.uint8)},
                forbidden=TF_ONLY)
    probabilities = out["probabilities"]
    # The served dtype itself (the worker keeps it): float32, not the bfloat16 compute dtype.
    assert probabilities.dtype == np.float32 and probabilities.shape == (3, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-3)
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    shown = subprocess.run(
        [cli, "show", "--dir", summary["export_path"], "--tag_set", "serve",
         "--signature_def", "serving_default"], capture_output=True, text=True, timeout=120,
    ).stdout
    assert "DT_UINT8" in shown and "DT_FLOAT" in shown and "DT_BFLOAT16" not in shown
