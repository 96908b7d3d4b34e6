"""Builders: shapes, serialization, training, bad arguments, the registry."""

import keras
import numpy as np
import pytest

import modelzoo
from modelzoo.testing import run_model_test

RNG = np.random.default_rng(0)
SCE = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def test_mlp_is_the_quickstart_model():
    model = modelzoo.build_mlp((28, 28, 1), 10)
    assert [l.name for l in model.layers] == [
        "inputs", "flatten", "dense_0", "dropout_0", "logits"
    ]
    assert model.count_params() == 784 * 128 + 128 + 128 * 10 + 10
    x = RNG.integers(0, 256, (4, 28, 28, 1)).astype("float32")
    run_model_test(model, x, np.int32(3), SCE)


def test_mlp_binary_tabular_single_logit():
    model = modelzoo.build_mlp((12,), 1, hidden_units=(16, 8), dropout=0.0)
    x = RNG.normal(size=(8, 12)).astype("float32")
    assert model(x).shape == (8, 1)
    run_model_test(
        model, x, np.ones((1,), "float32"), keras.losses.BinaryCrossentropy(from_logits=True)
    )


def test_cnn():
    model = modelzoo.build_cnn((28, 28, 1), 10, rescale=1 / 255)
    x = RNG.integers(0, 256, (4, 28, 28, 1)).astype("float32")
    run_model_test(model, x, np.int32(7), SCE)


def test_transformer_masks_padding_and_trains():
    model = modelzoo.build_transformer(50, 8, 2, embed_dim=16, num_heads=2, ff_dim=32)
    x = np.array([[5, 9, 3, 0, 0, 0, 0, 0], [7, 7, 7, 7, 7, 2, 1, 4]], "int32")
    run_model_test(model, x, np.int32(1), SCE)


def test_transformer_pooling_ignores_padding():
    # With the mask, a padded position contributes nothing: the embedding of
    # id 0 can change without changing the prediction.
    model = modelzoo.build_transformer(20, 6, 2, embed_dim=8, num_heads=2, ff_dim=8, dropout=0.0)
    x = np.array([[3, 4, 5, 0, 0, 0]], "int32")
    before = np.asarray(model(x))
    table = model.get_layer("embedding").token_embedding.embeddings
    shifted = table.numpy()
    shifted[0] += 5.0
    table.assign(shifted)
    np.testing.assert_allclose(np.asarray(model(x)), before, atol=1e-5)


def test_lstm_generator_any_length():
    model = modelzoo.build_lstm_generator(30, embed_dim=8, lstm_units=(16, 16))
    x = RNG.integers(0, 30, (3, 11)).astype("int32")
    assert model(x).shape == (3, 11, 30)
    assert model(x[:, :4]).shape == (3, 4, 30)
    run_model_test(model, x, np.zeros((11,), "int32"), SCE)


@pytest.mark.parametrize(
    "builder, kwargs, arg",
    [
        (modelzoo.build_mlp, dict(input_shape=(4,), num_classes=0), "num_classes"),
        (modelzoo.build_mlp, dict(input_shape=(4,), num_classes=2, hidden_units=()), "hidden_units"),
        (modelzoo.build_mlp, dict(input_shape=(4,), num_classes=2, hidden_units=(8, -1)), "hidden_units"),
        (modelzoo.build_mlp, dict(input_shape=(4,), num_classes=2, dropout=1.0), "dropout"),
        (modelzoo.build_mlp, dict(input_shape=(4,), num_classes=2, dropout=-0.1), "dropout"),
        (modelzoo.build_mlp, dict(input_shape=(0,), num_classes=2), "input_shape"),
        (modelzoo.build_cnn, dict(input_shape=(28, 28), num_classes=2), "input_shape"),
        (modelzoo.build_cnn, dict(input_shape=(28, 28, 1), num_classes=2, kernel_size=0), "kernel_size"),
        (modelzoo.build_cnn, dict(input_shape=(28, 28, 1), num_classes=2, filters=()), "filters"),
        (modelzoo.build_transformer, dict(vocab_size=0, sequence_length=8, num_classes=2), "vocab_size"),
        (modelzoo.build_transformer, dict(vocab_size=9, sequence_length=8, num_classes=2, embed_dim=10, num_heads=4), "embed_dim"),
        (modelzoo.build_transformer, dict(vocab_size=9, sequence_length=8, num_classes=2, num_layers=0), "num_layers"),
        (modelzoo.build_lstm_generator, dict(vocab_size=9, lstm_units=()), "lstm_units"),
        (modelzoo.build_lstm_generator, dict(vocab_size=9, dropout=2), "dropout"),
    ],
)
def test_bad_arguments_name_the_argument(builder, kwargs, arg):
    with pytest.raises(ValueError, match=f"`{arg}`"):
        builder(**kwargs)


def test_registry_lists_sorted_names():
    names = modelzoo.list_models()
    assert names == sorted(names)
    assert {"mlp", "cnn", "transformer", "lstm_generator"} <= set(names)
    assert modelzoo.list_models("*ls*") == ["lstm_generator"]
    assert modelzoo.list_models("nothing*") == []


def test_get_model_unknown_name_lists_known_names():
    with pytest.raises(ValueError, match="Unknown model name 'resnet9'.*cnn.*mlp"):
        modelzoo.get_model("resnet9")


def test_get_model_overrides_and_drops_none():
    model = modelzoo.get_model("mlp", hidden_units=(32, 16), dropout=None)
    assert model.get_layer("dense_1").units == 16
    assert model.get_layer("dropout_0").rate == 0.2


@pytest.mark.parametrize("name", modelzoo.list_models())
def test_every_registered_model(name):
    model = modelzoo.get_model(name)
    spec = model.inputs[0]
    shape = (2,) + tuple(d or 5 for d in spec.shape[1:])
    x = RNG.integers(0, 2, shape).astype(spec.dtype)
    out = np.asarray(model(x))
    assert out.shape[0] == 2 and np.all(np.isfinite(out))
    # Gradients reach every trainable weight.
    import tensorflow as tf

    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(model(x, training=True) ** 2)
    grads = tape.gradient(loss, model.trainable_weights)
    missing = [w.path for w, g in zip(model.trainable_weights, grads) if g is None]
    assert not missing
