"""The row and the columnar REST formats, replayed through every export kind.

Each export is called with the tensors TF Serving's REST handler builds from
both bodies (`tests/rest_helpers.py`); the outputs must be the same.
"""

import numpy as np
import pytest

import modelzoo
from modelzoo import export
from modelzoo.export.verify import ServedSignature
from tests import gpt_helpers, qa_helpers, transfer_helpers
from tests.rest_helpers import bodies, request_tensors

VOCAB = [""] + list("abcdefgh .")


def _image(path):
    keras_model = modelzoo.build_cnn((28, 28, 1), 3, filters=(4,), kernel_size=3,
                                     dense_units=8, rescale=1 / 255)
    export.export_image_classifier(keras_model, ["a", "b", "c"], path)
    pixels = np.random.default_rng(0).integers(0, 256, (2, 28, 28, 1)).astype("uint8")
    return {"images": pixels}, ()


def _image_bytes(path):
    model = modelzoo.build_cnn((32, 32, 3), 3, filters=(4,), kernel_size=3, dense_units=8,
                               rescale=1 / 255)
    export.export_image_bytes_classifier(model, transfer_helpers.CLASSES, path)
    return {"images": transfer_helpers.encoded_images()[:2]}, ("images",)


def _text(path):
    vectorizer = modelzoo_vectorizer()
    model = modelzoo.build_transformer(40, 16, 2, embed_dim=8, num_heads=2, ff_dim=8,
                                       num_layers=1)
    export.export_text_classifier(model, vectorizer, ["neg", "pos"], path)
    return {"text": [b"a good movie", b"awful"]}, ()


def modelzoo_vectorizer():
    import keras

    vectorizer = keras.layers.TextVectorization(max_tokens=40, output_sequence_length=16)
    vectorizer.adapt(["a good movie", "a bad film", "great fun", "awful boring plot"])
    return vectorizer


def _generator_inputs():
    return {"prompt": [b"ab", b"h."], "num_chars": np.array([5, 3], "int32"),
            "temperature": np.zeros(2, "float32")}


def _lstm(path):
    model = modelzoo.build_lstm_generator(len(VOCAB), embed_dim=8, lstm_units=(8,))
    export.export_text_generator(model, VOCAB, path, 20, 20)
    return _generator_inputs(), ()


def _gpt(path):
    export.export_gpt_generator(gpt_helpers.tiny_gpt(), gpt_helpers.VOCAB, path, 20, 20)
    return dict(_generator_inputs(), top_k=np.zeros(2, "int32")), ()


def _qa(path):
    export.export_qa(qa_helpers.tiny_qa(), qa_helpers.processor(), path)
    return {"question": [q.encode() for q in qa_helpers.QUESTIONS[:2]],
            "context": [c.encode() for c in qa_helpers.CONTEXTS[:2]]}, ()


KINDS = {"image": _image, "image_bytes": _image_bytes, "text": _text, "lstm": _lstm,
         "gpt": _gpt, "qa": _qa}


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_row_and_columnar_bodies_give_the_same_outputs(kind, tmp_path):
    import tensorflow_text  # noqa: F401 - the QA export's ops

    path = str(tmp_path / kind)
    inputs, binary = KINDS[kind](path)
    served = ServedSignature(path)
    _, specs = served.function.structured_input_signature
    row, columnar = bodies(inputs, binary)
    assert '"instances"' in row and '"inputs"' in columnar
    from_rows = served(**request_tensors(row, specs))
    others = [columnar]
    if len(inputs) == 1:
        # One input: both formats may also leave its name out.
        others += list(bodies(inputs, binary, named=False))
    for body in others:
        outputs = served(**request_tensors(body, specs))
        assert sorted(outputs) == sorted(from_rows)
        for name in from_rows:
            np.testing.assert_array_equal(outputs[name].numpy(), from_rows[name].numpy())
            assert from_rows[name].shape[0] == len(next(iter(inputs.values())))
