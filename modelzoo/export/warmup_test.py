"""Unit tests of `modelzoo.export.warmup`: reading back what was written."""

import os

import numpy as np
import pytest

from modelzoo.export import warmup


@pytest.fixture
def saved_model_dir(tmp_path):
    warmup.write_warmup(str(tmp_path), warmup.warmup_inputs({"x": np.zeros((2, 3), "float32")}),
                        "m")
    return tmp_path


def test_reads_back_every_request(saved_model_dir):
    logs = warmup.read_warmup(str(saved_model_dir))
    assert [log.predict_log.request.model_spec.name for log in logs] == ["m", "m"]


@pytest.mark.parametrize("extra", [b"\x05", b"\x00" * 7, b"\x40" + b"\x00" * 11])
def test_a_record_cut_short_is_named(saved_model_dir, extra):
    # TF's reader stops quietly at some cuts; the file's size tells.
    path = saved_model_dir / warmup.WARMUP_FILE
    with open(path, "ab") as f:
        f.write(extra)
    with pytest.raises(ValueError, match=f"{path} is (truncated|corrupt)"):
        warmup.read_warmup(str(saved_model_dir))


def test_a_record_that_is_no_prediction_log_is_named(saved_model_dir):
    import tensorflow as tf

    path = saved_model_dir / warmup.WARMUP_FILE
    os.remove(path)
    with tf.io.TFRecordWriter(str(path)) as writer:
        writer.write(b"\xff\xff\xff not a proto")
    with pytest.raises(ValueError, match="record 0 is not a PredictionLog"):
        warmup.read_warmup(str(saved_model_dir))
