import keras
import numpy as np
import pytest

from modelzoo.layers import TransformerDecoder
from modelzoo.testing import run_layer_test


def test_layer_basics():
    keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).normal(size=(2, 5, 8)).astype("float32")
    run_layer_test(TransformerDecoder, dict(intermediate_dim=16, num_heads=2), x, (2, 5, 8))


def test_outputs_depend_only_on_earlier_positions():
    layer = TransformerDecoder(intermediate_dim=16, num_heads=2)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 6, 8)).astype("float32")
    changed = x.copy()
    changed[:, 3:] = rng.normal(size=(2, 3, 8))
    a, b = np.asarray(layer(x)), np.asarray(layer(changed))
    np.testing.assert_allclose(a[:, :3], b[:, :3], atol=1e-6)
    assert not np.allclose(a[:, 3:], b[:, 3:], atol=1e-3)


def test_cached_calls_match_the_full_call():
    layer = TransformerDecoder(intermediate_dim=16, num_heads=2)
    x = np.random.default_rng(2).normal(size=(2, 7, 8)).astype("float32")
    full = np.asarray(layer(x))
    # A prefix in one call, then one position per call, in a longer cache.
    cache = layer.empty_cache(2, 10)
    assert tuple(cache.shape) == (2, 10, 2, 8)
    out, cache = layer(x[:, :4], cache=cache, cache_update_index=0)
    steps = [np.asarray(out)]
    for t in range(4, 7):
        out, cache = layer(x[:, t : t + 1], cache=cache, cache_update_index=t)
        steps.append(np.asarray(out))
    np.testing.assert_allclose(np.concatenate(steps, axis=1), full, atol=1e-5)
    # Positions past the last write are still empty.
    for part in cache:
        np.testing.assert_array_equal(np.asarray(part)[7:], 0.0)


def test_cache_needs_an_index():
    layer = TransformerDecoder(intermediate_dim=8, num_heads=2)
    empty = np.zeros((2, 3, 1, 4), "float32")
    with pytest.raises(ValueError, match="cache_update_index"):
        layer(np.zeros((1, 1, 4), "float32"), cache=empty)


@pytest.mark.parametrize(
    "kwargs, arg",
    [
        (dict(intermediate_dim=0, num_heads=2), "intermediate_dim"),
        (dict(intermediate_dim=8, num_heads=-1), "num_heads"),
        (dict(intermediate_dim=8, num_heads=2, dropout=1.0), "dropout"),
        (dict(intermediate_dim=8, num_heads=2, layer_norm_epsilon=0), "layer_norm_epsilon"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, arg):
    with pytest.raises(ValueError, match=arg):
        TransformerDecoder(**kwargs)


def test_hidden_dim_must_divide_by_heads():
    with pytest.raises(ValueError, match="num_heads"):
        TransformerDecoder(intermediate_dim=8, num_heads=3)(np.zeros((1, 2, 8), "float32"))
