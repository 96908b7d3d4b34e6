import keras
import numpy as np
import pytest

from modelzoo.layers import MaskedLMHead, TokenAndPositionEmbedding
from modelzoo.testing import config_round_trip, run_model_test

RNG = np.random.default_rng(0)
HIDDEN = RNG.normal(size=(2, 6, 8)).astype("float32")
POSITIONS = np.array([[1, 4, 0], [5, 2, 2]], "int32")


def model_around(head):
    hidden = keras.Input((6, 8))
    positions = keras.Input((3,), dtype="int32")
    return keras.Model([hidden, positions], head(hidden, mask_positions=positions))


def test_layer_basics():
    keras.utils.set_random_seed(0)
    head = MaskedLMHead(vocabulary_size=11)
    assert config_round_trip(head).vocabulary_size == 11
    model = model_around(head)
    assert model.output_shape == (None, 3, 11)
    run_model_test(model, [HIDDEN, POSITIONS], np.zeros((3,), "int32"),
                   keras.losses.SparseCategoricalCrossentropy(from_logits=True))


def test_only_the_masked_positions_are_predicted():
    keras.utils.set_random_seed(0)
    head = MaskedLMHead(vocabulary_size=11)
    out = np.asarray(head(HIDDEN, mask_positions=POSITIONS))
    everywhere = np.asarray(head(HIDDEN, mask_positions=np.tile(np.arange(6), (2, 1))))
    np.testing.assert_allclose(out[0], everywhere[0, [1, 4, 0]], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out[1], everywhere[1, [5, 2, 2]], rtol=1e-5, atol=1e-6)


def test_tied_output_is_the_embedding_table_in_reverse():
    keras.utils.set_random_seed(0)
    embedding = TokenAndPositionEmbedding(11, 6, 8)
    embedding(np.zeros((1, 6), "int32"))
    head = MaskedLMHead(vocabulary_size=11, token_embedding=embedding)
    out = np.asarray(head(HIDDEN, mask_positions=POSITIONS))
    x = np.asarray(head.layer_norm(head.intermediate_dense(HIDDEN[:1, [1]])))
    table = np.asarray(embedding.token_embedding.embeddings)
    np.testing.assert_allclose(out[0, 0], (x @ table.T)[0, 0], rtol=1e-4, atol=1e-5)
    assert not hasattr(head, "output_dense")


@pytest.mark.parametrize("kwargs, arg", [
    ({"vocabulary_size": 0}, "vocabulary_size"),
    ({"vocabulary_size": 12, "token_embedding": TokenAndPositionEmbedding(11, 6, 8)},
     "token_embedding"),
    ({"vocabulary_size": 11, "layer_norm_epsilon": 0}, "layer_norm_epsilon"),
])
def test_bad_arguments_are_named(kwargs, arg):
    with pytest.raises(ValueError, match=f"`{arg}`"):
        MaskedLMHead(**kwargs)
