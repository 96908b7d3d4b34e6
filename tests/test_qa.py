"""Extractive QA: builder, WordPiece windows, export, pre-trained init, recipe end to end."""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

import modelzoo
from modelzoo.errors import UsageError
from modelzoo.export.model_card import read_card
from modelzoo.export.qa import export_qa, publish_qa
from modelzoo.models import bert
from modelzoo.tasks import question_answering as qa
from modelzoo.testing import run_model_test
from modelzoo.text.qa_processor import QaProcessor
from modelzoo.text.wordpiece import CLS, SEP
from modelzoo.training import compile_model
from tests.qa_helpers import CONTEXTS, LENGTH, LONG, QUESTIONS, VOCAB, WORDS, processor, tiny_qa
from tests.recipe_helpers import run_recipe
from tests.serving_helpers import check_serving_assets, saved_model_cli_show, serve
from tests.serving_helpers import texts as served_texts

SCE = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
# --- builder -------------------------------------------------------------------


@pytest.mark.parametrize("reader_layers", [0, 2])
def test_qa_builder_harness(reader_layers):
    keras.utils.set_random_seed(0)
    model = modelzoo.build_qa(40, 12, embed_dim=8, num_heads=2, ff_dim=16,
                              reader_layers=reader_layers)
    readers = [layer for layer in model.layers if isinstance(layer, keras.layers.Bidirectional)]
    assert len(readers) == reader_layers
    x = np.array([[CLS, 9, SEP, 7, 8, 11, SEP] + [0] * 5,
                  [CLS, 5, 5, SEP] + list(range(10, 17)) + [SEP]], "int32")
    assert model(x).shape == (2, 2, 12)
    run_model_test(model, x, np.array([4, 5], "int32"), SCE)


@pytest.mark.parametrize("reader_layers", [0, 1])
def test_padding_is_masked_and_does_not_leak(reader_layers):
    model = tiny_qa(reader_layers)
    x = np.array([[CLS, 5, SEP, 7, 8, 9, SEP] + [0] * (LENGTH - 7)], "int32")
    before = np.asarray(model(x))
    np.testing.assert_array_equal(before[0, :, 7:], -1e9)
    assert np.all(before[0, :, :7] > -1e3)
    table = bert.backbone_of(model).embedding.token_embedding.embeddings
    table.assign(np.concatenate([np.full((1, 16), 7.0), table.numpy()[1:]]))
    np.testing.assert_allclose(np.asarray(model(x))[0, :, :7], before[0, :, :7], atol=1e-5)


@pytest.mark.parametrize(
    "kwargs, arg",
    [
        (dict(vocab_size=0, sequence_length=8), "vocab_size"),
        (dict(vocab_size=9, sequence_length=-8), "sequence_length"),
        (dict(vocab_size=9, sequence_length=8, embed_dim=10, num_heads=4), "embed_dim"),
        (dict(vocab_size=9, sequence_length=8, num_layers=0), "num_layers"),
        (dict(vocab_size=9, sequence_length=8, dropout=-0.5), "dropout"),
        (dict(vocab_size=9, sequence_length=8, separator_id=9), "separator_id"),
        (dict(vocab_size=9, sequence_length=8, reader_layers=-1), "reader_layers"),
        (dict(vocab_size=9, sequence_length=8, reader_layers=1.0), "reader_layers"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, arg):
    with pytest.raises(ValueError, match=f"`{arg}`"):
        modelzoo.build_qa(**kwargs)


# --- windows, labels ------------------------------------------------------------------


def test_windows_cover_the_context_with_a_stride():
    p = processor(max_windows=100)
    encoded = p.encode(tf.constant(["who won", "what"]), tf.constant([LONG, "it is"]))
    ids = encoded["token_ids"].numpy()
    example = encoded["example"].numpy()
    context_ids = p.tokenizer.tokenize(tf.constant([LONG])).numpy()[0]
    room = LENGTH - 3 - 2
    windows = ids[example == 0]
    assert len(windows) == 1 + -(-(len(context_ids) - room) // 6)
    for j, window in enumerate(windows):
        assert window[:4].tolist() == [CLS, 5, 6, SEP]
        part = context_ids[6 * j : 6 * j + room]
        assert window[4 : 4 + len(part)].tolist() == part.tolist()
        assert window[4 + len(part)] == SEP and not window[5 + len(part):].any()
    assert ids[example == 1].tolist() == [[CLS, 14, SEP, 16, 15, SEP] + [0] * (LENGTH - 6)]


def test_max_windows_bounds_the_work():
    p = processor(max_windows=3)
    encoded = p.encode(tf.constant(["who won"]), tf.constant(["word " * 100000]))
    assert encoded["token_ids"].shape[0] == 3
    assert encoded["offset"].numpy().tolist() == [4] * 3


def test_labels_point_at_the_answer_or_cls():
    p = processor()
    context = "The Denver Broncos won Super Bowl 50 in 2016."
    start = context.encode().index(b"Denver")
    encoded = p.encode(tf.constant(["who won?", "who?", "x"]), tf.constant([context, context, LONG]))
    labels = p.labels(
        encoded, tf.constant([start, -1, 0]), tf.constant([start + len("Denver Broncos"), -1, 3])
    ).numpy()
    example = encoded["example"].numpy()
    # Question "who won ?" is 3 tokens: the context starts at position 5.
    assert labels[example == 0].tolist() == [[6, 7]]
    assert labels[example == 1].tolist() == [[0, 0]]
    # "the" (token 0 of LONG) is only inside the first window.
    assert labels[example == 2][0].tolist() == [3, 3]
    assert not labels[example == 2][1:].any()


def test_locate_answer_and_keep_located():
    context = "Café au lait, café noir."
    assert qa.locate_answer(context, ["café"], [14]) == (15, 20)
    # A wrong offset falls back to the first occurrence; empty answers are skipped.
    assert qa.locate_answer(context, ["", "noir"], [0, 3]) == (21, 25)
    assert qa.locate_answer(context, ["tea"], [0]) is None
    examples = {"question": np.array([b"q1", b"q2"], object),
                "context": np.array([b"c", b"c"], object),
                "answer_start": np.array([-1, 3]), "answer_end": np.array([-1, 5]),
                "answers": [["x"], ["y"]]}
    kept, dropped = qa.keep_located(examples)
    assert dropped == 1 and kept["question"].tolist() == [b"q2"] and kept["answers"] == [["y"]]
    none = dict(examples, answer_start=np.array([-1, -1]))
    kept, dropped = qa.keep_located(none)
    assert dropped == 0 and len(kept["question"]) == 2


def test_squad_scores():
    scores = qa.squad_scores(["The Denver Broncos", "Broncos", ""],
                             [["Denver Broncos"], ["Denver Broncos", "the Broncos"], ["x"]])
    assert scores["exact_match"] == pytest.approx(2 / 3)
    assert scores["f1"] == pytest.approx(2 / 3)


def test_processor_arguments_are_checked():
    with pytest.raises(ValueError, match="doc_stride"):
        QaProcessor(VOCAB, LENGTH, max_question_tokens=6, doc_stride=16)
    with pytest.raises(ValueError, match="max_windows"):
        QaProcessor(VOCAB, LENGTH, 6, 6, max_windows=0)
    with pytest.raises(ValueError, match="vocabulary"):
        QaProcessor(WORDS, LENGTH, 6, 6)


# --- the export, in process ------------------------------------------------------


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    model, p = tiny_qa(), processor()
    path = str(tmp_path_factory.mktemp("qa") / "export")
    export_qa(model, p, path)
    return model, p, tf.saved_model.load(path).signatures["serving_default"]


def test_reloaded_export_answers_as_the_model_in_process(served):
    model, p, fn = served
    out = fn(question=tf.constant(QUESTIONS), context=tf.constant(CONTEXTS))
    want = p.predict(model, QUESTIONS, CONTEXTS)
    assert out["answer"].numpy().tolist() == want["answer"].tolist()
    np.testing.assert_allclose(out["score"].numpy(), want["score"], rtol=1e-4, atol=1e-7)
    answers = [a.decode() for a in out["answer"].numpy()]
    assert all(a in c for a, c in zip(answers, CONTEXTS))
    # A context of spaces has no piece, so no span.
    assert answers[3] == "" and out["score"].numpy()[3] == 0.0
    assert all(0 < s <= 1 for i, s in enumerate(out["score"].numpy()) if i != 3)
    # Answers are cut from the context at the pieces' byte offsets.
    _, starts, ends = p.tokenizer.tokenize_with_offsets(tf.constant(CONTEXTS))
    for i, answer in enumerate(answers[:3]):
        raw = CONTEXTS[i].encode()
        cuts = {raw[a:b] for a in starts[i].numpy() for b in ends[i].numpy() if b > a}
        assert answer.encode() in cuts
    # The long context spans several windows.
    assert p.encode(tf.constant(["x"]), tf.constant([LONG]))["token_ids"].shape[0] > 3


def test_export_is_batch_independent(served):
    _, _, fn = served
    batched = fn(question=tf.constant(QUESTIONS), context=tf.constant(CONTEXTS))
    for i in (0, 1, 5):
        single = fn(question=tf.constant(QUESTIONS[i:i + 1]), context=tf.constant(CONTEXTS[i:i + 1]))
        assert single["answer"].numpy()[0] == batched["answer"].numpy()[i]
    empty = fn(question=tf.zeros([0], tf.string), context=tf.zeros([0], tf.string))
    assert empty["answer"].shape == (0,) and empty["score"].shape == (0,)


@pytest.mark.parametrize("question, context, message", [
    (["who?", ""], ["Bob won.", "Bob won."], "every question must be non-empty"),
    (["who?"], [""], "every context must be non-empty"),
    (["who?"], [b"Bob \xff won."], "every context must be valid UTF-8"),
    ([b"\xc3who?"], ["Bob won."], "every question must be valid UTF-8"),
    (["who?"], ["word " * 210_000], "a context may have at most 65536 bytes"),
    (["who?" * 2000], ["Bob won."], "a question may have at most 4096 bytes"),
    (["who?", "what?"], ["Bob won."], "send one context per question"),
])
def test_bad_requests_are_refused_by_name_and_the_export_still_answers(
    served, question, context, message
):
    _, _, fn = served
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        fn(question=tf.constant(question), context=tf.constant(context))
    out = fn(question=tf.constant(["who won?"]), context=tf.constant(["Denver won."]))
    assert out["answer"].numpy()[0].decode() in "Denver won."


def test_export_arguments_are_checked(tmp_path):
    model = tiny_qa()
    with pytest.raises(ValueError, match="sequence_length"):
        export_qa(model, QaProcessor(VOCAB, LENGTH + 1, 6, 6), str(tmp_path / "a"))
    with pytest.raises(ValueError, match="vocabulary"):
        export_qa(model, QaProcessor(VOCAB + ["extra"], LENGTH, 6, 6), str(tmp_path / "b"))


# --- slow: learning, publishing, a TensorFlow-only process, the recipe ------------------


@pytest.mark.slow
def test_a_tiny_model_learns_to_find_spans_across_windows():
    # "the code is <key> ." hidden among filler words: the span labels, the
    # windows and the decoding must agree for the model to learn it.
    rng = np.random.default_rng(0)
    filler, keys = [f"w{i}" for i in range(30)], ["alpha", "bravo", "charlie", "delta", "echo"]

    def make(n):
        columns = {"question": [], "context": [], "answer_start": [], "answer_end": [],
                   "answers": []}
        for _ in range(n):
            words = list(rng.choice(filler, rng.integers(5, 40)))
            key = str(rng.choice(keys))
            at = int(rng.integers(0, len(words) + 1))
            words[at:at] = ["the", "code", "is", key, "."]
            context = " ".join(words)
            span = qa.locate_answer(context, [key], [context.find(" is " + key) + 4])
            for name, value in zip(columns, ("What is the code?", context, *span, [key])):
                columns[name].append(value.encode() if isinstance(value, str) else value)
        out = {k: np.array(v, object if k in ("question", "context") else "int64")
               for k, v in columns.items() if k != "answers"}
        out["answers"] = columns["answers"]
        return out

    train, test = make(300), make(40)
    p = QaProcessor(qa.learn_vocabulary(train, 200), 32, 8, 8, 5)
    keras.utils.set_random_seed(0)
    model = modelzoo.build_qa(len(p.vocabulary), 32, embed_dim=32, num_heads=2, ff_dim=64,
                              num_layers=2, dropout=0.0)
    compile_model(model, 3e-3)
    model.fit(qa.windows_dataset(p, train, 32, True, 0), epochs=8, verbose=0)
    predictions = [a.decode() for a in p.predict(model, test["question"], test["context"])["answer"]]
    assert qa.squad_scores(predictions, test["answers"])["exact_match"] >= 0.9


def serve_qa(path, questions, contexts):
    # A fresh TensorFlow-only process with TF Text's ops, which TF Serving links.
    out = serve(path, {"question": questions, "context": contexts}, tf_text=True)
    return {"answer": served_texts(out["answer"]), "score": out["score"]}


@pytest.mark.slow
def test_published_qa_serves_in_a_tensorflow_only_process(tmp_path):
    model, p = tiny_qa(), processor()
    path = publish_qa(model, p, str(tmp_path), "qa")
    assert path == str(tmp_path / "qa" / "1")
    assert sorted(check_serving_assets(path, "qa")["warmup"]) == ["context", "question"]
    out = serve_qa(path, QUESTIONS, CONTEXTS)
    want = p.predict(model, QUESTIONS, CONTEXTS)
    assert out["answer"] == [a.decode() for a in want["answer"]]
    np.testing.assert_allclose(out["score"], want["score"], rtol=1e-4, atol=1e-7)
    shown = saved_model_cli_show(path)
    for needle in ["inputs['question']", "inputs['context']", "outputs['answer']",
                   "outputs['score']", "DT_STRING", "DT_FLOAT", "(-1)"]:
        assert needle in shown, shown


@pytest.mark.slow
def test_qa_recipe_trains_exports_and_serves(tmp_path):
    summary = run_recipe("squad_qa", f"--export_dir={tmp_path}")
    assert summary["export_path"] == str(tmp_path / "squad_qa" / "1")
    assert {"loss", "accuracy", "exact_match", "f1"} <= set(summary["metrics"])
    # The recipe's reader: DrQA's exact-match feature and one recurrent layer.
    config = read_card(summary["export_path"])["model"]["builder_config"]
    assert config["reader_layers"] == 1 and config["token_match"] is True
    questions, contexts = ["what is it?", "who?"], ["it is a bcd efg", "  "]
    out = serve_qa(summary["export_path"], questions, contexts)
    assert out["answer"][0] in "it is a bcd efg" and out["answer"][1] == ""
    assert 0 <= out["score"][0] <= 1 and out["score"][1] == 0
    # The preset beside it answers in Python as the export does.
    preset = modelzoo.from_preset(summary["preset_path"])
    assert preset.preprocessor.kind == "question_answering"
    answered = preset.answer(questions, contexts)
    assert [a.decode("utf-8") for a in answered["answer"]] == out["answer"]
    np.testing.assert_allclose(answered["score"], out["score"], atol=1e-5)
    assert preset.preprocessor(([questions[0]], [contexts[0]])).shape == (1, preset.input_shape[1])


@pytest.mark.slow
def test_qa_recipe_bad_window_flags_are_usage_errors(tmp_path):
    # UsageError: one line on stderr and exit code 2 from the command.
    with pytest.raises(UsageError, match="`doc_stride` must be at most"):
        run_recipe("squad_qa", f"--export_dir={tmp_path}", "--doc_stride=64")
    with pytest.raises(UsageError, match="--vocab_size=5 must be an integer >= 6"):
        run_recipe("squad_qa", f"--export_dir={tmp_path}", "--vocab_size=5")
    with pytest.raises(UsageError, match="--reader_layers=-1 must be an integer >= 0"):
        run_recipe("squad_qa", f"--export_dir={tmp_path}", "--reader_layers=-1")


def test_a_checkpoint_loads_into_the_qa_model_and_is_never_overwritten(tmp_path):
    keras.utils.set_random_seed(0)
    backbone = bert.build_bert_backbone(len(VOCAB), LENGTH, embed_dim=16, num_heads=2, ff_dim=16,
                                        num_layers=1)
    path = bert.save_checkpoint(backbone, VOCAB, str(tmp_path / "ckpt"))
    config, vocabulary = bert.read_checkpoint(path)
    assert vocabulary == VOCAB and config["embed_dim"] == 16 and config["num_layers"] == 1
    model = tiny_qa()
    bert.load_checkpoint(model, path)
    for got, want in zip(bert.backbone_of(model).get_weights(), backbone.get_weights()):
        np.testing.assert_array_equal(got, want)
    with pytest.raises(FileExistsError):
        bert.save_checkpoint(backbone, VOCAB, path)
    os.remove(os.path.join(path, "vocab.txt"))
    with pytest.raises(ValueError, match="vocab.txt is missing"):
        bert.read_checkpoint(path)


@pytest.mark.slow
def test_pretrain_then_fine_tune_from_the_preset_or_the_checkpoint(tmp_path):
    sizes = ["--sequence_length=32", "--embed_dim=8", "--num_heads=2", "--ff_dim=16",
             "--num_layers=1"]
    presets_dir = f"--preset_dir={tmp_path / 'presets'}"
    pretrained = run_recipe("bert_pretrain", f"--output_dir={tmp_path / 'ckpt'}", "--seed=0",
                            presets_dir, *sizes)
    assert pretrained["checkpoint"] == str(tmp_path / "ckpt")
    preset = pretrained["preset_path"]
    # A whole fine-tuning run from the preset is test_real_data.py's, on real text.
    # The preset's own sizes decide, not squad_qa's defaults.
    with pytest.raises(UsageError, match="--num_layers=2 differs from the --init_preset "
                       "encoder's 1"):
        run_recipe("squad_qa", f"--export_dir={tmp_path}", f"--init_preset={preset}",
                   "--num_layers=2")
    os.remove(os.path.join(preset, "assets", "vocab.txt"))
    with pytest.raises(UsageError, match="assets/vocab.txt is missing"):
        run_recipe("squad_qa", f"--export_dir={tmp_path}", f"--init_preset={preset}")
    with pytest.raises(UsageError, match="--init_preset and --init_checkpoint are both set"):
        run_recipe("squad_qa", f"--export_dir={tmp_path}", f"--init_preset={preset}",
                   f"--init_checkpoint={tmp_path / 'ckpt'}")
    # The older checkpoint folder still loads.
    summary = run_recipe("squad_qa", f"--export_dir={tmp_path}",
                         f"--init_checkpoint={tmp_path / 'ckpt'}")
    # The fine-tuned model reads the checkpoint's vocabulary, not a new one.
    assert summary["vocab_size"] == pretrained["vocab_size"]
    assert summary["init_checkpoint"] == str(tmp_path / "ckpt")
    assert summary["export_metrics"] == pytest.approx(
        {k: summary["metrics"][k] for k in ("exact_match", "f1")}, abs=0.002)
    with pytest.raises(UsageError, match="--num_layers=2 differs from the --init_checkpoint "
                       "encoder's 1"):
        run_recipe("squad_qa", f"--export_dir={tmp_path}",
                   f"--init_checkpoint={tmp_path / 'ckpt'}", "--num_layers=2")
    with pytest.raises(UsageError, match="--sequence_length=64 differs"):
        run_recipe("squad_qa", f"--export_dir={tmp_path}",
                   f"--init_checkpoint={tmp_path / 'ckpt'}", "--sequence_length=64")
    with pytest.raises(UsageError, match="is not a pre-training checkpoint"):
        run_recipe("squad_qa", f"--export_dir={tmp_path}", f"--init_checkpoint={tmp_path}")


CORE_OPS = """
from tensorflow.core.framework import op_def_pb2
from tensorflow.python.client import pywrap_tf_session as session
ops = op_def_pb2.OpList()
ops.ParseFromString(session.TF_GetBuffer(session.TF_GetAllOpList()))
print(" ".join(op.name for op in ops.op))
"""


def test_the_export_needs_only_tf_text_ops_that_tf_text_2_12_has(served, tmp_path):
    from tensorflow.core.protobuf import saved_model_pb2

    model, p, _ = served
    path = export_qa(model, p, str(tmp_path / "export"))
    saved = saved_model_pb2.SavedModel()
    with open(os.path.join(path, "saved_model.pb"), "rb") as f:
        saved.ParseFromString(f.read())
    graph = saved.meta_graphs[0].graph_def
    used = {node.op for node in graph.node}
    used |= {node.op for function in graph.library.function for node in function.node_def}
    core = subprocess.run([sys.executable, "-c", CORE_OPS], capture_output=True, text=True,
                          timeout=300, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    assert core.returncode == 0, core.stderr[-2000:]
    not_core = used - set(core.stdout.split())
    with open(os.path.join(os.path.dirname(__file__), "data", "tf_text_2.12.1_ops.txt")) as f:
        tf_text_2_12 = {line.strip() for line in f if line.strip() and not line.startswith("#")}
    assert "FastWordpieceTokenizeWithOffsets" in tf_text_2_12
    # The README lists these two as the export's TF Text ops.
    assert not_core == {"FastBertNormalize", "FastWordpieceTokenizeWithOffsets"}
    assert not_core <= tf_text_2_12
