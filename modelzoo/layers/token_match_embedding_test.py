import keras
import numpy as np
import pytest

from modelzoo.layers import TokenMatchEmbedding
from modelzoo.testing import run_layer_test


def test_layer_basics():
    keras.utils.set_random_seed(0)
    ids = np.array([[2, 7, 8, 3, 9, 7, 3, 0], [2, 9, 3, 9, 9, 3, 0, 0]], "int32")
    kwargs = dict(separator_id=3, embedding_dim=4, embeddings_initializer="he_normal")
    run_layer_test(TokenMatchEmbedding, kwargs, ids, (2, 8, 4))


def test_a_token_matches_when_its_id_is_in_the_other_segment():
    layer = TokenMatchEmbedding(separator_id=3, embedding_dim=2)
    ids = np.array([
        [2, 7, 8, 7, 3, 9, 7, 6, 3, 0],   # 7 is on both sides; 8, 9 and 6 on one
        [2, 5, 3, 6, 3, 0, 0, 0, 0, 0],   # nothing shared
        [2, 3, 3, 3, 2, 3, 0, 0, 0, 0],   # special ids never match
    ], "int32")
    np.testing.assert_array_equal(np.asarray(layer.matches(ids)), [
        [0, 1, 0, 1, 0, 0, 1, 0, 0, 0],
        [0] * 10,
        [0] * 10,
    ])
    out = np.asarray(layer(ids))
    np.testing.assert_allclose(out[0, 1], out[0, 6])
    assert not np.allclose(out[0, 1], out[0, 2])
    np.testing.assert_array_equal(np.asarray(layer.compute_mask(ids))[1], [1] * 5 + [0] * 5)


@pytest.mark.parametrize("kwargs, arg", [
    (dict(separator_id=-1, embedding_dim=2), "separator_id"),
    (dict(separator_id=3, embedding_dim=0), "embedding_dim"),
    (dict(separator_id=3, embedding_dim=2, first_word_id=0), "first_word_id"),
])
def test_bad_arguments_are_named(kwargs, arg):
    with pytest.raises(ValueError, match=f"`{arg}`"):
        TokenMatchEmbedding(**kwargs)
