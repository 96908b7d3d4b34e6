import keras
import numpy as np
import pytest

from modelzoo.layers import SegmentEmbedding
from modelzoo.testing import run_layer_test


def test_layer_basics():
    keras.utils.set_random_seed(0)
    ids = np.array([[2, 5, 3, 7, 8, 3, 0], [2, 3, 9, 3, 0, 0, 0]], "int32")
    # Unit-scale embeddings: with the default tiny ones the probe's loss
    # starts near 0 and one Adam step can overshoot it.
    kwargs = dict(separator_id=3, embedding_dim=4, embeddings_initializer="he_normal")
    run_layer_test(SegmentEmbedding, kwargs, ids, (2, 7, 4))


def test_segments_count_the_separators_before_each_token():
    layer = SegmentEmbedding(separator_id=3, embedding_dim=2)
    ids = np.array([[2, 5, 3, 7, 8, 3, 0, 0], [2, 3, 3, 3, 3, 1, 1, 1]], "int32")
    np.testing.assert_array_equal(
        np.asarray(layer.segment_ids(ids)),
        [[0, 0, 0, 1, 1, 1, 1, 1], [0, 0, 1, 1, 1, 1, 1, 1]],
    )
    table = np.asarray(layer(ids))
    np.testing.assert_allclose(table[0, 3], table[1, 7])
    np.testing.assert_array_equal(np.asarray(layer.compute_mask(ids))[0], [1] * 6 + [0] * 2)
    assert SegmentEmbedding(3, 2, mask_zero=False).compute_mask(ids) is None


@pytest.mark.parametrize(
    "kwargs, arg",
    [
        (dict(separator_id=-1, embedding_dim=4), "separator_id"),
        (dict(separator_id=3.0, embedding_dim=4), "separator_id"),
        (dict(separator_id=3, embedding_dim=0), "embedding_dim"),
        (dict(separator_id=3, embedding_dim=4, num_segments=0), "num_segments"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, arg):
    with pytest.raises(ValueError, match=arg):
        SegmentEmbedding(**kwargs)
