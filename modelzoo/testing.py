"""A KerasHub-style test harness for modelzoo layers and models.

`run_layer_test` and `run_model_test` check, for one configuration: a config
round trip, symbolic and eager calls with shape checks, a `.keras` save and
safe-mode reload with identical outputs, and training steps that lower the
loss on a fixed batch.
"""

import json
import os
import tempfile

import keras
import numpy as np


def config_round_trip(obj):
    """Rebuilds `obj` from its config and checks the config is unchanged."""
    config = obj.get_config()
    clone = obj.__class__.from_config(config)
    np.testing.assert_equal(
        json.loads(json.dumps(clone.get_config(), default=str)),
        json.loads(json.dumps(config, default=str)),
    )
    return clone


def run_layer_test(layer_cls, init_kwargs, input_data, expected_output_shape):
    """Checks a layer: config, symbolic and eager call, saving, one fit step."""
    layer = layer_cls(**init_kwargs)
    config_round_trip(layer)

    symbolic_in = keras.Input(shape=input_data.shape[1:], dtype=str(input_data.dtype))
    symbolic_out = layer(symbolic_in)
    if tuple(symbolic_out.shape[1:]) != tuple(expected_output_shape[1:]):
        raise AssertionError(f"symbolic shape {symbolic_out.shape} != {expected_output_shape}")
    eager_out = keras.ops.convert_to_numpy(layer(input_data))
    if eager_out.shape != tuple(expected_output_shape):
        raise AssertionError(f"eager shape {eager_out.shape} != {expected_output_shape}")

    # Wrap it in a model so saving and fitting go through the public API.
    model = keras.Model(symbolic_in, keras.layers.Dense(1, name="probe")(symbolic_out))
    run_model_test(model, input_data, np.zeros(model.output_shape[1:], "float32"), "mse")


def run_model_test(model, input_data, target_example, loss, steps=5):
    """Checks a model: shapes, config round trip, `.keras` reload, training.

    Args:
        model: an uncompiled `keras.Model`.
        input_data: a numpy batch for the model's input (or a list or dict of
            them, one per input).
        target_example: one target; it is tiled over the batch.
        loss: a Keras loss for the one-step `fit`.
        steps: number of training steps on the fixed batch.
    """
    batch = keras.tree.flatten(input_data)[0].shape[0]
    expected = (batch,) + tuple(model.output_shape[1:])
    outputs = keras.ops.convert_to_numpy(model(input_data, training=False))
    if outputs.shape[:1] != (batch,) or any(
        d is not None and d != s for d, s in zip(expected, outputs.shape)
    ):
        raise AssertionError(f"eager shape {outputs.shape} != {expected}")
    if not np.all(np.isfinite(outputs)):
        raise AssertionError("model outputs are not finite")
    symbolic = model(keras.tree.map_structure(
        lambda x: keras.Input(shape=x.shape[1:], dtype=str(x.dtype)), input_data))
    if tuple(symbolic.shape[1:]) != tuple(outputs.shape[1:]) and None not in symbolic.shape[1:]:
        raise AssertionError(f"symbolic shape {symbolic.shape} != {outputs.shape}")

    clone = type(model).from_config(model.get_config())
    clone.set_weights(model.get_weights())
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(clone(input_data, training=False)), outputs, atol=1e-6
    )

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.keras")
        model.save(path)
        restored = keras.saving.load_model(path, safe_mode=True)
    if not isinstance(restored, keras.Model):
        raise AssertionError(f"reloaded a {type(restored)}")
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(restored(input_data, training=False)), outputs, atol=1e-6
    )

    targets = np.broadcast_to(target_example, (batch,) + np.shape(target_example)).copy()
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss=loss)
    before = model.evaluate(input_data, targets, verbose=0)
    for _ in range(steps):
        model.train_on_batch(input_data, targets)
    after = model.evaluate(input_data, targets, verbose=0)
    if not after < before:
        raise AssertionError(f"training did not lower the loss: {before} -> {after}")
