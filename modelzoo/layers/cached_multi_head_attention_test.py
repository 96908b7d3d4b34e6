import keras
import numpy as np
import pytest

from modelzoo.layers import CachedMultiHeadAttention
from modelzoo.testing import config_round_trip


def test_config_round_trip_and_saving(tmp_path):
    # The harness's run_layer_test calls a layer on one input; attention
    # takes two, so the harness covers it inside TransformerDecoder, and
    # the round trips are checked here.
    layer = CachedMultiHeadAttention(num_heads=2, key_dim=4, dropout=0.1, name="attention")
    config_round_trip(layer)
    inputs = keras.Input((5, 8))
    model = keras.Model(inputs, layer(inputs, inputs, use_causal_mask=True))
    x = np.random.default_rng(0).normal(size=(2, 5, 8)).astype("float32")
    model.save(tmp_path / "model.keras")
    reloaded = keras.saving.load_model(tmp_path / "model.keras")
    assert isinstance(reloaded.get_layer("attention"), CachedMultiHeadAttention)
    np.testing.assert_allclose(np.asarray(reloaded(x)), np.asarray(model(x)), atol=1e-6)


def test_without_a_cache_it_is_the_parent_layer():
    x = np.random.default_rng(1).normal(size=(2, 6, 8)).astype("float32")
    layer = CachedMultiHeadAttention(num_heads=2, key_dim=4)
    parent = keras.layers.MultiHeadAttention(num_heads=2, key_dim=4)
    layer(x, x)
    parent(x, x)
    parent.set_weights(layer.get_weights())
    np.testing.assert_allclose(
        np.asarray(layer(x, x, use_causal_mask=True)),
        np.asarray(parent(x, x, use_causal_mask=True)), atol=1e-6,
    )


@pytest.mark.parametrize("use_bias", [True, False])
def test_cached_steps_match_the_causal_call(use_bias):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(3, 7, 12)).astype("float32")
    layer = CachedMultiHeadAttention(num_heads=3, key_dim=4, use_bias=use_bias)
    full = np.asarray(layer(x, x, use_causal_mask=True))
    cache = layer.empty_cache(3, 9)
    out, cache = layer(x[:, :3], x[:, :3], cache=cache, cache_update_index=0)
    steps = [np.asarray(out)]
    for t in range(3, 7):
        out, cache = layer(x[:, t : t + 1], x[:, t : t + 1], cache=cache, cache_update_index=t)
        steps.append(np.asarray(out))
    np.testing.assert_allclose(np.concatenate(steps, axis=1), full, atol=1e-5)
    # The cache (position-major) holds the keys and values of positions 0..6
    # and nothing after.
    assert tuple(cache.shape) == (2, 9, 3, 12)
    assert np.abs(np.asarray(cache[0])[:7]).min(axis=(1, 2)).all()
    for part in cache:
        np.testing.assert_array_equal(np.asarray(part)[7:], 0.0)


def test_cache_needs_an_update_index():
    layer = CachedMultiHeadAttention(num_heads=2, key_dim=2)
    x = np.zeros((1, 1, 4), "float32")
    with pytest.raises(ValueError, match="cache_update_index"):
        layer(x, x, cache=layer.empty_cache(1, 3, dtype="float32"))
