import keras
import numpy as np
import pytest

from modelzoo.layers import ImageNetPreprocessing
from modelzoo.testing import run_layer_test


def test_layer_basics():
    keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).uniform(0, 255, (2, 4, 4, 3)).astype("float32")
    run_layer_test(ImageNetPreprocessing, dict(mode="caffe"), x, (2, 4, 4, 3))


@pytest.mark.parametrize("mode", ["caffe", "tf", "torch"])
def test_matches_keras_applications_preprocess_input(mode):
    x = np.random.default_rng(1).uniform(0, 255, (2, 5, 5, 3)).astype("float32")
    want = keras.applications.imagenet_utils.preprocess_input(x.copy(), mode=mode)
    got = np.asarray(ImageNetPreprocessing(mode)(x))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4)


def test_bad_mode_and_channels_are_named():
    with pytest.raises(ValueError, match="mode"):
        ImageNetPreprocessing("inception")
    with pytest.raises(ValueError, match="RGB"):
        ImageNetPreprocessing()(np.zeros((1, 2, 2, 1), "float32"))
