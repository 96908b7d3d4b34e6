import keras
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


def tied_model():
    layer = TokenAndPositionEmbedding(12, 5, 4, mask_zero=False, name="embedding")
    ids = keras.Input((None,), dtype="int32")
    logits = layer(layer(ids), reverse=True)
    return keras.Model(ids, logits), layer


def test_reverse_gives_logits_from_the_token_table():
    model, layer = tied_model()
    assert model.output_shape == (None, None, 12)
    # One token table, used at both ends, and the position table.
    assert len(model.weights) == 2
    ids = np.array([[1, 4, 11]], "int32")
    hidden = np.asarray(layer(ids))
    table = np.asarray(layer.token_embedding.embeddings)
    np.testing.assert_allclose(np.asarray(model(ids)), hidden @ table.T, atol=1e-6)


def test_tied_model_saves_and_reloads_with_one_table(tmp_path):
    model, _ = tied_model()
    ids = np.array([[3, 2, 1]], "int32")
    model.save(tmp_path / "tied.keras")
    restored = keras.saving.load_model(tmp_path / "tied.keras", safe_mode=True)
    assert len(restored.weights) == 2
    np.testing.assert_allclose(np.asarray(restored(ids)), np.asarray(model(ids)), atol=1e-6)


def test_start_index_shifts_the_positions():
    layer = TokenAndPositionEmbedding(10, 6, 4, mask_zero=False)
    ids = np.array([[1, 2, 3, 4, 5]], "int32")
    whole = np.asarray(layer(ids))
    np.testing.assert_allclose(np.asarray(layer(ids[:, 2:], start_index=2)), whole[:, 2:])
