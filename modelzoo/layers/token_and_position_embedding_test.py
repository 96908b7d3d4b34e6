import numpy as np
import pytest

from modelzoo.layers import TokenAndPositionEmbedding
from modelzoo.testing import run_layer_test


def test_layer_basics():
    ids = np.array([[1, 2, 3, 0], [4, 5, 0, 0]], "int32")
    run_layer_test(
        TokenAndPositionEmbedding,
        dict(vocabulary_size=10, sequence_length=4, embedding_dim=6),
        ids,
        (2, 4, 6),
    )


def test_mask_marks_padding_and_short_inputs_work():
    layer = TokenAndPositionEmbedding(10, 8, 4)
    ids = np.array([[7, 0, 3]], "int32")
    assert layer(ids).shape == (1, 3, 4)
    np.testing.assert_array_equal(np.asarray(layer.compute_mask(ids)), [[True, False, True]])


@pytest.mark.parametrize(
    "kwargs, arg",
    [
        (dict(vocabulary_size=0, sequence_length=4, embedding_dim=6), "vocabulary_size"),
        (dict(vocabulary_size=5, sequence_length=-1, embedding_dim=6), "sequence_length"),
        (dict(vocabulary_size=5, sequence_length=4, embedding_dim=2.5), "embedding_dim"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, arg):
    with pytest.raises(ValueError, match=arg):
        TokenAndPositionEmbedding(**kwargs)
