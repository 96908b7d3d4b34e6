"""Tests for modelzoo.export: TF Serving SavedModels, publishing, verification.

Slow tests publish (each publish verifies in a fresh process) and reload the
exports in a subprocess that imports only TensorFlow. The fast ones load each
export once per module, in process, and fuzz the serving signatures.
"""

import ast
import hashlib
import importlib
import math
import os
import re
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

from modelzoo import build_cnn, build_lstm_generator, build_transformer
from modelzoo.errors import ModelzooError, UsageError
from modelzoo.export import (
    check_target,
    existing_versions,
    export_image_classifier,
    export_text_classifier,
    export_text_generator,
    greedy_generate,
    next_version,
    publish,
    publish_image_classifier,
    publish_text_classifier,
    publish_text_generator,
)
from modelzoo.export.verify import ServedSignature
from tests.serving_helpers import check_serving_assets, serve_many
from tests.serving_helpers import texts as served_texts

# The package re-exports the function `publish`, which hides the submodule
# attribute of the same name.
publish_module = importlib.import_module("modelzoo.export.publish")

CLASS_NAMES = ["T-shirt/top", "Trouser", "Ankle boot"]
REVIEW_CLASSES = ["neg", "pos"]
VOCAB = [""] + list("abcdefgh .")
MAX_CHARS = 50
MAX_PROMPT = 40
SEQUENCE_LENGTH = 16
BAD_INPUT_ERRORS = (tf.errors.InvalidArgumentError, ValueError, TypeError)


# --- models -------------------------------------------------------------------


@pytest.fixture(scope="module")
def image_model():
    keras.utils.set_random_seed(0)
    return build_cnn((28, 28, 1), 3, filters=(4,), kernel_size=3, dense_units=8, rescale=1 / 255)


@pytest.fixture(scope="module")
def text_parts():
    keras.utils.set_random_seed(0)
    vectorizer = keras.layers.TextVectorization(
        max_tokens=40, output_mode="int", output_sequence_length=SEQUENCE_LENGTH
    )
    vectorizer.adapt(["a good movie", "a bad film", "great great fun", "awful boring plot"])
    model = build_transformer(
        40, SEQUENCE_LENGTH, 2, embed_dim=8, num_heads=2, ff_dim=8, num_layers=1
    )
    return model, vectorizer


@pytest.fixture(scope="module")
def generator_model():
    keras.utils.set_random_seed(0)
    model = build_lstm_generator(len(VOCAB), embed_dim=8, lstm_units=(16, 16))
    # Large random weights make greedy text depend on the whole history, so
    # a wrong state in the stepped cells shows up in the output.
    rng = np.random.default_rng(0)
    model.set_weights([rng.normal(0, 1, w.shape).astype("float32") for w in model.get_weights()])
    return model


def image_batch(n, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, 28, 28, 1)).astype("uint8")


def strings(values):
    array = np.empty(len(values), dtype=object)
    array[:] = [v.encode("utf-8") if isinstance(v, str) else bytes(v) for v in values]
    return array


def softmax(logits):
    logits = np.asarray(logits, "float64")
    e = np.exp(logits - logits.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def keras_image_outputs(model, images):
    logits = keras.ops.convert_to_numpy(model(images.astype("float32"), training=False))
    return softmax(logits), logits.argmax(-1)


def keras_text_outputs(model, vectorizer, texts):
    ids = keras.ops.convert_to_numpy(vectorizer(tf.constant(strings(texts))))
    logits = keras.ops.convert_to_numpy(model(ids.astype("int32"), training=False))
    empty = ~(ids != 0).any(-1)
    probs = np.where(empty[:, None], 0.5, softmax(logits))
    return probs, np.where(empty, 0, logits.argmax(-1))


# --- in-process exports, loaded once --------------------------------------------


@pytest.fixture(scope="module")
def served(tmp_path_factory, image_model, text_parts, generator_model):
    root = tmp_path_factory.mktemp("in_process")
    export_image_classifier(image_model, CLASS_NAMES, str(root / "image"))
    export_text_classifier(*text_parts, REVIEW_CLASSES, str(root / "text"))
    export_text_generator(generator_model, VOCAB, str(root / "gen"), MAX_CHARS, MAX_PROMPT)
    served = {
        kind: tf.saved_model.load(str(root / kind)).signatures["serving_default"]
        for kind in ("image", "text")
    }
    # Called as TF Serving calls it: the generator's optional inputs
    # (top_k, top_p, seed, stop) may be left out.
    served["gen"] = ServedSignature(str(root / "gen"))
    return served


def generate(served, prompts, num_chars, temperature=0.0):
    n = len(prompts)
    out = served["gen"](
        prompt=tf.constant(strings(prompts)),
        num_chars=tf.constant(np.broadcast_to(num_chars, n), tf.int32),
        temperature=tf.constant(np.broadcast_to(temperature, n), tf.float32),
    )
    return [t.decode("utf-8") for t in out["text"].numpy()]


def test_image_export_matches_keras(served, image_model):
    images = image_batch(5)
    out = served["image"](images=tf.constant(images))
    probs, ids = keras_image_outputs(image_model, images)
    np.testing.assert_allclose(out["probabilities"].numpy(), probs, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(out["class_ids"].numpy(), ids)
    assert [s.decode() for s in out["labels"].numpy()] == [CLASS_NAMES[i] for i in ids]
    empty = served["image"](images=tf.zeros([0, 28, 28, 1], tf.uint8))
    assert empty["probabilities"].shape == (0, 3)


def test_text_export_matches_keras_and_defines_empty_text(served, text_parts):
    texts = ["a good movie", "", "   ...", b"\xff\xfe bad \xc3", "great " * 20000, "unknownword"]
    out = served["text"](text=tf.constant(strings(texts)))
    probs, ids = keras_text_outputs(*text_parts, texts)
    np.testing.assert_allclose(out["probabilities"].numpy(), probs, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(out["class_ids"].numpy(), ids)
    labels = [s.decode() for s in out["labels"].numpy()]
    assert labels == [REVIEW_CLASSES[i] for i in ids]
    # No tokens at all: uniform probabilities, class 0.
    np.testing.assert_allclose(out["probabilities"].numpy()[1:3], 0.5)
    assert labels[1:3] == ["neg", "neg"]


def test_generator_greedy_matches_full_model_decode(served, generator_model):
    prompts = ["", "a", "abc hgf", "hgfedcba..hgfedcba", "xyz?"]
    got = generate(served, prompts, 25)
    want = [greedy_generate(generator_model, VOCAB, p, 25, MAX_CHARS, MAX_PROMPT) for p in prompts]
    assert got == want
    assert all(len(t) == 25 for t in got)
    # The check is only meaningful if the text is not one repeated character.
    assert any(len(set(t)) > 2 for t in got)


def test_generator_greedy_is_deterministic_and_batch_independent(served):
    prompts = ["", "ab", "hgfedcba..abc", "c"]
    batched = generate(served, prompts, 30)
    assert batched == generate(served, prompts, 30)
    assert batched == [generate(served, [p], 30)[0] for p in prompts]
    # Mixed lengths in one batch: each row also gets its own num_chars.
    out = served["gen"](
        prompt=tf.constant(strings(prompts)),
        num_chars=tf.constant([3, 30, 0, 7]),
        temperature=tf.constant([0.0, 0.0, 0.0, -1.0]),
    )
    texts = [t.decode() for t in out["text"].numpy()]
    assert texts == [batched[0][:3], batched[1], "", batched[3][:7]]


def test_generator_prompt_edge_cases(served, generator_model):
    # Characters outside the vocabulary all read as the unknown id 0, and
    # an empty prompt reads as a single unknown id.
    assert generate(served, ["xyz"], 20) == generate(served, ["QR!"], 20)
    assert generate(served, [""], 20) == generate(served, ["Z"], 20)
    assert generate(served, [""], 20) == [greedy_generate(generator_model, VOCAB, "", 20)]
    # Invalid UTF-8 becomes U+FFFD (unknown) instead of failing.
    assert generate(served, [b"\xff\xfeab"], 20) == generate(served, ["??ab"], 20)
    assert generate(served, [b"\xc3"], 5) == generate(served, ["?"], 5)
    # Only the last MAX_PROMPT characters count, so a huge prompt is quick.
    long_prompt = "abcdefgh " * 11112
    start = time.perf_counter()
    got = generate(served, [long_prompt], 20)
    assert time.perf_counter() - start < 10
    assert got == generate(served, [long_prompt[-MAX_PROMPT:]], 20)


def test_generator_num_chars_and_temperature_edges(served):
    assert generate(served, ["ab", "ab"], [0, -5]) == ["", ""]
    assert [len(t) for t in generate(served, ["ab", ""], [10**6, 2**31 - 1])] == [MAX_CHARS] * 2
    sampled = generate(served, ["ab"] * 4, 40, [1.0, 5.0, math.inf, 1e-30])
    assert all(len(t) == 40 and set(t) <= set(VOCAB[1:]) for t in sampled)
    # A vanishing temperature samples the argmax.
    assert sampled[3] == generate(served, ["ab"], 40)[0]
    with pytest.raises(tf.errors.InvalidArgumentError, match="NaN"):
        generate(served, ["ab", "c"], 5, [0.5, math.nan])
    with pytest.raises(tf.errors.InvalidArgumentError, match="one value per prompt"):
        served["gen"](
            prompt=tf.constant(["a", "b"]),
            num_chars=tf.constant([1]),
            temperature=tf.constant([0.0, 0.0]),
        )


def test_export_arguments_are_checked(tmp_path, image_model, text_parts, generator_model):
    with pytest.raises(ValueError, match="class_names"):
        export_image_classifier(image_model, ["a", "b"], str(tmp_path / "a"))
    vectorizer = keras.layers.TextVectorization(output_sequence_length=SEQUENCE_LENGTH + 1)
    vectorizer.adapt(["a b c"])
    with pytest.raises(ValueError, match="output_sequence_length"):
        export_text_classifier(text_parts[0], vectorizer, REVIEW_CLASSES, str(tmp_path / "b"))
    wide = keras.layers.TextVectorization(output_sequence_length=SEQUENCE_LENGTH)
    wide.adapt([" ".join(f"w{i}" for i in range(60))])
    with pytest.raises(ValueError, match="62 ids but the model embeds only 40"):
        export_text_classifier(text_parts[0], wide, REVIEW_CLASSES, str(tmp_path / "e"))
    with pytest.raises(ValueError, match="vocabulary"):
        export_text_generator(generator_model, VOCAB[:-1], str(tmp_path / "c"))
    with pytest.raises(ValueError, match="single characters"):
        export_text_generator(generator_model, VOCAB[:-1] + ["ab"], str(tmp_path / "d"))


# --- fuzzing the serving signatures ----------------------------------------------


@settings(max_examples=25, deadline=None)
@given(batch=st.integers(0, 4), seed=st.integers(0, 2**32 - 1))
def test_fuzz_image_inputs(served, image_model, batch, seed):
    images = image_batch(batch, seed)
    out = served["image"](images=tf.constant(images))
    probs, ids = keras_image_outputs(image_model, images)
    np.testing.assert_allclose(
        out["probabilities"].numpy(), probs.reshape(batch, 3), rtol=1e-5, atol=1e-6
    )
    np.testing.assert_array_equal(out["class_ids"].numpy(), ids)


@settings(max_examples=25, deadline=None)
@given(
    shape=st.sampled_from([(2, 28, 28), (1, 27, 28, 1), (2, 28, 28, 3), (784,), ()]),
    dtype=st.sampled_from(["uint8", "float32", "int32"]),
)
def test_fuzz_bad_image_inputs_are_rejected(served, shape, dtype):
    with pytest.raises(BAD_INPUT_ERRORS):
        served["image"](images=tf.zeros(shape, dtype))


text_values = st.one_of(
    st.text(max_size=40),
    st.binary(max_size=40),
    st.lists(st.sampled_from(["good", "bad", "zzz", "!", " "]), max_size=3000).map(" ".join),
)


@settings(max_examples=25, deadline=None)
@given(texts=st.lists(text_values, max_size=4))
def test_fuzz_text_inputs(served, text_parts, texts):
    out = served["text"](text=tf.constant(strings(texts), tf.string))
    probs, ids = keras_text_outputs(*text_parts, texts)
    np.testing.assert_allclose(
        out["probabilities"].numpy(), probs.reshape(-1, 2), rtol=1e-5, atol=1e-6
    )
    np.testing.assert_array_equal(out["class_ids"].numpy(), ids)


@settings(max_examples=25, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.one_of(st.text(max_size=60), st.binary(max_size=60)),
            st.one_of(st.integers(-10, 60), st.sampled_from([-(2**31), 2**31 - 1])),
            st.one_of(st.floats(width=32), st.sampled_from([0.0, -1.0, 1e-30])),
        ),
        max_size=3,
    )
)
def test_fuzz_generator_inputs(served, rows):
    prompts = [r[0] for r in rows]
    num_chars = np.array([r[1] for r in rows], "int32")
    temperature = np.array([r[2] for r in rows], "float32")
    call = lambda: served["gen"](
        prompt=tf.constant(strings(prompts), tf.string),
        num_chars=tf.constant(num_chars, tf.int32),
        temperature=tf.constant(temperature, tf.float32),
    )
    if np.isnan(temperature).any():
        with pytest.raises(tf.errors.InvalidArgumentError, match="NaN"):
            call()
        return
    texts = [t.decode("utf-8") for t in call()["text"].numpy()]
    assert [len(t) for t in texts] == [int(np.clip(n, 0, MAX_CHARS)) for n in num_chars]
    assert all(set(t) <= set(VOCAB[1:]) for t in texts)


# --- publishing --------------------------------------------------------------------


def snapshot(path):
    """Hashes of every file under `path`, to prove nothing changed."""
    files = {}
    for root, _, names in os.walk(path):
        for name in names:
            full = os.path.join(root, name)
            with open(full, "rb") as f:
                files[os.path.relpath(full, path)] = hashlib.sha256(f.read()).hexdigest()
    return files


def fake_version(model_dir, version):
    os.makedirs(os.path.join(model_dir, str(version), "variables"))
    with open(os.path.join(model_dir, str(version), "saved_model.pb"), "wb") as f:
        f.write(b"old version")


def leftovers(model_dir):
    return sorted(n for n in os.listdir(model_dir) if n.startswith(".tmp-"))


def write_tiny_saved_model(path):
    module = tf.Module()
    module.f = tf.function(
        lambda x: {"y": x * 2}, input_signature=[tf.TensorSpec([None], tf.float32, name="x")]
    )
    tf.saved_model.save(module, path, signatures={"serving_default": module.f})


def test_version_numbers(tmp_path):
    for name in ["1", "3", "10", ".tmp-11-ab", "abc", "4x"]:
        os.mkdir(tmp_path / name)
    assert existing_versions(str(tmp_path)) == {1, 3, 10}
    assert next_version(existing_versions(str(tmp_path))) == 11
    assert next_version(set()) == 1
    assert existing_versions(str(tmp_path / "missing")) == set()


def test_publish_rejects_bad_arguments(tmp_path):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(UsageError, match="--export_dir"):
        publish(write_tiny_saved_model, str(a_file), "m")
    for version in (0, -1, "2", 1.0, True):
        with pytest.raises(UsageError, match="--version"):
            publish(write_tiny_saved_model, str(tmp_path), "m", version=version)
    for name in ("", ".hidden", "a/b"):
        with pytest.raises(UsageError, match="name"):
            publish(write_tiny_saved_model, str(tmp_path), name)
    fake_version(str(tmp_path / "m"), 1)
    with pytest.raises(UsageError, match="--version 1 already exists.*next free one is 2"):
        check_target(str(tmp_path), "m", 1)
    assert check_target(str(tmp_path), "m", 2) == str(tmp_path / "m")


def test_publish_reports_unwritable_dirs(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(publish_module.os, "makedirs", refuse)
    with pytest.raises(ModelzooError, match=re.escape(str(tmp_path / "m"))) as info:
        publish(write_tiny_saved_model, str(tmp_path), "m")
    assert "\n" not in str(info.value)


def test_publish_write_failure_leaves_nothing(tmp_path):
    model_dir = str(tmp_path / "m")
    fake_version(model_dir, 1)
    before = snapshot(model_dir)

    def disk_full(path):
        raise OSError(28, "No space left on device", path)

    with pytest.raises(ModelzooError, match="No space left") as info:
        publish(disk_full, str(tmp_path), "m")
    assert "at the write step" in str(info.value) and model_dir in str(info.value)
    assert "\n" not in str(info.value)
    assert snapshot(model_dir) == before and leftovers(model_dir) == []
    assert existing_versions(model_dir) == {1}


def test_publish_rename_failure_leaves_nothing(tmp_path, monkeypatch):
    model_dir = str(tmp_path / "m")
    fake_version(model_dir, 1)
    before = snapshot(model_dir)
    monkeypatch.setattr(publish_module, "verify_step", lambda *args: None)

    def broken_rename(source, target):
        raise OSError(5, "Input/output error", target)

    monkeypatch.setattr(publish_module, "rename_no_replace", broken_rename)
    with pytest.raises(ModelzooError, match="at the rename step"):
        publish(write_tiny_saved_model, str(tmp_path), "m")
    assert snapshot(model_dir) == before and leftovers(model_dir) == []


def test_publish_never_replaces_a_version_that_appears_meanwhile(tmp_path, monkeypatch):
    model_dir = str(tmp_path / "m")

    def rival_publishes(temp_dir, spec, timeout):
        if not os.path.exists(os.path.join(model_dir, "2")):
            fake_version(model_dir, 2)

    monkeypatch.setattr(publish_module, "verify_step", rival_publishes)
    with pytest.raises(UsageError, match="--version 2 already exists"):
        publish(write_tiny_saved_model, str(tmp_path), "m", version=2)
    rival = snapshot(os.path.join(model_dir, "2"))
    assert leftovers(model_dir) == []
    # Without an explicit version the next free one is taken instead.
    os.rename(os.path.join(model_dir, "2"), os.path.join(model_dir, "3"))
    path = publish(write_tiny_saved_model, str(tmp_path), "m")
    assert path == os.path.join(model_dir, "4")
    assert snapshot(os.path.join(model_dir, "3")) == rival
    assert os.path.isfile(os.path.join(path, "saved_model.pb"))


def test_rename_no_replace_refuses_empty_targets(tmp_path):
    # os.rename alone would silently replace an empty directory.
    (tmp_path / "source").mkdir()
    (tmp_path / "target").mkdir()
    with pytest.raises(FileExistsError):
        publish_module.rename_no_replace(str(tmp_path / "source"), str(tmp_path / "target"))
    assert (tmp_path / "source").is_dir()


def test_verify_module_imports_only_tensorflow_tf_text_and_serving_protos():
    tree = ast.parse(open(publish_module.VERIFY_SCRIPT, encoding="utf-8").read())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or ".").split(".")[0])
    # tensorflow_text for its ops only, which TF Serving links as well.
    assert imported <= {"base64", "ctypes", "json", "os", "signal", "sys", "numpy", "tensorflow",
                        "tensorflow_text", "tensorflow_serving"}


# --- slow: real publishing, fresh-process checks ---------------------------------------


@pytest.fixture(scope="module")
def published(tmp_path_factory, image_model, text_parts, generator_model):
    root = str(tmp_path_factory.mktemp("exports"))
    return {
        "root": root,
        "image": publish_image_classifier(
            image_model, CLASS_NAMES, root, "image", example=image_batch(3)
        ),
        "text": publish_text_classifier(*text_parts, REVIEW_CLASSES, root, "text"),
        "gen": publish_text_generator(
            generator_model, VOCAB, root, "gen", max_chars=MAX_CHARS, max_prompt_chars=MAX_PROMPT
        ),
    }


@pytest.mark.slow
def test_published_exports_serve_in_a_tensorflow_only_process(
    published, image_model, text_parts, generator_model
):
    images = image_batch(4, seed=7)
    texts = ["a good movie", "", b"\xff bad", "fun " * 25000]
    prompts = ["", "abc", "hgfedcba..abc", "xyz"]
    image_out, text_out, gen_out = serve_many([
        (published["image"], {"images": images}),
        (published["text"], {"text": texts}),
        (published["gen"], {"prompt": prompts, "num_chars": [15, 20, 5, 0],
                            "temperature": [0.0] * 4}),
    ])
    probs, ids = keras_image_outputs(image_model, images)
    np.testing.assert_allclose(image_out["probabilities"], probs, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(image_out["class_ids"], ids)
    assert served_texts(image_out["labels"]) == [CLASS_NAMES[i] for i in ids]

    probs, ids = keras_text_outputs(*text_parts, texts)
    np.testing.assert_allclose(text_out["probabilities"], probs, rtol=1e-5, atol=1e-6)
    assert served_texts(text_out["labels"]) == [REVIEW_CLASSES[i] for i in ids]

    want = [
        greedy_generate(generator_model, VOCAB, p, n, MAX_CHARS, MAX_PROMPT)
        for p, n in zip(prompts, [15, 20, 5, 0])
    ]
    assert served_texts(gen_out["text"]) == want


CLI_CONTRACT = {
    "image": [
        "inputs['images']", "DT_UINT8", "(-1, 28, 28, 1)",
        "outputs['probabilities']", "DT_FLOAT", "(-1, 3)",
        "outputs['class_ids']", "DT_INT64", "outputs['labels']", "DT_STRING",
    ],
    "text": [
        "inputs['text']", "DT_STRING",
        "outputs['probabilities']", "(-1, 2)", "outputs['class_ids']", "outputs['labels']",
    ],
    "gen": [
        "inputs['prompt']", "inputs['num_chars']", "DT_INT32", "inputs['temperature']",
        "DT_FLOAT", "outputs['text']", "DT_STRING", "inputs['top_p']", "inputs['seed']",
        "inputs['stop']", "shape: (-1, -1)",
    ],
}


@pytest.mark.slow
def test_published_exports_ship_warmup_requests_and_a_model_card(published):
    check_serving_assets(published["image"], "image", {"images": image_batch(3)})
    # The text and generator examples are the publish functions' defaults.
    check_serving_assets(published["text"], "text")
    batch = check_serving_assets(published["gen"], "gen")["warmup"]
    assert set(batch["num_chars"]) == {20} and len(batch["prompt"]) == 3


@pytest.mark.slow
def test_saved_model_cli_shows_the_contract(published):
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    runs = {
        kind: subprocess.Popen(
            [cli, "show", "--dir", published[kind], "--tag_set", "serve",
             "--signature_def", "serving_default"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
        )
        for kind in CLI_CONTRACT
    }
    for kind, run in runs.items():
        shown = run.communicate(timeout=300)[0]
        assert run.returncode == 0, shown
        for needle in CLI_CONTRACT[kind]:
            assert needle in shown, f"{kind}: {needle} not in\n{shown}"
        assert "tensorflow/serving/predict" in shown
        # The generator: 3 required inputs, then the optional top_k, top_p,
        # seed and stop.
        count = {"image": (1, 3), "text": (1, 3), "gen": (7, 1)}[kind]
        assert (shown.count("inputs['"), shown.count("outputs['")) == count


@pytest.mark.slow
def test_versions_increment_and_are_never_overwritten(published, image_model):
    root = published["root"]
    model_dir = os.path.join(root, "image")
    assert published["image"] == os.path.join(model_dir, "1")
    before = snapshot(published["image"])
    path = publish_image_classifier(image_model, CLASS_NAMES, root, "image")
    assert path == os.path.join(model_dir, "2")
    with pytest.raises(UsageError) as info:
        publish_image_classifier(image_model, CLASS_NAMES, root, "image", version=1)
    message = str(info.value)
    assert "--version 1" in message and published["image"] in message and "3" in message
    assert "\n" not in message
    assert snapshot(published["image"]) == before
    assert existing_versions(model_dir) == {1, 2} and leftovers(model_dir) == []


@pytest.mark.slow
@pytest.mark.parametrize("failure", ["corrupt_export", "wrong_expected"])
def test_verify_failure_leaves_nothing(tmp_path, image_model, failure):
    model_dir = str(tmp_path / "m")
    fake_version(model_dir, 1)
    before = snapshot(model_dir)
    images = image_batch(2)
    probs, ids = keras_image_outputs(image_model, images)
    expected = {"probabilities": probs.astype("float32"), "class_ids": ids}

    def write(path):
        export_image_classifier(image_model, CLASS_NAMES, path)
        if failure == "corrupt_export":
            with open(os.path.join(path, "saved_model.pb"), "r+b") as f:
                f.truncate(100)

    if failure == "wrong_expected":
        expected["class_ids"] = (ids + 1) % 3
    # A corrupt saved_model.pb already fails when the model card reads its signatures.
    caught = "failed at the write step: ValueError: .*saved_model.pb is not a SavedModel" if (
        failure == "corrupt_export") else "failed verification"
    with pytest.raises(ModelzooError, match=caught) as info:
        publish(write, str(tmp_path), "m", example={"images": images}, expected=expected)
    assert "\n" not in str(info.value)
    if failure == "wrong_expected":
        assert "class_ids" in str(info.value)
    assert snapshot(model_dir) == before and leftovers(model_dir) == []
    assert existing_versions(model_dir) == {1}


# --- the LSTM generator's sampling options ------------------------------------------


def test_lstm_generator_takes_top_k_seed_and_stop(served, generator_model):
    prompts = ["ab", "hgf"]
    greedy = generate(served, prompts, 30)
    n = len(prompts)

    def call(**extra):
        out = served["gen"](prompt=tf.constant(prompts), num_chars=tf.fill([n], 30),
                            temperature=tf.fill([n], 5.0), **extra)
        return [t.decode("utf-8") for t in out["text"].numpy()]

    # top_k = 1 leaves only the argmax, whatever the temperature.
    assert call(top_k=tf.fill([n], 1)) == greedy
    seeded = call(seed=tf.constant([3, 4]))
    assert seeded == call(seed=tf.constant([3, 4])) and seeded != greedy
    assert call(seed=tf.constant([3, 4]), stop=tf.constant([[seeded[0][5]], [seeded[1][2]]])) == [
        seeded[0][: seeded[0].index(seeded[0][5])], seeded[1][: seeded[1].index(seeded[1][2])]
    ]


def test_lstm_generate_in_python_is_the_export(served, generator_model):
    model = build_lstm_generator(len(VOCAB), embed_dim=8, lstm_units=(16, 16), vocabulary=VOCAB)
    model.set_weights(generator_model.get_weights())
    assert model.generate(["ab", ""], 30, strip_prompt=True) == generate(served, ["ab", ""], 30)
    got = model.generate("ab", 30, sampler="top_k", top_k=4, temperature=2.0, seed=7)
    out = served["gen"](prompt=tf.constant(["ab"]), num_chars=tf.constant([30]),
                        temperature=tf.constant([2.0]), top_k=tf.constant([4]),
                        seed=tf.constant([7]))
    assert got == "ab" + out["text"].numpy()[0].decode("utf-8")
