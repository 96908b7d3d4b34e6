"""The gRPC client of docs/serving.md: its requests answered as TF Serving would, offline.

The test runs the docs' own code block (its `__main__` part, which
dials the server, is left out), builds the requests it sends, turns each
input into an array with `tf.make_ndarray` as the server does, and calls the
exported signature.
"""

import os
import re

import keras
import numpy as np
import pytest
import tensorflow as tf

from modelzoo import build_cnn
from modelzoo.export import (
    export_gpt_generator,
    export_image_classifier,
    greedy_generate_gpt,
    verify,
    warmup,
)
from tests import gpt_helpers
from tests.recipe_helpers import ROOT

CLASS_NAMES = ["T-shirt/top", "Trouser", "Ankle boot"]


def readme_client():
    """The namespace of docs/serving.md's gRPC client block, run as a module."""
    with open(os.path.join(ROOT, "docs", "serving.md"), encoding="utf-8") as f:
        blocks = re.findall(r"```python\n(.*?)```", f.read(), re.S)
    (block,) = [b for b in blocks if "prediction_service_pb2_grpc" in b]
    namespace = {"__name__": "readme_client"}
    exec(compile(block, "docs/serving.md:grpc-client", "exec"), namespace)  # noqa: S102
    return namespace


@pytest.mark.slow
def test_readme_image_request_is_answered_by_an_image_export(tmp_path):
    client = readme_client()
    keras.utils.set_random_seed(0)
    model = build_cnn((28, 28, 1), 3, filters=(4,), kernel_size=3, dense_units=8, rescale=1 / 255)
    path = export_image_classifier(model, CLASS_NAMES, str(tmp_path / "image"))
    images = np.random.default_rng(0).integers(0, 256, (4, 28, 28, 1)).astype("uint8")
    request = client["image_request"](images)
    # The docs' request is the one modelzoo writes as warm-up, field for field.
    assert request == warmup.predict_request({"images": images}, "fashion_mnist_mlp")
    out = verify.run_request(tf.saved_model.load(path), request)
    want = np.argmax(keras.ops.convert_to_numpy(model(images.astype("float32"))), axis=1)
    assert out["labels"].numpy().tolist() == [CLASS_NAMES[i].encode() for i in want]


@pytest.mark.slow
def test_readme_gpt_request_is_answered_by_a_gpt_export(tmp_path):
    client = readme_client()
    model, vocab = gpt_helpers.tiny_gpt(), gpt_helpers.VOCAB
    path = export_gpt_generator(model, vocab, str(tmp_path / "gpt"))
    loaded = tf.saved_model.load(path)
    # The docs' request has no top_p, seed or stop: TF Serving feeds the
    # SignatureDef's defaults, as `run_request` does given them.
    defaults = verify.signature_defaults(path)
    # Exactly what the docs' client sends: 200 sampled characters at 0.8, top-k 10.
    request = client["gpt_request"](["ROMEO:"])
    assert request.model_spec.name == "shakespeare_gpt"
    (text,) = verify.run_request(loaded, request, defaults)["text"].numpy()
    assert len(text.decode()) == 200 and set(text.decode()) <= set("".join(vocab))
    # Greedy rows are deterministic: they must be the Keras model's own.
    request = client["gpt_request"](["ab", "c"], num_chars=12, temperature=0.0)
    texts = verify.run_request(loaded, request, defaults)["text"].numpy()
    assert [t.decode() for t in texts] == [
        greedy_generate_gpt(model, vocab, p, 12) for p in ("ab", "c")
    ]
