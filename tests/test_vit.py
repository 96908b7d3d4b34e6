"""The ViT classifier: builder, serialization, bad arguments, recipe, real MNIST."""

import json

import keras
import numpy as np
import pytest

from modelzoo import configs
from modelzoo.export import model_card
from modelzoo.layers.patch_embedding import PatchEmbedding
from modelzoo.models.vit import build_vit
from modelzoo.registry import builder_config, get_model, list_models
from modelzoo.testing import run_model_test
from tests.recipe_helpers import run_recipe

RNG = np.random.default_rng(0)
SCE = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
TINY_ARGS = dict(patch_size=4, hidden_dim=8, num_layers=2, num_heads=2, mlp_dim=16)
# The recipe's tiny sizes, so it trains in seconds on mock data.
TINY_FLAGS = [
    "--epochs=1", "--batch_size=8", "--patch_size=7", "--hidden_dim=8", "--num_layers=1",
    "--num_heads=2", "--mlp_dim=16", "--warmup_steps=2",
]


def tiny_vit(**kwargs):
    return build_vit((8, 8, 1), 3, rescale=1 / 255, **dict(TINY_ARGS, **kwargs))


def test_vit_shapes_saving_and_training():
    keras.utils.set_random_seed(0)
    model = tiny_vit()
    assert model.get_layer("patch_embedding").num_tokens == 4
    assert model.output_shape == (None, 3)
    x = RNG.integers(0, 256, (4, 8, 8, 1)).astype("float32")
    run_model_test(model, x, np.int32(2), SCE)


def test_vit_serializes_and_deserializes_with_the_same_outputs():
    model = tiny_vit(dropout=0.1)
    config = keras.saving.serialize_keras_object(model)
    json.dumps(config)  # plain JSON, as a .keras file stores it
    # No custom_objects: the registered classes alone rebuild it.
    clone = keras.saving.deserialize_keras_object(config)
    clone.set_weights(model.get_weights())
    x = RNG.integers(0, 256, (3, 8, 8, 1)).astype("float32")
    np.testing.assert_allclose(
        np.asarray(clone(x, training=False)), np.asarray(model(x, training=False)), atol=1e-6
    )
    assert isinstance(clone.get_layer("patch_embedding"), PatchEmbedding)
    assert clone.get_layer("encoder_0").dropout == 0.1


def test_vit_takes_raw_pixels_and_keeps_float32_logits_under_mixed_precision():
    model = tiny_vit(dtype="mixed_bfloat16")
    assert [l.name for l in model.layers[:3]] == ["inputs", "rescale", "patch_embedding"]
    out = model(RNG.integers(0, 256, (2, 8, 8, 1)).astype("float32"))
    assert keras.backend.standardize_dtype(out.dtype) == "float32"
    assert np.all(np.isfinite(np.asarray(out)))


def test_registered_vit_is_the_mnist_model():
    assert "vit" in list_models()
    assert builder_config("vit") == dict(input_shape=(28, 28, 1), num_classes=10, rescale=1 / 255)
    model = get_model("vit")
    assert model.input_shape == (None, 28, 28, 1) and model.output_shape == (None, 10)
    assert model.get_layer("patch_embedding").num_tokens == 16  # 7x7 patches
    assert len([l for l in model.layers if l.name.startswith("encoder_")]) == 4


@pytest.mark.parametrize(
    "kwargs, arg",
    [
        (dict(input_shape=(28, 28)), "input_shape"),
        (dict(input_shape=(28, 0, 1)), "input_shape"),
        (dict(input_shape=(28, 28, 1), patch_size=5), "input_shape"),
        (dict(num_classes=0), "num_classes"),
        (dict(patch_size=0), "patch_size"),
        (dict(hidden_dim=-8), "hidden_dim"),
        (dict(hidden_dim=30, num_heads=4), "hidden_dim"),
        (dict(num_layers=0), "num_layers"),
        (dict(num_heads=0), "num_heads"),
        (dict(mlp_dim=1.5), "mlp_dim"),
        (dict(dropout=1.0), "dropout"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, arg):
    kwargs = dict(dict(input_shape=(28, 28, 1), num_classes=10), **kwargs)
    with pytest.raises(ValueError, match=f"`{arg}`"):
        build_vit(**kwargs)


def test_recipe_reproduce_rows_have_the_benchmark_keys():
    from benchmarks.reproduce import RUNS

    known = set().union(*RUNS)
    rows = configs.reproduce_rows("mnist_vit")
    assert [row["run"] for row in rows] == ["mnist_vit"]
    for row in rows:
        assert set(row) <= known, set(row) - known
        assert row["floor"] == 0.97 and row["metric"] == "accuracy"


@pytest.mark.slow
def test_recipe_trains_exports_and_the_export_serves(tmp_path):
    import tensorflow as tf

    summary = run_recipe("mnist_vit", *TINY_FLAGS, f"--export_dir={tmp_path}", "--seed=0")
    assert summary["model"] == "vit" and summary["dataset"] == "mnist"
    assert summary["export_path"] == str(tmp_path / "mnist_vit" / "1")
    assert summary["export_metrics"]["accuracy"] == pytest.approx(
        summary["metrics"]["accuracy"], abs=1e-6)
    serve = tf.saved_model.load(summary["export_path"]).signatures["serving_default"]
    out = serve(images=tf.constant(RNG.integers(0, 256, (3, 28, 28, 1)).astype("uint8")))
    probabilities = out["probabilities"].numpy()
    assert probabilities.shape == (3, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    card = model_card.read_card(summary["export_path"])
    assert card["model"]["name"] == "vit"
    assert card["model"]["builder_config"]["hidden_dim"] == 8


def test_recipe_refuses_a_patch_size_that_does_not_divide_the_image(tmp_path):
    from modelzoo.errors import UsageError

    with pytest.raises(UsageError, match="patch_size"):
        run_recipe("mnist_vit", *TINY_FLAGS, f"--export_dir={tmp_path}", "--patch_size=5")
