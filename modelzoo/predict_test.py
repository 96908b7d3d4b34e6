"""`modelzoo predict` on every kind of export, in and out of process.

Each export is written by the real export code from a small untrained model,
placed as version 1 of `<root>/<name>`, and called through `predict()` (or
the command); the records must match what the in-memory model gives.
"""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

import modelzoo
from modelzoo import export
from modelzoo.errors import DataError, UsageError
from modelzoo.export import model_card
from modelzoo.pixels import decode_and_resize
from modelzoo.predict import predict
from tests import gpt_helpers, qa_helpers, transfer_helpers
from tests.recipe_helpers import ROOT

pytestmark = pytest.mark.slow


def version_one(root, name, write):
    path = root / name / "1"
    write(str(path))
    return str(root / name)


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tmp_path_factory.mktemp("exports")


def test_image_bytes_classifier(root, tmp_path):
    keras.utils.set_random_seed(0)
    model = modelzoo.build_cnn((32, 32, 3), 3, filters=(4,), kernel_size=3, dense_units=8,
                               rescale=1 / 255)
    classes = transfer_helpers.CLASSES
    model_dir = version_one(root, "flowers", lambda p: export.export_image_bytes_classifier(
        model, classes, p))
    files = []
    for i, data in enumerate(transfer_helpers.encoded_images()[:2]):
        files.append(str(tmp_path / f"image{i}"))
        with open(files[-1], "wb") as f:
            f.write(data)
    out = predict(model_dir, image=files)
    assert [r["image"] for r in out["predictions"]] == files
    assert out["export_path"] == os.path.join(model_dir, "1")
    pixels = np.stack([decode_and_resize(open(f, "rb").read(), (32, 32)) for f in files])
    want = np.argmax(np.asarray(model(pixels)), axis=1)
    assert [r["label"] for r in out["predictions"]] == [classes[i] for i in want]
    with pytest.raises(UsageError, match="--image FILE is needed"):
        predict(model_dir)
    with pytest.raises(UsageError, match="--image /no/such.png: cannot be read"):
        predict(model_dir, image=["/no/such.png"])
    (tmp_path / "text.png").write_text("not an image")
    with pytest.raises(DataError, match="not a JPEG, PNG, GIF or BMP"):
        predict(model_dir, image=[str(tmp_path / "text.png")])


def test_gpt_generator_with_top_k(root):
    model = gpt_helpers.tiny_gpt()
    vocab = gpt_helpers.VOCAB
    model_dir = version_one(root, "gpt", lambda p: export.export_gpt_generator(model, vocab, p))
    out = predict(model_dir, prompt=["ab", "c"], num_chars=12, temperature=0.0)
    want = [export.greedy_generate_gpt(model, vocab, p, 12) for p in ("ab", "c")]
    assert [r["text"] for r in out["predictions"]] == want
    # top_k=1 keeps only the argmax, so sampling at any temperature is greedy.
    out = predict(model_dir, prompt=["ab"], num_chars=12, temperature=5.0, top_k=1)
    assert out["predictions"][0]["text"] == want[0]


def test_question_answering(root):
    model, processor = qa_helpers.tiny_qa(), qa_helpers.processor()
    model_dir = version_one(root, "qa", lambda p: export.export_qa(model, processor, p))
    questions, contexts = qa_helpers.QUESTIONS[:3], qa_helpers.CONTEXTS[:3]
    out = predict(model_dir, question=questions, context=contexts)
    want = processor.predict(model, questions, contexts)
    assert [r["answer"].encode() for r in out["predictions"]] == want["answer"].tolist()
    np.testing.assert_allclose([r["score"] for r in out["predictions"]], want["score"],
                               rtol=1e-3, atol=1e-4)
    with pytest.raises(UsageError, match="one --context per --question; got 2 questions and 1"):
        predict(model_dir, question=questions[:2], context=contexts[:1])
    with pytest.raises(UsageError, match="^the model refused the request: every context must be "
                                         "non-empty$"):
        predict(model_dir, question=["who?"], context=[""])


def test_unknown_signature_is_a_data_error(root):
    class Doubler(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="x")])
        def serve(self, x):
            return {"y": 2 * x}

    module = Doubler()
    path = root / "odd" / "1"
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})
    with pytest.raises(DataError, match=r"unrecognised serving_default inputs \['x'\]"):
        predict(str(root / "odd"))


def test_command_prints_the_card_summary_then_the_answers_as_json(root):
    model, processor = qa_helpers.tiny_qa(), qa_helpers.processor()
    model_dir = version_one(root, "qa_cli", lambda p: export.export_qa(model, processor, p))
    path = os.path.join(model_dir, "1")
    card = model_card.build_card("qa_cli", {"metrics": {"f1": 0.25}}, path)
    model_card.write_card(path, card)
    done = subprocess.run(
        [sys.executable, "-m", "modelzoo", "predict", "--model", model_dir,
         "--question", qa_helpers.QUESTIONS[0], "--context", qa_helpers.CONTEXTS[0]],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
    )
    assert done.returncode == 0, done.stderr[-2000:]
    # The summary goes to stderr: stdout stays one JSON line for scripts.
    assert f"model: {model_card.summary_line(card)}" in done.stderr.splitlines()
    assert "qa_cli: f1 0.25; published" in done.stderr
    (line,) = done.stdout.strip().splitlines()
    out = json.loads(line)
    assert out["predictions"][0]["question"] == qa_helpers.QUESTIONS[0]
    assert out["predictions"][0]["answer"] in qa_helpers.CONTEXTS[0]
