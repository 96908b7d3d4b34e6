"""What the in-graph character generators (LSTM and GPT) share.

One sampler serves the exported signatures and `model.generate` in Python:
reading and checking the request, the step schedule, sampling (greedy,
temperature, top-k, top-p, seeded), stop strings and the per-row early
exit, writing the text, the plain greedy check, writing the archive and
publishing (each generator is a `GeneratorExport`). Each generator adds only
its model loop: `export/generator.py` steps LSTM cells,
`export/gpt_generator.py` prefills and steps cached decoder blocks.

The request, as the signatures take it (every input `[batch]` unless noted):

- `prompt` string, `num_chars` int32, `temperature` float32: required.
- `top_k` int32: required by the GPT's signature (as before), optional for
  the LSTM's.
- `top_p` float32, `seed` int32 and `stop` string `[batch, num_stops]`:
  optional. Each optional input may be left out of a TF Serving request
  (the SavedModel records an empty default, read as "every row takes the
  default") or sent with one value (row) per prompt.

Sampling at a step, per row: `temperature` ≤ 0 is the argmax; otherwise the
logits are scaled by 1/temperature, restricted to the `top_k` largest
(ties kept; 0 is no restriction) and then to the smallest set of the most
likely whose probability reaches `top_p` (1 is no restriction; the set
always holds the likeliest), and one id is drawn by inverse CDF with a
uniform number from the row's own stream: `tf.random.stateless_uniform`
seeded with `[seed, 0]`, one number per step. So a row's text depends only
on its own inputs, not on the other rows of the batch; without a seed each
row draws a random one. The unknown id 0 is never generated.
"""

import functools

import keras
import numpy as np
import tensorflow as tf

from modelzoo.export.archive import write_endpoints
from modelzoo.export.base import ExportModule
from modelzoo.export.publish import (
    LOW_PRECISION_TOLERANCE,
    is_low_precision,
    string_array,
)
from modelzoo.text import chars

# Kept here for the exporters; the check lives with the character table.
check_char_vocabulary = chars.check_char_vocabulary

# The inputs every generator's `serving_default` requires, each `[batch]`.
GENERATOR_INPUTS = (("prompt", tf.string), ("num_chars", tf.int32), ("temperature", tf.float32))

# The optional inputs: name → (dtype, shape, default per row).
OPTIONAL_INPUTS = {
    "top_k": (tf.int32, [None], 0),
    "top_p": (tf.float32, [None], 1.0),
    "seed": (tf.int32, [None], None),
    "stop": (tf.string, [None, None], None),
}

# The XLA-compiled copy of `serving_default` (see `write_generator_archive`).
XLA_SIGNATURE = "generate_xla"

SAMPLERS = ("greedy", "top_k", "top_p")


def input_specs(required_extra=(), optional=("top_p", "seed", "stop")):
    """`(name, dtype, shape)` of a generator signature's inputs, in call order.

    Args:
        required_extra: names of `OPTIONAL_INPUTS` the signature requires
            (the GPT's `top_k`), after `GENERATOR_INPUTS`.
        optional: names of `OPTIONAL_INPUTS` it takes as optional inputs.
    """
    specs = [(name, dtype, [None]) for name, dtype in GENERATOR_INPUTS]
    for name in [*required_extra, *optional]:
        dtype, shape, _ = OPTIONAL_INPUTS[name]
        specs.append((name, dtype, shape))
    return specs


def generator_contract(specs):
    """The signature contract (see `verify.check_signature`) of a generator.

    Args:
        specs: `input_specs(...)`.
    """
    return {
        "inputs": {name: {"dtype": dtype.name, "shape": shape} for name, dtype, shape in specs},
        "outputs": {"text": {"dtype": "string", "shape": [None]}},
    }


def check_limits(max_chars, max_prompt_chars):
    for arg, value in (("max_chars", max_chars), ("max_prompt_chars", max_prompt_chars)):
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError(f"`{arg}` must be a positive integer. Received: {arg}={value!r}")


def plain_prompt_ids(vocabulary, prompt, max_prompt_chars):
    """The prompt's ids as the export reads them, for the plain greedy checks."""
    if isinstance(prompt, bytes):
        prompt = prompt.decode("utf-8", errors="replace")
    ids = chars.char_ids(chars.char_table(vocabulary), prompt).numpy().tolist()
    return ids[len(ids) - max_prompt_chars :] or [0]


def greedy_continuation(
    model, vocabulary, prompt, num_chars, max_chars, max_prompt_chars, context_starts=None,
    margins=None,
):
    """Greedy continuation computed the plain way, for checking exports.

    Runs the full Keras model (no cache, so quadratic: only for short texts)
    on each step's context and takes the argmax of the last position, with
    the exports' edge rules (see `generator.export_text_generator`).

    Args:
        model: the in-memory model, mapping ids `[1, n]` to logits `[1, n, V]`.
        vocabulary: a vocabulary checked against `model`.
        prompt: str or bytes.
        num_chars: int.
        max_chars: int. Cap on `num_chars`.
        max_prompt_chars: int. Prompt characters read, from the end.
        context_starts: callable(num_steps) → list whose entry t is the first
            token step t reads (it reads tokens `[starts[t], t]`), e.g.
            `gpt_generator.window_starts`; None reads every token so far.
        margins: a list, or None. When given, each step's gap between its
            two largest logits is appended (see `reliable_prefixes`).

    Returns:
        The continuation, a str.
    """
    ids = plain_prompt_ids(vocabulary, prompt, max_prompt_chars)
    count = min(max(num_chars, 0), max_chars)
    first = len(ids) - 1
    starts = context_starts(first + count) if context_starts else [0] * (first + count)
    text = []
    for t in range(first, first + count):
        context = np.asarray([ids[starts[t] : t + 1]], "int32")
        logits = keras.ops.convert_to_numpy(model(context, training=False))[0, -1]
        # Id 0 (unknown) is never generated, as in the export.
        token = 1 + int(np.argmax(logits[1:]))
        if margins is not None:
            margins.append(_top_two_gap(np.asarray(logits[1:], "float64")))
        ids.append(token)
        text.append(vocabulary[token])
    return "".join(text)


def _top_two_gap(logits):
    if logits.size < 2:
        return float("inf")
    top, second = np.sort(logits)[-2:][::-1]
    # Relative to the logits' size: float16 rounds to ~1e-3 of the value.
    return float((top - second) / max(1.0, abs(top)))


def reliable_prefixes(texts, margins, tolerance):
    """How many bytes of each greedy text a low-precision export must match.

    A float16 or bfloat16 model computes the cached path (the export) and
    the uncached one (`greedy_continuation`) with different rounding, so
    where two logits are within rounding of each other the argmax may pick
    either, and everything after differs. Rather than compare such a model
    in float32 (which is not the model that is served), the check keeps
    the text before each row's first near-tie and drops the rest.

    Args:
        texts: list of str, the greedy continuations.
        margins: list (per text) of lists of `greedy_continuation` margins.
        tolerance: float. A relative gap at or below it is a tie.

    Returns:
        A list of byte counts, one per text.
    """
    lengths = []
    for text, gaps in zip(texts, margins):
        ties = [t for t, gap in enumerate(gaps) if gap <= tolerance]
        kept = text[: ties[0]] if ties else text
        lengths.append(len(kept.encode("utf-8")))
    return lengths


class CharSampler:
    """The request, the sampling and the text: everything but the model loop.

    A subclass implements `loop(request, state)`, running the model over
    the steps and calling `advance` after each. `serve` is the function the
    signatures export and `model.generate` calls.

    Args:
        model: the Keras model, with `call_with_cache` and `empty_cache`.
        vocabulary: a checked character vocabulary.
        max_chars: int. Cap on `num_chars`.
        max_prompt_chars: int. Prompt characters read, from the end.
        required_extra: names of `OPTIONAL_INPUTS` the signature requires.
        optional: names of `OPTIONAL_INPUTS` the signature takes as optional.
    """

    def __init__(self, model, vocabulary, max_chars, max_prompt_chars, required_extra=(),
                 optional=("top_p", "seed", "stop")):
        check_limits(max_chars, max_prompt_chars)
        self.model = model
        self.max_chars = max_chars
        self.max_prompt_chars = max_prompt_chars
        self.specs = input_specs(required_extra, optional)
        self.optional = tuple(optional)
        # Id 0 is never emitted; "" keeps the gather total.
        self.id_to_char = tf.constant([""] + vocabulary[1:], tf.string)
        self.char_to_id = chars.char_table(vocabulary)
        # Id 0 (unknown) is never generated: V - 1 candidates.
        self.candidates = len(vocabulary) - 1
        # Token read at step t sits in column t of a fixed-width history.
        self.width = max_prompt_chars + 1 + max_chars
        self._functions = {}

    # --- the signatures -------------------------------------------------------

    def serve_function(self, jit_compile=False):
        """The function a signature exports: keyword inputs → `{"text": ...}`.

        Its optional inputs default to empty tensors (recorded as the
        SignatureDef's defaults), read as "every row takes the default".
        With `jit_compile`, the numeric loop is compiled by XLA; reading the
        prompt, the checks and writing the text stay outside.
        """
        if jit_compile in self._functions:
            return self._functions[jit_compile]
        if jit_compile:
            loop = tf.function(functools.partial(self.loop, static=True), jit_compile=True)
        else:
            loop = functools.partial(self.loop, static=False)
        empty = {
            name: tf.zeros([0] * len(OPTIONAL_INPUTS[name][1]), OPTIONAL_INPUTS[name][0])
            for name in OPTIONAL_INPUTS
        }

        # Tensor defaults: the SavedModel records them in the SignatureDef,
        # so TF Serving accepts requests without these inputs.
        if "top_k" in self.optional:
            def generate(prompt, num_chars, temperature, top_k=empty["top_k"],
                         top_p=empty["top_p"], seed=empty["seed"], stop=empty["stop"]):
                return self._run(loop, prompt, num_chars, temperature, top_k, top_p, seed,
                                     stop)
        else:
            def generate(prompt, num_chars, temperature, top_k, top_p=empty["top_p"],
                         seed=empty["seed"], stop=empty["stop"]):
                return self._run(loop, prompt, num_chars, temperature, top_k, top_p, seed,
                                     stop)

        self._functions[jit_compile] = generate
        return generate

    def variables(self):
        """The generator's own variables (beyond the model's), to export with it."""
        return []

    def refresh(self):
        """Brings the generator's own variables up to date with the model's weights."""

    def input_signature(self):
        return [tf.TensorSpec(shape, dtype, name=name) for name, dtype, shape in self.specs]

    # --- one call ---------------------------------------------------------------

    def generate(self, prompt, num_chars, temperature, top_k=None, top_p=None, seed=None,
                 stop=None):
        """`serving_default`'s computation, callable eagerly or in a `tf.function`.

        Args:
            prompt: string `[batch]`.
            num_chars, temperature, top_k, top_p, seed: `[batch]` each, or
                None (or empty) for the defaults (see the module doc).
            stop: string `[batch, num_stops]`, or None (or empty) for none.

        Returns:
            `{"text": string [batch]}`.
        """
        return self._run(functools.partial(self.loop, static=False), prompt, num_chars,
                         temperature, top_k, top_p, seed, stop)

    def _run(self, loop, prompt, num_chars, temperature, top_k, top_p, seed, stop):
        """Checks the request, runs `loop` and writes each row's text."""
        request = self.request(prompt, num_chars, temperature, top_k, top_p, seed, stop)
        state = loop(request, self.start_state(request))
        return {"text": self.texts(request, state)}

    def request(self, prompt, num_chars, temperature, top_k, top_p, seed, stop):
        """The request's checked tensors and everything the loop needs.

        Signatures do not enforce shapes, so a rank or batch mismatch and a
        bad value are InvalidArgument errors here, each naming the input.
        """
        prompt = tf.ensure_shape(prompt, [None])
        batch = tf.shape(prompt)[0]
        given = {"num_chars": num_chars, "temperature": temperature}
        optional = {"top_k": top_k, "top_p": top_p, "seed": seed, "stop": stop}
        checks = []
        for name, value in given.items():
            given[name] = tf.ensure_shape(value, [None])
            checks.append(tf.debugging.assert_equal(
                tf.shape(value)[0], batch, message=f"{name} needs one value per prompt"))
        rows = {}
        for name, value in optional.items():
            dtype, shape, _ = OPTIONAL_INPUTS[name]
            if value is None:
                value = tf.zeros([0] * len(shape), dtype)
            value = tf.ensure_shape(value, shape)
            rows[name] = tf.shape(value)[0] > 0
            required = name not in self.optional
            checks.append(tf.debugging.Assert(
                tf.logical_or(tf.equal(tf.shape(value)[0], batch),
                              tf.logical_and(not required, tf.equal(tf.shape(value)[0], 0))),
                [f"{name} needs one value per prompt" + ("" if required else " (or none)")]))
            optional[name] = value
        temperature = given["temperature"]
        checks.append(tf.debugging.Assert(
            tf.reduce_all(tf.logical_not(tf.math.is_nan(temperature))),
            ["temperature must not be NaN"]))
        top_p, seed, stop = optional["top_p"], optional["seed"], optional["stop"]
        checks.append(tf.debugging.Assert(
            tf.reduce_all((top_p > 0) & (top_p <= 1)),
            ["top_p must be in (0, 1]; received", top_p]))
        checks.append(tf.debugging.Assert(
            tf.reduce_all(seed >= 0), ["seed must be >= 0; received", seed]))
        checks.append(tf.debugging.Assert(
            tf.reduce_all(tf.strings.length(stop) > 0), ["stop strings must not be empty"]))
        # Every input waits for the checks, so no loop op reads a mismatched
        # tensor (and fails with its own message) before they have run.
        with tf.control_dependencies(checks):
            prompt = tf.identity(prompt)

        def per_row(name, value, default):
            return tf.cond(rows[name], lambda: value, lambda: tf.fill([batch], default))

        top_k = per_row("top_k", optional["top_k"], 0)
        top_p = per_row("top_p", top_p, 1.0)
        # Without a seed each row draws one, then samples as a seeded row does.
        seed = per_row("seed", seed, 0)
        seed = tf.cond(rows["seed"], lambda: seed,
                       lambda: tf.random.uniform([batch], 0, 2**31 - 1, tf.int32))
        stop = tf.cond(rows["stop"], lambda: stop, lambda: tf.zeros([batch, 0], tf.string))

        ids, lengths = self.prompt_ids(prompt)
        count = tf.cast(tf.clip_by_value(given["num_chars"], 0, self.max_chars), tf.int64)
        first = lengths - 1
        # Row i reads its prompt at steps 0..len_i-1; the step reading the last
        # prompt char yields the first new char, so it needs len_i + count_i - 1
        # steps, none when count_i is 0.
        steps = tf.reduce_max(tf.concat([tf.where(count > 0, first + count, 0), [0]], 0))
        sample = temperature > 0
        k = tf.clip_by_value(top_k, 0, self.candidates)
        stop_ids, stop_lengths = self.stop_ids(stop)
        return {
            # Column t: the token read at step t (prompt ids, then samples).
            "history": tf.pad(ids, [[0, 0], [0, self.width - tf.shape(ids)[1]]]),
            "lengths": lengths,
            "first": first,
            "count": count,
            "steps": steps,
            "start": tf.maximum(tf.reduce_min(tf.concat([first, [steps]], 0)), 0),
            "sample": sample,
            # Greedy rows never use it; 1 keeps their division finite.
            "scale": tf.where(sample, temperature, tf.ones_like(temperature))[:, None],
            "use_k": k > 0,
            "kth": tf.maximum(k, 1) - 1,
            "use_p": top_p < 1,
            "top_p": top_p,
            # Whether any row needs the sorted logits (top-k or top-p).
            "restrict": tf.reduce_any(sample & ((k > 0) | (top_p < 1))),
            "uniforms": self.uniforms(seed),
            "stop_ids": stop_ids,
            "stop_lengths": stop_lengths,
        }

    def prompt_ids(self, prompt):
        """Prompt ids `[batch, width]` (0-padded, width ≥ 1) and lengths ≥ 1."""
        ids = chars.char_ids(self.char_to_id, prompt)[:, -self.max_prompt_chars :]
        lengths = ids.row_lengths()
        ids = ids.to_tensor(default_value=0)
        # An empty prompt is read as the single unknown id 0; the extra
        # column makes that work even when every prompt is empty.
        ids = tf.pad(ids, [[0, 0], [0, 1]])
        return ids, tf.maximum(lengths, 1)

    def uniforms(self, seed):
        """Each row's uniform numbers in [0, 1), one per step: `[batch, steps]`."""
        steps = self.max_prompt_chars + self.max_chars
        return tf.map_fn(
            lambda s: tf.random.stateless_uniform([steps], tf.stack([s, 0])),
            seed, fn_output_signature=tf.TensorSpec([steps], tf.float32),
        )

    def stop_ids(self, stop):
        """Stop strings as ids, right-aligned: `[batch, stops, longest]`, and lengths.

        Padding is -1, which no generated id equals, so it matches anything
        (`stop_lengths` says where each string starts).
        """
        ids = chars.char_ids(self.char_to_id, tf.reshape(stop, [-1])).to_tensor(default_value=-1)
        ids = tf.reshape(ids, tf.concat([tf.shape(stop), tf.shape(ids)[1:]], 0))
        lengths = tf.reduce_sum(tf.cast(ids >= 0, tf.int64), axis=2)
        longest = tf.shape(ids, out_type=tf.int64)[2]
        # Right-align: column j of a string of length l holds char j - (longest - l).
        source = tf.range(longest, dtype=tf.int64)[None, None, :] - (longest - lengths)[..., None]
        aligned = tf.where(source >= 0, tf.gather(ids, tf.maximum(source, 0), batch_dims=2), -1)
        return aligned, lengths

    # --- the loop state ---------------------------------------------------------

    def start_state(self, request):
        """`(history, emitted, stopped, cut, recent)` before the first step."""
        batch = tf.shape(request["lengths"])[0]
        return (
            request["history"],
            tf.zeros([batch], tf.int64),
            tf.zeros([batch], tf.bool),
            tf.zeros([batch], tf.int64),
            tf.fill([batch, tf.shape(request["stop_ids"])[2]], tf.constant(-1, tf.int64)),
        )

    def running(self, request, t, state):
        """Whether step `t` runs: below the last step and some row not done."""
        _, emitted, stopped, _, _ = state
        done = stopped | (emitted >= request["count"])
        return (t < request["steps"]) & tf.reduce_any(~done)

    def advance(self, request, t, logits, state):
        """The state after step `t`, whose logits over ids 1..V-1 are `logits`."""
        history, emitted, stopped, cut, recent = state
        token = self.next_token(request, t, logits)
        active = (t >= request["first"]) & ~stopped & (emitted < request["count"])
        # The token read at step t + 1: the prompt's while it lasts.
        following = tf.gather(history, t + 1, axis=1)
        following = tf.where(t + 1 < request["lengths"], following, token)
        rows = tf.range(tf.shape(history, out_type=tf.int64)[0])
        history = tf.tensor_scatter_nd_update(
            history, tf.stack([rows, tf.fill(tf.shape(rows), t + 1)], axis=1), following)
        emitted += tf.cast(active, tf.int64)
        # The last characters generated, for the stop strings.
        shifted = tf.concat([recent, token[:, None]], axis=1)[:, 1:]
        recent = tf.where(active[:, None], shifted, recent)
        matches = tf.reduce_all(
            (request["stop_ids"] == -1) | (request["stop_ids"] == recent[:, None, :]), axis=2)
        matches &= request["stop_lengths"] > 0
        # The longest stop string that ends here is the one cut.
        matched = tf.reduce_max(
            tf.concat([tf.where(matches, request["stop_lengths"], 0),
                       tf.zeros_like(emitted)[:, None]], axis=1), axis=1)
        hit = active & (matched > 0)
        cut = tf.where(hit, matched, cut)
        return history, emitted, stopped | hit, cut, recent

    def next_token(self, request, t, logits):
        """Samples (or takes the argmax of) `logits` over ids 1..V-1.

        Returns the token ids, never 0, so every step adds a character.
        """
        greedy = tf.argmax(logits, axis=-1, output_type=tf.int64)
        # Subtracting the max first keeps tiny temperatures from overflowing
        # to +inf (NaN inside the softmax).
        scaled = (logits - tf.reduce_max(logits, axis=-1, keepdims=True)) / request["scale"]
        scaled = tf.cond(request["restrict"], lambda: self.restricted(request, logits, scaled),
                         lambda: scaled)
        cdf = tf.cumsum(tf.exp(scaled), axis=-1)
        u = tf.gather(request["uniforms"], t, axis=1)
        # Inverse CDF: the first id whose cumulative mass exceeds u * total.
        drawn = tf.reduce_sum(tf.cast(cdf <= (u[:, None] * cdf[:, -1:]), tf.int64), axis=-1)
        # The clip guards against rounding at the top and NaN rows.
        drawn = tf.clip_by_value(drawn, 0, self.candidates - 1)
        return tf.where(request["sample"], drawn, greedy) + 1

    def restricted(self, request, logits, scaled):
        """`scaled` with -inf outside each row's top-k, then its top-p set.

        The sets are chosen by the logits, so a temperature that makes the
        scaled values tie (+inf) does not widen them.
        """
        ordered, order = tf.math.top_k(logits, k=self.candidates)
        use_k = request["use_k"][:, None]
        # Top-k keeps the logits ≥ the k-th largest (ties included).
        kth = tf.gather(ordered, request["kth"], batch_dims=1)[:, None]
        in_k = ~use_k | (ordered >= kth)
        # Top-p keeps the likeliest ids until their mass reaches top_p (the
        # one that crosses it included), on the top-k distribution.
        mass = tf.where(in_k, tf.exp(tf.gather(scaled, order, batch_dims=1)), 0.0)
        before = tf.cumsum(mass, axis=-1, exclusive=True)
        total = tf.reduce_sum(mass, axis=-1, keepdims=True)
        kept = tf.reduce_sum(tf.cast(before < request["top_p"][:, None] * total, tf.int32), -1)
        smallest = tf.gather(ordered, tf.maximum(kept, 1) - 1, batch_dims=1)[:, None]
        allowed = (~use_k | (logits >= kth)) & (~request["use_p"][:, None] | (logits >= smallest))
        return tf.where(allowed, scaled, -np.inf)

    def texts(self, request, state):
        """Each row's characters generated, without a stop string it ended on."""
        history, emitted, _, cut, _ = state
        column = tf.range(self.width, dtype=tf.int64)[None, :]
        start = request["lengths"][:, None]
        shown = (column >= start) & (column < start + (emitted - cut)[:, None])
        letters = tf.where(shown, tf.gather(self.id_to_char, history), "")
        return tf.strings.reduce_join(letters, axis=1)


def write_generator_archive(model, generator, path):
    """Writes `serving_default` and `generate_xla` of `generator` as a SavedModel.

    Both signatures take the same inputs and run the same sampler; in
    `generate_xla` the numeric loop is an XLA-compiled function (a server
    needs `--xla_cpu_compilation_enabled` to run it).

    Args:
        model: the Keras model whose variables the loop uses.
        generator: a `CharSampler` subclass.
        path: str. Directory to write.

    Returns:
        `path`.
    """
    signature = generator.input_signature()
    endpoints = {
        "serving_default": (generator.serve_function(False), signature),
        XLA_SIGNATURE: (generator.serve_function(True), signature),
    }
    # The lookup table is a resource the archive must track, as are the
    # generator's own variables, if any.
    resources = [generator.char_to_id, *generator.variables()]
    return write_endpoints(path, model, endpoints, resources=resources)


class GeneratorExport(ExportModule):
    """A character generator's export: `serving_default` and `generate_xla`.

    The check compares greedy (temperature 0) output of the SavedModel with
    `greedy` on the in-memory model. The example request, and so the
    warm-up records, leave the optional inputs out, as older clients do.
    Subclasses set `make`, `export_fn` and `greedy` (staticmethods taking the
    model and vocabulary first), `CONTRACT` and `EXTRA_EXAMPLE` (example
    values of the inputs beyond prompt, num_chars and temperature).

    Args:
        model, vocabulary, max_chars, max_prompt_chars: see `export_fn`.
        example_prompts: sequence of str to check with; defaults to an empty
            prompt and two made of the vocabulary.
        example_chars: int. Characters generated per example prompt.
        rtol, atol: float tolerances, or None for the defaults.
    """

    kind = "generator"
    CONTRACT = None
    EXTRA_EXAMPLE = {}

    def __init__(self, model, vocabulary, example_prompts=None, example_chars=20,
                 max_chars=2000, max_prompt_chars=1000, rtol=None, atol=None):
        super().__init__(model, rtol, atol)
        self.make(model, vocabulary, max_chars, max_prompt_chars)
        self.vocabulary = vocabulary
        self.limits = (max_chars, max_prompt_chars)
        if example_prompts is None:
            letters = "".join(vocabulary[1:])
            example_prompts = ["", letters[:3], letters[::-1][:7]]
        self.example_chars = example_chars
        self._prompts = string_array(example_prompts)
        self._margins = None

    def write(self, path):
        return self.export_fn(self.model, self.vocabulary, path, *self.limits)

    def contract(self):
        return self.CONTRACT

    def example(self):
        n = len(self._prompts)
        example = {
            "prompt": self._prompts,
            "num_chars": np.full(n, self.example_chars, "int32"),
            "temperature": np.zeros(n, "float32"),
        }
        for key, value in self.EXTRA_EXAMPLE.items():
            example[key] = np.full(n, value, np.asarray(value).dtype)
        return example

    def expected(self, example):
        self._margins = [[] for _ in example["prompt"]]
        self._texts = [
            self.greedy(self.model, self.vocabulary, p, int(k), *self.limits, margins=m)
            for p, k, m in zip(example["prompt"], example["num_chars"], self._margins)
        ]
        return {"text": string_array(self._texts)}

    def prefixes(self, example):
        # A 16-bit model's text is checked up to its first near-tie only.
        if self._margins is None or not is_low_precision(self.model):
            return None
        return {"text": reliable_prefixes(self._texts, self._margins, LOW_PRECISION_TOLERANCE)}


# --- generation in Python ------------------------------------------------------


def check_generate_args(prompts, max_length, sampler, temperature, top_k, top_p, seed, stop):
    """Checks `model.generate`'s arguments; returns the request's per-row settings.

    Raises:
        ValueError: naming the first bad argument and its value.
    """
    single = isinstance(prompts, (str, bytes))
    prompt_list = [prompts] if single else list(prompts)
    if not all(isinstance(p, (str, bytes)) for p in prompt_list):
        raise ValueError(f"`prompts` must be a str or a list of str. Received: prompts={prompts!r}")
    if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 0:
        raise ValueError(
            f"`max_length` must be an integer >= 0. Received: max_length={max_length!r}")
    if sampler not in SAMPLERS:
        raise ValueError(f"`sampler` must be one of {SAMPLERS}. Received: sampler={sampler!r}")
    if sampler != "greedy" and not (isinstance(temperature, (int, float))
                                    and not isinstance(temperature, bool)
                                    and 0 < temperature < float("inf")):
        raise ValueError(
            f"`temperature` must be a number > 0. Received: temperature={temperature!r}")
    if top_k is None:
        top_k = 10 if sampler == "top_k" else 0
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 0 or (
            sampler == "top_k" and top_k == 0):
        least = 1 if sampler == "top_k" else 0
        raise ValueError(f"`top_k` must be an integer >= {least}. Received: top_k={top_k!r}")
    if top_p is None:
        top_p = 0.9 if sampler == "top_p" else 1.0
    if isinstance(top_p, bool) or not isinstance(top_p, (int, float)) or not 0 < top_p <= 1:
        raise ValueError(f"`top_p` must be in (0, 1]. Received: top_p={top_p!r}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))
                             or not 0 <= seed < 2**31):
        raise ValueError(f"`seed` must be an integer in [0, 2**31). Received: seed={seed!r}")
    stops = [stop] if isinstance(stop, str) else list(stop or [])
    if not all(isinstance(s, str) and s for s in stops):
        raise ValueError(
            f"`stop` must be a non-empty str or a list of them. Received: stop={stop!r}")
    return single, prompt_list, {
        "temperature": 0.0 if sampler == "greedy" else float(temperature),
        "top_k": top_k if sampler != "greedy" else 0,
        "top_p": float(top_p) if sampler == "top_p" else 1.0,
        "seed": seed,
        "stop": stops,
    }


def generate(generator, prompts, max_length, sampler, temperature, top_k, top_p, seed, stop,
             strip_prompt, jit_compile=False):
    """`model.generate`: the exported signature's function, called in process.

    Args:
        generator: the model's `CharSampler`.
        Others: see `GPT.generate`.

    Returns:
        A str (for a str prompt) or a list of str.
    """
    single, prompt_list, settings = check_generate_args(
        prompts, max_length, sampler, temperature, top_k, top_p, seed, stop)
    n = len(prompt_list)
    inputs = {
        "prompt": tf.constant(string_array(prompt_list), tf.string),
        "num_chars": tf.fill([n], max_length),
        "temperature": tf.fill([n], settings["temperature"]),
        "top_k": tf.fill([n], settings["top_k"]),
        "top_p": tf.fill([n], settings["top_p"]),
    }
    if settings["seed"] is not None:
        inputs["seed"] = tf.fill([n], int(settings["seed"]))
    if settings["stop"]:
        inputs["stop"] = tf.constant([settings["stop"]] * n, tf.string)
    key = ("function", jit_compile)
    if key not in generator._functions:
        generator._functions[key] = tf.function(
            generator.serve_function(jit_compile), input_signature=generator.input_signature())
    function = generator._functions[key]
    generator.refresh()
    texts = [t.decode("utf-8", "replace") for t in function(**inputs)["text"].numpy()]
    if not strip_prompt:
        texts = [(p.decode("utf-8", "replace") if isinstance(p, bytes) else p) + t
                 for p, t in zip(prompt_list, texts)]
    return texts[0] if single else texts
