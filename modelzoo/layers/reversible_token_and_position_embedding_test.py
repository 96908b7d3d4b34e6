import os
import tempfile

import keras
import numpy as np
import pytest

from modelzoo.layers import ReversibleTokenAndPositionEmbedding, TokenAndPositionEmbedding
from modelzoo.testing import run_layer_test


def test_layer_basics():
    keras.utils.set_random_seed(0)
    ids = np.array([[1, 2, 3, 0], [4, 5, 0, 0]], "int32")
    run_layer_test(
        ReversibleTokenAndPositionEmbedding,
        dict(vocabulary_size=10, sequence_length=4, embedding_dim=6),
        ids,
        (2, 4, 6),
    )


def test_forward_is_the_parent_embedding():
    ids = np.array([[7, 0, 3]], "int32")
    layer = ReversibleTokenAndPositionEmbedding(10, 8, 4)
    parent = TokenAndPositionEmbedding(10, 8, 4)
    parent.build(ids.shape)
    layer.build(ids.shape)
    parent.set_weights(layer.get_weights())
    np.testing.assert_allclose(np.asarray(layer(ids)), np.asarray(parent(ids)))
    np.testing.assert_array_equal(np.asarray(layer.compute_mask(ids)), [[True, False, True]])


def tied_model():
    layer = ReversibleTokenAndPositionEmbedding(12, 5, 4, mask_zero=False, name="embedding")
    ids = keras.Input((None,), dtype="int32")
    logits = layer(layer(ids), reverse=True)
    return keras.Model(ids, logits), layer


def test_reverse_uses_the_transposed_token_table():
    model, layer = tied_model()
    assert model.output_shape == (None, None, 12)
    # One table, used at both ends.
    assert len(model.weights) == 2
    ids = np.array([[1, 4, 11]], "int32")
    hidden = np.asarray(layer(ids))
    table = np.asarray(layer.token_embedding.embeddings)
    np.testing.assert_allclose(np.asarray(model(ids)), hidden @ table.T, atol=1e-6)


def test_tied_model_saves_and_reloads_with_one_table():
    model, _ = tied_model()
    ids = np.array([[3, 2, 1]], "int32")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "tied.keras")
        model.save(path)
        restored = keras.saving.load_model(path, safe_mode=True)
    assert len(restored.weights) == 2
    np.testing.assert_allclose(np.asarray(restored(ids)), np.asarray(model(ids)), atol=1e-6)


@pytest.mark.parametrize(
    "kwargs, arg",
    [
        (dict(vocabulary_size=0, sequence_length=4, embedding_dim=6), "vocabulary_size"),
        (dict(vocabulary_size=5, sequence_length=0, embedding_dim=6), "sequence_length"),
        (dict(vocabulary_size=5, sequence_length=4, embedding_dim=None), "embedding_dim"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, arg):
    with pytest.raises(ValueError, match=arg):
        ReversibleTokenAndPositionEmbedding(**kwargs)
