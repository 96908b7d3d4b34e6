"""Fixed-shape training batches on a TPU and under XLA (`drop_remainder`)."""

import numpy as np
import pytest
import tensorflow as tf

from modelzoo import configs
from modelzoo.data import pipelines
from modelzoo.trainer import summarize


@pytest.mark.parametrize("overrides, drop", [
    ({}, False),
    ({"jit_compile": "auto"}, False),
    ({"jit_compile": "true"}, True),
    ({"strategy": "tpu"}, True),
])
def test_drop_remainder_under_tpu_and_xla_and_in_the_summary(overrides, drop):
    config = configs.get_config("mnist_mlp", **overrides)
    assert config.training.drop_remainder() is drop
    summary = summarize(config, "mlp", {}, None, 0.0)
    assert summary["drop_remainder"] is drop


def _batch_sizes(ds):
    return [int(tf.shape(x)[0]) for x, _ in ds]


def test_finish_and_gathered_batches_keep_one_static_shape():
    ds = tf.data.Dataset.from_tensor_slices((np.arange(10.0), np.arange(10)))
    fixed = pipelines.finish(ds, 4, True, seed=0, drop_remainder=True)
    assert fixed.element_spec[0].shape.as_list() == [4]
    assert _batch_sizes(fixed) == [4, 4]
    assert _batch_sizes(pipelines.finish(ds, 4, True, seed=0)) == [4, 4, 2]

    images, labels = np.zeros((10, 2), "uint8"), np.zeros(10, "int64")
    fixed = pipelines.gathered_batches(images, labels, 4, seed=0, drop_remainder=True)
    assert fixed.element_spec[0].shape.as_list() == [4, 2]
    assert _batch_sizes(fixed) == [4, 4] and int(fixed.cardinality()) == 2
    assert _batch_sizes(pipelines.gathered_batches(images, labels, 4, seed=0)) == [4, 4, 2]


def test_char_sequences_training_batches_are_full():
    vocabulary = [""] + list("ab")
    ds = pipelines.char_sequences("ab" * 40, vocabulary, 3, 4, True, seed=0,
                                  drop_remainder=True)
    assert ds.element_spec[0].shape.as_list() == [4, 3]
    assert set(_batch_sizes(ds)) == {4}
