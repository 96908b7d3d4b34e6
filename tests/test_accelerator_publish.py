"""Publishing on an accelerator host: the check process and mixed precision.

No GPU here: the tests check what the verification process is told (its
environment, what it reports seeing) and that a 16-bit generator's greedy
check stops at its first near-tie, so rounding cannot fail a publish.
"""

import importlib
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from modelzoo import build_lstm_generator
from modelzoo.export import char_sampling, publish_text_generator
from modelzoo.export.publish import string_array
from modelzoo.export.verify import VerifyError, compare_outputs

publish_module = importlib.import_module("modelzoo.export.publish")
VOCAB = [""] + list("abc")


def test_verify_environment_hides_every_gpu():
    env = publish_module.verify_environment({"CUDA_VISIBLE_DEVICES": "0,1", "PATH": "/bin"})
    assert env["CUDA_VISIBLE_DEVICES"] == "-1"
    assert env["TF_FORCE_GPU_ALLOW_GROWTH"] == "true"
    assert env["MODELZOO_VERIFY_PARENT"] == str(os.getpid())
    assert env["PATH"] == "/bin"


def test_string_prefixes_ignore_text_after_a_tie():
    expected = {"text": string_array(["abcX", "ab"])}
    actual = {"text": string_array(["abcY", "ab"])}
    compare_outputs(actual, expected, 0, 0, {"text": [3, 2]})
    with pytest.raises(VerifyError, match="'text' differs"):
        compare_outputs(actual, expected, 0, 0)
    with pytest.raises(VerifyError, match="'text' differs"):
        compare_outputs(actual, expected, 0, 0, {"text": [4, 2]})


def test_reliable_prefixes_stop_at_the_first_near_tie():
    margins = [[0.5, 0.5, 1e-4, 0.5], [0.3, 0.3]]
    assert char_sampling.reliable_prefixes(["abcd", "éa"], margins, 1e-2) == [2, 3]


def _tied_float16_generator():
    keras.mixed_precision.set_dtype_policy("mixed_float16")
    try:
        model = build_lstm_generator(len(VOCAB), embed_dim=4, lstm_units=(4,))
    finally:
        keras.mixed_precision.set_dtype_policy("float32")
    # All logits equal: every greedy step is a tie.
    dense = model.layers[-1]
    dense.set_weights([np.zeros_like(w) for w in dense.get_weights()])
    return model


def test_float16_generator_publish_checks_text_up_to_the_tie(tmp_path, monkeypatch):
    captured = {}
    monkeypatch.setattr(publish_module, "publish",
                        lambda *args, **kwargs: captured.update(kwargs) or "done")
    model = _tied_float16_generator()
    publish_text_generator(model, VOCAB, str(tmp_path), "gen", example_chars=3,
                           max_chars=10, max_prompt_chars=10)
    assert captured["prefixes"] == {"text": [0, 0, 0]}


class _Texts(tf.Module):
    # Serves "abc" plus a character the in-memory model did not pick: what a
    # float16 tie after three characters looks like to the check.
    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="prompt")])
    def serve(self, prompt):
        return {"text": tf.strings.join([prompt, "abcY"])}


@pytest.mark.slow
def test_a_tie_no_longer_fails_a_publish_and_the_check_sees_no_gpu(tmp_path):
    module = _Texts()

    def write(path):
        tf.saved_model.save(module, path, signatures={"serving_default": module.serve})

    example = {"prompt": string_array([""])}
    expected = {"text": string_array(["abcX"])}
    prefixes = {"text": char_sampling.reliable_prefixes(["abcX"], [[1, 1, 1, 0]], 1e-2)}
    path = publish_module.publish(write, str(tmp_path), "gen", example=example,
                                  expected=expected, prefixes=prefixes)
    assert os.path.basename(path) == "1"
    spec = {"signature": "serving_default", "example": publish_module._encode(example),
            "expected": publish_module._encode(expected), "prefixes": prefixes}
    summary = publish_module.verify_step(path, spec, 300)
    assert summary["cuda_visible_devices"] == "-1"
    assert summary["visible_gpus"] == 0
    with pytest.raises(publish_module.ModelzooError, match="'text' differs"):
        publish_module.verify_step(path, {**spec, "prefixes": None}, 300)
