"""The export contract: each kind publishes, verifies, is recognised and served."""

import os

import numpy as np
import pytest
import tensorflow as tf

from modelzoo import build_cnn
from modelzoo import export
from modelzoo.clients import CLIENTS, client_for
from modelzoo.export import base, char_sampling
from modelzoo.export.model_card import MODEL_CARD_FILE, read_card
from modelzoo.predict import load_serving
from tests import export_helpers

VOCAB = export_helpers.VOCAB


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def test_every_export_kind_names_a_client():
    kinds = {getattr(c, "kind", None) for c in _subclasses(base.ExportModule)}
    kinds.discard(None)
    # ImageClassifierExport sets its kind per input type.
    kinds |= {"image", "image_bytes"}
    assert kinds <= set(CLIENTS)
    assert {"generator", "qa", "text_classifier"} <= kinds


def test_image_classifier_refuses_an_unknown_input_type():
    model = build_cnn((8, 8, 3), 2, filters=(2,), kernel_size=3, dense_units=4)
    with pytest.raises(ValueError, match="input_type.*'jpeg'"):
        export.ImageClassifierExport(model, ["a", "b"], input_type="jpeg")


def _image_request(tmp_path):
    path = tmp_path / "one.png"
    path.write_bytes(tf.io.encode_png(np.zeros((5, 7, 3), np.uint8)).numpy())
    return {"image": [str(path)]}


REQUESTS = {
    "image_bytes": _image_request,
    "text_classifier": lambda tmp_path: {"text": ["a good movie"]},
    "generator": lambda tmp_path: {"prompt": ["ab"], "num_chars": 2, "temperature": 0.0,
                                   "top_k": 0},
}


@pytest.mark.parametrize("make, kind", [
    (lambda: export_helpers.image_module("pixels"), "image"),
    (lambda: export_helpers.image_module("bytes"), "image_bytes"),
    (export_helpers.text_module, "text_classifier"),
    (export_helpers.generator_module, "generator"),
])
def test_kind_round_trips_and_is_found_from_card_or_signature(make, kind, tmp_path):
    module = make()
    path = base.publish(module, base.Target(str(tmp_path / "out"), "m"))
    assert path == os.path.join(str(tmp_path / "out"), "m", "1")
    assert read_card(path)["kind"] == kind

    serve = load_serving(path)
    specs = serve.structured_input_signature[1]
    assert client_for(specs, read_card(path)["kind"]).kind == kind
    if kind in REQUESTS:
        records = client_for(specs, kind).predict(serve, REQUESTS[kind](tmp_path))
        assert len(records) == 1
    else:
        example = module.example()
        got = serve(**{k: tf.constant(v) for k, v in example.items()})
        np.testing.assert_array_equal(got["class_ids"].numpy(),
                                      module.expected(example)["class_ids"])

    # An export published before cards recorded the kind: its signature says it.
    os.remove(os.path.join(path, MODEL_CARD_FILE))
    assert client_for(specs).kind == kind


def test_a_full_precision_generator_compares_whole_texts():
    module = export_helpers.generator_module()
    example = module.example()
    module.expected(example)
    assert module.prefixes(example) is None
    assert isinstance(module, char_sampling.GeneratorExport)
