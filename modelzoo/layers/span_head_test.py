import keras
import numpy as np
import pytest

from modelzoo.layers import SpanHead, TokenAndPositionEmbedding
from modelzoo.testing import run_layer_test


def test_layer_basics():
    keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).normal(size=(2, 5, 8)).astype("float32")
    run_layer_test(SpanHead, {}, x, (2, 2, 5))


def test_padding_gets_the_mask_value_in_start_and_end():
    head = SpanHead(mask_value=-1e4)
    x = np.random.default_rng(1).normal(size=(2, 4, 6)).astype("float32")
    mask = np.array([[1, 1, 0, 0], [1, 1, 1, 1]], bool)
    out = np.asarray(head(x, padding_mask=mask))
    np.testing.assert_array_equal(out[0, :, 2:], -1e4)
    unmasked = np.asarray(head(x))
    np.testing.assert_allclose(out[0, :, :2], unmasked[0, :, :2])
    np.testing.assert_allclose(out[1], unmasked[1])


def test_mask_carried_by_the_input_is_used():
    embedding = TokenAndPositionEmbedding(10, 5, 4)
    head = SpanHead()
    out = np.asarray(head(embedding(np.array([[4, 5, 0, 0, 0]], "int32"))))
    np.testing.assert_array_equal(out[0, :, 2:], -1e9)
    assert np.all(out[0, :, :2] > -1e3)


@pytest.mark.parametrize("value", [0.0, 5, "big", True])
def test_bad_mask_value_is_named(value):
    with pytest.raises(ValueError, match="mask_value"):
        SpanHead(mask_value=value)
