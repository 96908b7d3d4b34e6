import numpy as np
import pytest

from modelzoo.layers import TransformerEncoder
from modelzoo.testing import run_layer_test


def test_layer_basics():
    x = np.random.default_rng(0).normal(size=(2, 5, 8)).astype("float32")
    run_layer_test(TransformerEncoder, dict(intermediate_dim=16, num_heads=2), x, (2, 5, 8))
    run_layer_test(
        TransformerEncoder,
        dict(intermediate_dim=16, num_heads=2, dropout=0.1, attention_dropout=0.2),
        x,
        (2, 5, 8),
    )


def test_attention_dropout_reaches_the_attention_layer():
    layer = TransformerEncoder(intermediate_dim=8, num_heads=2, dropout=0.1, attention_dropout=0.3)
    layer(np.zeros((1, 3, 8), "float32"))
    assert layer.attention.dropout == 0.3
    assert layer.get_config()["attention_dropout"] == 0.3


def test_padded_positions_do_not_change_unpadded_outputs():
    layer = TransformerEncoder(intermediate_dim=16, num_heads=2)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(1, 6, 8)).astype("float32")
    mask = np.array([[True, True, True, True, False, False]])
    noisy = x.copy()
    noisy[:, 4:] = rng.normal(size=(1, 2, 8))
    a = np.asarray(layer(x, padding_mask=mask))
    b = np.asarray(layer(noisy, padding_mask=mask))
    np.testing.assert_allclose(a[:, :4], b[:, :4], atol=1e-5)
    # Without the mask the padded values leak in: the check above can fail.
    c = np.asarray(layer(noisy))
    assert not np.allclose(a[:, :4], c[:, :4], atol=1e-5)


@pytest.mark.parametrize(
    "kwargs, arg",
    [
        (dict(intermediate_dim=0, num_heads=2), "intermediate_dim"),
        (dict(intermediate_dim=8, num_heads=0), "num_heads"),
        (dict(intermediate_dim=8, num_heads=2, dropout=1.0), "dropout"),
        (dict(intermediate_dim=8, num_heads=2, attention_dropout=-0.1), "attention_dropout"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, arg):
    with pytest.raises(ValueError, match=arg):
        TransformerEncoder(**kwargs)


def test_hidden_dim_must_divide_by_heads():
    with pytest.raises(ValueError, match="num_heads"):
        TransformerEncoder(intermediate_dim=8, num_heads=3)(np.zeros((1, 2, 8), "float32"))
