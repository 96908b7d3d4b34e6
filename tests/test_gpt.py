"""The GPT: builder, cached in-graph generator, export, recipe end to end."""

import math
import re

import keras
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

import modelzoo
from modelzoo.errors import UsageError
from modelzoo.export import (
    export_gpt_generator,
    greedy_generate_gpt,
    is_gpt,
    publish_gpt_generator,
    verify,
    warmup,
)
from modelzoo.export.gpt_generator import window_starts
from modelzoo.export.verify import ServedSignature
from modelzoo.testing import run_model_test
from tests.gpt_helpers import MAX_CHARS, MAX_PROMPT, VOCAB, WINDOW, tiny_gpt
from tests.recipe_helpers import run_recipe
from tests.serving_helpers import check_serving_assets, saved_model_cli_show, serve
from tests.serving_helpers import texts as served_texts

SCE = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
def strings(values):
    array = np.empty(len(values), dtype=object)
    array[:] = [v.encode("utf-8") if isinstance(v, str) else bytes(v) for v in values]
    return array


# --- builder -------------------------------------------------------------------


@pytest.mark.parametrize("tie", [False, True])
def test_gpt_builder_harness(tie):
    keras.utils.set_random_seed(0)
    model = modelzoo.build_gpt(30, 12, embed_dim=8, num_heads=2, ff_dim=16, num_layers=2,
                               tie_embeddings=tie)
    x = np.random.default_rng(0).integers(0, 30, (3, 12)).astype("int32")
    assert model(x).shape == (3, 12, 30)
    assert model(x[:, :5]).shape == (3, 5, 30)
    assert is_gpt(model)
    run_model_test(model, x, np.arange(12, dtype="int32") % 30, SCE)


def test_tied_embeddings_drop_the_output_matrix():
    untied, tied = tiny_gpt(False), tiny_gpt(True)
    assert untied.count_params() - tied.count_params() == 16 * len(VOCAB) + len(VOCAB)
    assert tied.get_layer("logits").dtype_policy.compute_dtype == "float32"


def test_logits_at_t_depend_only_on_ids_up_to_t():
    model = tiny_gpt()
    x = np.array([[1, 2, 3, 4, 5, 6]], "int32")
    changed = x.copy()
    changed[0, 4:] = [9, 9]
    a, b = np.asarray(model(x)), np.asarray(model(changed))
    np.testing.assert_allclose(a[:, :4], b[:, :4], atol=1e-5)
    assert not np.allclose(a[:, 4:], b[:, 4:])


@pytest.mark.parametrize(
    "kwargs, arg",
    [
        (dict(vocab_size=0, sequence_length=8), "vocab_size"),
        (dict(vocab_size=9, sequence_length=0), "sequence_length"),
        (dict(vocab_size=9, sequence_length=8, embed_dim=10, num_heads=4), "embed_dim"),
        (dict(vocab_size=9, sequence_length=8, num_layers=0), "num_layers"),
        (dict(vocab_size=9, sequence_length=8, ff_dim=-2), "ff_dim"),
        (dict(vocab_size=9, sequence_length=8, dropout=1.0), "dropout"),
        (dict(vocab_size=9, sequence_length=8, tie_embeddings="yes"), "tie_embeddings"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, arg):
    with pytest.raises(ValueError, match=f"`{arg}`"):
        modelzoo.build_gpt(**kwargs)


def test_registry_builds_the_gpt():
    model = modelzoo.get_model("gpt", num_layers=1)
    assert model.output_shape == (None, None, 66)
    assert model.get_layer("embedding").sequence_length == 128


# --- the cached in-graph generator ------------------------------------------------


def test_window_starts_rebuild_from_the_last_half():
    # Window 4: steps 0-3 see [0, t]; at step 4 the context restarts from
    # token 2 (the last 2 tokens kept), and so on every 2 steps.
    assert window_starts(10, 4) == [0, 0, 0, 0, 2, 2, 4, 4, 6, 6]
    assert all(t - s < 5 for t, s in enumerate(window_starts(50, 5)))


@pytest.fixture(scope="module", params=[False, True], ids=["untied", "tied"])
def served(request, tmp_path_factory):
    model = tiny_gpt(request.param)
    path = str(tmp_path_factory.mktemp("gpt") / "export")
    export_gpt_generator(model, VOCAB, path, MAX_CHARS, MAX_PROMPT)
    # Called as TF Serving calls it: the optional inputs may be left out.
    return model, ServedSignature(path)


def generate(fn, prompts, num_chars, temperature=0.0, top_k=0):
    n = len(prompts)
    out = fn(
        prompt=tf.constant(strings(prompts)),
        num_chars=tf.constant(np.broadcast_to(num_chars, n), tf.int32),
        temperature=tf.constant(np.broadcast_to(temperature, n), tf.float32),
        top_k=tf.constant(np.broadcast_to(top_k, n), tf.int32),
    )
    return [t.decode("utf-8") for t in out["text"].numpy()]


def test_greedy_export_matches_the_keras_model_across_window_rebuilds(served):
    model, fn = served
    # 30 new characters with a window of 8: the cache is rebuilt many times.
    prompts = ["", "a", "abc hgf", "hgfedcba..hgfedcba", "xyz?"]
    got = generate(fn, prompts, 30)
    want = [greedy_generate_gpt(model, VOCAB, p, 30, MAX_CHARS, MAX_PROMPT) for p in prompts]
    assert got == want
    assert all(len(t) == 30 for t in got)
    assert any(len(set(t)) > 2 for t in got) and len(set(got)) > 2


def test_greedy_is_deterministic_and_batch_independent(served):
    _, fn = served
    prompts = ["", "ab", "hgfedcba..abc", "c"]
    batched = generate(fn, prompts, 20)
    assert batched == [generate(fn, [p], 20)[0] for p in prompts]
    out = fn(
        prompt=tf.constant(prompts),
        num_chars=tf.constant([3, 20, 0, 7]),
        temperature=tf.constant([0.0, 0.0, 0.0, -1.0]),
        top_k=tf.constant([0, 5, 0, -3]),
    )
    texts = [t.decode() for t in out["text"].numpy()]
    assert texts == [batched[0][:3], batched[1], "", batched[3][:7]]


def test_prompt_edge_cases(served):
    model, fn = served
    assert generate(fn, ["xyz"], 10) == generate(fn, ["QR!"], 10)
    assert generate(fn, [""], 10) == generate(fn, ["Z"], 10)
    assert generate(fn, [b"\xff\xfeab"], 10) == generate(fn, ["??ab"], 10)
    long_prompt = "abcdefgh " * 11112
    got = generate(fn, [long_prompt], 10)
    assert got == generate(fn, [long_prompt[-MAX_PROMPT:]], 10)
    assert got == [greedy_generate_gpt(model, VOCAB, long_prompt, 10, MAX_CHARS, MAX_PROMPT)]


def test_num_chars_temperature_and_top_k_edges(served):
    _, fn = served
    assert generate(fn, ["ab", "ab"], [0, -5]) == ["", ""]
    assert [len(t) for t in generate(fn, ["ab", ""], [10**6, 2**31 - 1])] == [MAX_CHARS] * 2
    greedy = generate(fn, ["ab"], 40)[0]
    sampled = generate(fn, ["ab"] * 5, 40, [1.0, 5.0, math.inf, 1e-30, 3.0], [0, 0, 0, 0, 2**31 - 1])
    assert all(len(t) == 40 and set(t) <= set(VOCAB[1:]) for t in sampled)
    assert sampled[3] == greedy
    # top_k = 1 leaves only the argmax, whatever the temperature.
    assert generate(fn, ["ab"] * 2, 40, [5.0, math.inf], 1) == [greedy, greedy]
    with pytest.raises(tf.errors.InvalidArgumentError, match="NaN"):
        generate(fn, ["ab", "c"], 5, [0.5, math.nan])
    for bad in ("num_chars", "temperature", "top_k"):
        inputs = dict(
            prompt=tf.constant(["a", "b"]), num_chars=tf.constant([1, 1]),
            temperature=tf.constant([0.0, 0.0]), top_k=tf.constant([0, 0]),
        )
        inputs[bad] = inputs[bad][:1]
        with pytest.raises(tf.errors.InvalidArgumentError, match=f"{bad} needs one value"):
            fn(**inputs)


def test_top_k_samples_only_among_the_k_likeliest():
    model = tiny_gpt()
    fn = tf.function(modelzoo.export.make_gpt_generator(model, VOCAB).generate)
    out = fn(tf.constant(["abc"] * 200), tf.fill([200], 1), tf.fill([200], 100.0),
             tf.fill([200], 3))
    drawn = {t.decode() for t in out["text"].numpy()}
    logits = np.asarray(model(np.array([[1, 2, 3]], "int32")))[0, -1, 1:]
    top3 = {VOCAB[1 + i] for i in np.argsort(logits)[-3:]}
    assert drawn == top3


@settings(max_examples=20, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.one_of(st.text(max_size=30), st.binary(max_size=30)),
            st.integers(-5, 30),
            st.one_of(st.floats(width=32), st.sampled_from([0.0, 1e-30])),
            st.one_of(st.integers(-3, 12), st.sampled_from([-(2**31), 2**31 - 1])),
        ),
        max_size=3,
    )
)
def test_fuzz_generator_inputs(served, rows):
    _, fn = served
    call = lambda: fn(
        prompt=tf.constant(strings([r[0] for r in rows]), tf.string),
        num_chars=tf.constant([r[1] for r in rows], tf.int32),
        temperature=tf.constant([r[2] for r in rows], tf.float32),
        top_k=tf.constant([r[3] for r in rows], tf.int32),
    )
    if any(math.isnan(r[2]) for r in rows):
        with pytest.raises(tf.errors.InvalidArgumentError, match="NaN"):
            call()
        return
    texts = [t.decode("utf-8") for t in call()["text"].numpy()]
    assert [len(t) for t in texts] == [min(max(r[1], 0), MAX_CHARS) for r in rows]
    assert all(set(t) <= set(VOCAB[1:]) for t in texts)


def test_export_arguments_are_checked(tmp_path):
    model = tiny_gpt()
    with pytest.raises(ValueError, match="vocabulary"):
        export_gpt_generator(model, VOCAB[:-1], str(tmp_path / "a"))
    with pytest.raises(ValueError, match="single characters"):
        export_gpt_generator(model, VOCAB[:-1] + ["ab"], str(tmp_path / "b"))
    with pytest.raises(ValueError, match="build_gpt"):
        export_gpt_generator(modelzoo.build_lstm_generator(len(VOCAB)), VOCAB, str(tmp_path / "c"))
    with pytest.raises(ValueError, match="max_chars"):
        export_gpt_generator(model, VOCAB, str(tmp_path / "d"), max_chars=0)


# --- sampling options, Python generation, old requests ---------------------------------


def call(fn, prompts, num_chars, temperature=0.0, top_k=0, **extra):
    """`generate` with optional inputs, each given per row as a list."""
    n = len(prompts)
    inputs = {name: tf.constant(value) for name, value in extra.items()}
    out = fn(
        prompt=tf.constant(strings(prompts)),
        num_chars=tf.constant(np.broadcast_to(num_chars, n), tf.int32),
        temperature=tf.constant(np.broadcast_to(temperature, n), tf.float32),
        top_k=tf.constant(np.broadcast_to(top_k, n), tf.int32), **inputs,
    )
    return [t.decode("utf-8") for t in out["text"].numpy()]


def test_seeded_sampling_is_reproducible_and_per_row(served):
    _, fn = served
    prompts = ["ab", "hgf", ""]
    first = call(fn, prompts, 40, 1.5, seed=[1, 2, 3])
    assert first == call(fn, prompts, 40, 1.5, seed=[1, 2, 3])
    assert call(fn, prompts, 40, 1.5, seed=[9, 2, 3])[0] != first[0]
    # A row's text depends on its own inputs only, not on the other rows.
    assert call(fn, ["hgf"], 40, 1.5, seed=[2]) == [first[1]]
    # A longer request continues the same stream.
    assert call(fn, prompts, 20, 1.5, seed=[1, 2, 3]) == [t[:20] for t in first]
    assert all(len(t) == 40 and set(t) <= set(VOCAB[1:]) for t in first)


def test_top_p_keeps_the_likeliest_set():
    model = tiny_gpt()
    fn = tf.function(modelzoo.export.make_gpt_generator(model, VOCAB).generate)
    logits = np.asarray(model(np.array([[1, 2, 3]], "int32")))[0, -1, 1:]
    probs = np.exp(logits - logits.max())
    probs /= probs.sum()
    order = np.argsort(-probs)
    # The smallest set reaching top_p, the one crossing it included.
    for top_p in (1e-6, 0.5, 0.95):
        size = int(np.searchsorted(np.cumsum(probs[order]), top_p) + 1)
        want = {VOCAB[1 + i] for i in order[:size]}
        out = fn(tf.constant(["abc"] * 300), tf.fill([300], 1), tf.fill([300], 1.0),
                 tf.fill([300], 0), tf.fill([300], top_p), tf.range(300))
        drawn = {t.decode() for t in out["text"].numpy()}
        assert drawn <= want and (len(want) > 3 or drawn == want), (top_p, drawn, want)


def test_stop_strings_end_each_row_early(served):
    _, fn = served
    prompts = ["ab", "hgf", "c"]
    full = call(fn, prompts, 40)
    stops = [full[0][3:5], full[1][10:13], "zzz"]
    got = call(fn, prompts, 40, stop=[[stop] for stop in stops])
    # Each row ends at the first occurrence of its stop string, without it.
    assert got[0] == full[0][: full[0].index(stops[0])]
    assert got[1] == full[1][: full[1].index(stops[1])]
    assert got[2] == full[2]
    # Several stop strings per row: the first to appear ends it.
    assert call(fn, ["ab"], 40, stop=[["zz", stops[0]]]) == got[:1]


def test_python_generate_is_the_export(served):
    model, fn = served
    python = tiny_gpt(model.tie_embeddings)
    python.set_weights(model.get_weights())
    python.vocabulary = VOCAB
    python._generator = modelzoo.export.make_gpt_generator(python, VOCAB, MAX_CHARS, MAX_PROMPT)
    prompts = ["ab", "hgfedcba..abc"]
    assert python.generate(prompts, 30, strip_prompt=True) == call(fn, prompts, 30)
    for options, inputs in [
        (dict(sampler="top_k", top_k=3, temperature=2.0, seed=5), dict(top_k=3)),
        (dict(sampler="top_p", top_p=0.8, temperature=1.5, seed=6), dict(top_p=[0.8] * 2)),
    ]:
        text = python.generate(prompts, 30, stop=["h."], **options)
        exported = call(fn, prompts, 30, options["temperature"], seed=[options["seed"]] * 2,
                        stop=[["h."]] * 2, **inputs)
        assert text == [p + t for p, t in zip(prompts, exported)]
        assert text == python.generate(prompts, 30, stop=["h."], **options)


def test_generate_xla_is_serving_default(served):
    model, _ = served
    gen = modelzoo.export.make_gpt_generator(model, VOCAB, MAX_CHARS, MAX_PROMPT)
    plain = tf.function(gen.serve_function(False))
    xla = tf.function(gen.serve_function(True))
    prompts = tf.constant(["", "abc hgf", "hgfedcba..hgfedcba"])
    args = (prompts, tf.fill([3], 30), tf.zeros([3]), tf.zeros([3], tf.int32))
    assert plain(*args)["text"].numpy().tolist() == xla(*args)["text"].numpy().tolist()
    sampled = (prompts, tf.fill([3], 30), tf.fill([3], 1.0), tf.fill([3], 4))
    assert (plain(*sampled, seed=tf.constant([1, 2, 3]))["text"].numpy().tolist()
            == xla(*sampled, seed=tf.constant([1, 2, 3]))["text"].numpy().tolist())


def test_old_requests_and_warmup_records_still_work(tmp_path):
    """A request without the optional inputs, as TF Serving runs it: a graph
    session fed only what the request holds, and the old warm-up records."""
    model = tiny_gpt()
    path = export_gpt_generator(model, VOCAB, str(tmp_path / "gpt"), MAX_CHARS, MAX_PROMPT)
    old = {"prompt": strings(["ab", ""]), "num_chars": np.int32([12, 5]),
           "temperature": np.float32([0.0, 0.0]), "top_k": np.int32([0, 0])}
    want = [greedy_generate_gpt(model, VOCAB, p, n, MAX_CHARS, MAX_PROMPT)
            for p, n in (("ab", 12), ("", 5))]
    assert sorted(verify.signature_defaults(path)) == ["seed", "stop", "top_p"]
    for signature in ("serving_default", "generate_xla"):
        assert [t.decode() for t in verify.run_in_session(path, signature, old)["text"]] == want
    warmup.write_warmup(path, warmup.warmup_inputs(old), "gpt")
    assert verify.replay_warmup(path, tf.saved_model.load(path), 2) == 2


@pytest.mark.parametrize(
    "settings, message",
    [
        (dict(sampler="top_p", top_p=0.0), "`top_p` must be in (0, 1]. Received: top_p=0.0"),
        (dict(sampler="top_p", top_p=1.5), "`top_p` must be in (0, 1]. Received: top_p=1.5"),
        (dict(seed=-1), "`seed` must be an integer in [0, 2**31). Received: seed=-1"),
        (dict(stop=["a", ""]), "`stop` must be a non-empty str or a list of them"),
        (dict(sampler="beam"), "`sampler` must be one of"),
        (dict(sampler="top_k", top_k=0), "`top_k` must be an integer >= 1. Received: top_k=0"),
        (dict(sampler="top_k", temperature=0.0), "`temperature` must be a number > 0"),
    ],
)
def test_bad_generate_arguments_are_named(settings, message):
    model = tiny_gpt()
    model.vocabulary = VOCAB
    with pytest.raises(ValueError, match=re.escape(message)):
        model.generate(["ab"], 5, **settings)


@pytest.mark.parametrize(
    "extra, message",
    [
        (dict(top_p=[0.5, 1.5]), "top_p must be in (0, 1]"),
        (dict(top_p=[0.0, 1.0]), "top_p must be in (0, 1]"),
        (dict(seed=[1, -2]), "seed must be >= 0"),
        (dict(stop=[["a"], [""]]), "stop strings must not be empty"),
        (dict(seed=[1]), "seed needs one value per prompt (or none)"),
    ],
)
def test_bad_served_values_are_named_in_one_line(served, extra, message):
    _, fn = served
    with pytest.raises(tf.errors.InvalidArgumentError) as error:
        call(fn, ["ab", "c"], 5, 0.5, **extra)
    line = verify._first_line(error.value)
    assert message in line, line


def test_generate_needs_the_vocabulary_and_the_config_keeps_it():
    model = tiny_gpt()
    with pytest.raises(ValueError, match="`vocabulary` is needed"):
        model.generate("ab", 5)
    with pytest.raises(ValueError, match="vocabulary"):
        modelzoo.build_gpt(len(VOCAB), WINDOW, vocabulary=VOCAB[:-1])
    config = modelzoo.build_gpt(len(VOCAB), WINDOW, num_layers=1, vocabulary=VOCAB).get_config()
    assert config["vocabulary"] == VOCAB
    assert type(modelzoo.build_gpt(len(VOCAB), WINDOW)).from_config(config).vocabulary == VOCAB


# --- slow: publishing, a TensorFlow-only process, the recipe --------------------------


def serve_gpt(path, **inputs):
    # A fresh TensorFlow-only process: the GPT export needs neither modelzoo nor TF Text.
    out = serve(path, inputs, forbidden=("modelzoo", "tensorflow_text"))
    return served_texts(out["text"])


@pytest.mark.slow
def test_published_gpt_serves_in_a_tensorflow_only_process(tmp_path):
    model = tiny_gpt(tie_embeddings=True)
    path = publish_gpt_generator(
        model, VOCAB, str(tmp_path), "gpt", max_chars=MAX_CHARS, max_prompt_chars=MAX_PROMPT
    )
    assert path == str(tmp_path / "gpt" / "1")
    batch = check_serving_assets(path, "gpt")["warmup"]
    assert sorted(batch) == ["num_chars", "prompt", "temperature", "top_k"]
    prompts, counts = ["", "abc", "hgfedcba..abc", "xyz"], [15, 20, 5, 0]
    got = serve_gpt(path, prompt=prompts, num_chars=counts, temperature=[0.0] * 4,
                    top_k=[0, 3, 0, 0])
    assert got == [
        greedy_generate_gpt(model, VOCAB, p, n, MAX_CHARS, MAX_PROMPT)
        for p, n in zip(prompts, counts)
    ]
    shown = saved_model_cli_show(path)
    for needle in ["inputs['prompt']", "inputs['num_chars']", "inputs['temperature']",
                   "inputs['top_k']", "DT_INT32", "DT_FLOAT", "outputs['text']", "DT_STRING"]:
        assert needle in shown, shown


@pytest.mark.slow
def test_gpt_recipe_trains_exports_and_serves(tmp_path):
    summary = run_recipe("shakespeare_gpt", f"--export_dir={tmp_path}", "--sample_prompt=ab",
                         "--tie_embeddings")
    assert summary["model"] == "gpt"
    assert summary["export_path"] == str(tmp_path / "shakespeare_gpt" / "1")
    assert summary["sample"].startswith("ab") and len(summary["sample"]) == 12
    assert summary["metrics"]["loss"] > 0
    first, second = serve_gpt(summary["export_path"], prompt=["ab", ""], num_chars=[5, 3],
                              temperature=[0.8, 0.0], top_k=[3, 0])
    assert len(first) == 5 and len(second) == 3


@pytest.mark.slow
def test_gpt_recipe_bad_model_flags_are_usage_errors(tmp_path):
    # UsageError: one line on stderr and exit code 2 from the command.
    with pytest.raises(UsageError, match="`embed_dim` must be divisible by `num_heads`"):
        run_recipe("shakespeare_gpt", f"--export_dir={tmp_path}", "--num_heads=3")
