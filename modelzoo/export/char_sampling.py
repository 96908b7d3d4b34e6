"""What the in-graph character generators (LSTM and GPT) share.

The character tables, reading the prompt, checking the request, the step
schedule, sampling, the plain greedy check, writing the archive and
publishing (each generator is a `GeneratorKind`).
Each generator adds only its model step: `export/generator.py` steps LSTM
cells, `export/gpt_generator.py` steps cached decoder blocks.
"""

import collections

import keras
import numpy as np
import tensorflow as tf

from modelzoo.export.archive import write_archive
from modelzoo.export.publish import publish, string_array
from modelzoo.text import chars


def check_char_vocabulary(vocabulary, vocab_size, embedding_size):
    """Returns `vocabulary` as a list of str after checking it fits a model.

    Args:
        vocabulary: sequence of str; `vocabulary[0]` is the unknown id and
            every other entry is one character (one code point), all distinct.
        vocab_size: int. The model's number of logits.
        embedding_size: int. The model's number of token ids.

    Raises:
        ValueError: on a size mismatch, a duplicate or a multi-character entry.
    """
    vocabulary = list(vocabulary)
    if len(vocabulary) < 2:
        raise ValueError("`vocabulary` needs the unknown id 0 and at least one character.")
    if len(vocabulary) != vocab_size or embedding_size != vocab_size:
        raise ValueError(
            f"`vocabulary` has {len(vocabulary)} entries but the model has "
            f"{vocab_size} logits; they must match."
        )
    letters = vocabulary[1:]
    single = all(isinstance(c, str) and len(c) == 1 for c in letters)
    if not single or len(set(letters)) != len(letters):
        raise ValueError("`vocabulary[1:]` must be distinct single characters (code points).")
    return vocabulary


# The inputs every generator's `serving_default` takes, each `[batch]`.
GENERATOR_INPUTS = (("prompt", tf.string), ("num_chars", tf.int32), ("temperature", tf.float32))


def generator_contract(extra_inputs=()):
    """The signature contract (see `verify.check_signature`) of a generator.

    Args:
        extra_inputs: `(name, tf.DType)` pairs after `GENERATOR_INPUTS`.
    """
    return {
        "inputs": {
            name: {"dtype": dtype.name, "shape": [None]}
            for name, dtype in [*GENERATOR_INPUTS, *extra_inputs]
        },
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
    model, vocabulary, prompt, num_chars, max_chars, max_prompt_chars, context_starts=None
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
        ids.append(token)
        text.append(vocabulary[token])
    return "".join(text)


class CharSampler:
    """The character tables and the model-independent parts of the loop.

    Keeping the lookup table on an object lets the export track it.
    """

    def __init__(self, model, vocabulary, max_chars, max_prompt_chars):
        check_limits(max_chars, max_prompt_chars)
        self.model = model
        self.max_chars = max_chars
        self.max_prompt_chars = max_prompt_chars
        # Id 0 is never emitted; "" keeps the gather total.
        self.id_to_char = tf.constant([""] + vocabulary[1:], tf.string)
        self.char_to_id = chars.char_table(vocabulary)
        # Id 0 (unknown) is never generated: V - 1 candidates.
        self.candidates = len(vocabulary) - 1

    def prompt_ids(self, prompt):
        """Prompt ids `[batch, width]` (0-padded, width ≥ 1) and lengths ≥ 1."""
        ids = chars.char_ids(self.char_to_id, prompt)[:, -self.max_prompt_chars :]
        lengths = ids.row_lengths()
        ids = ids.to_tensor(default_value=0)
        # An empty prompt is read as the single unknown id 0; the extra
        # column makes that work even when every prompt is empty.
        ids = tf.pad(ids, [[0, 0], [0, 1]])
        return ids, tf.maximum(lengths, 1)

    def checked(self, prompt, **per_prompt):
        """The request's tensors, with one value per prompt and no NaN temperature.

        Signatures do not enforce shapes, so a rank or batch mismatch and a
        NaN temperature are InvalidArgument errors here.
        """
        prompt = tf.ensure_shape(prompt, [None])
        values = {name: tf.ensure_shape(v, [None]) for name, v in per_prompt.items()}
        batch = tf.shape(prompt)[0]
        checks = [
            tf.debugging.assert_equal(
                tf.shape(value)[0], batch, message=f"{name} needs one value per prompt"
            )
            for name, value in values.items()
        ]
        checks.append(
            tf.debugging.Assert(
                tf.reduce_all(tf.logical_not(tf.math.is_nan(values["temperature"]))),
                ["temperature must not be NaN"],
            )
        )
        # Every input waits for the checks, so no loop op reads a mismatched
        # tensor (and fails with its own message) before they have run.
        with tf.control_dependencies(checks):
            prompt = tf.identity(prompt)
            values = {name: tf.identity(value) for name, value in values.items()}
        return prompt, values

    def schedule(self, lengths, num_chars):
        """`(first, count, steps)` of the loop.

        Row i reads its prompt at steps 0..len_i-1; the step reading the last
        prompt char yields the first new char, so it needs len_i + count_i - 1
        steps, none when count_i is 0.
        """
        count = tf.cast(tf.clip_by_value(num_chars, 0, self.max_chars), tf.int64)
        first = lengths - 1
        steps = tf.reduce_max(tf.concat([tf.where(count > 0, first + count, 0), [0]], 0))
        return first, count, steps

    def sampling(self, temperature, top_k=None):
        """Per-row sampling settings, computed once before the loop."""
        sample = temperature > 0
        # Greedy rows never use it; 1 keeps their division finite.
        scale = tf.where(sample, temperature, tf.ones_like(temperature))[:, None]
        if top_k is None:
            return sample, scale, None, None
        k = tf.clip_by_value(top_k, 0, self.candidates)
        return sample, scale, k > 0, tf.maximum(k, 1) - 1

    def next_token(self, logits, settings):
        """Samples (or takes the argmax of) `logits` over ids 1..V-1.

        Returns the token ids, never 0, so every step adds a character.
        """
        sample, scale, use_k, kth = settings
        greedy = tf.argmax(logits, axis=-1, output_type=tf.int64)
        # Subtracting the max first keeps tiny temperatures from overflowing
        # to +inf (NaN inside the softmax).
        scaled = (logits - tf.reduce_max(logits, axis=-1, keepdims=True)) / scale
        if use_k is not None:
            # Top-k keeps the logits ≥ the k-th largest (ties included).
            threshold = tf.gather(
                tf.sort(logits, axis=-1, direction="DESCENDING"), kth, batch_dims=1
            )
            allowed = tf.logical_or(~use_k[:, None], logits >= threshold[:, None])
            scaled = tf.where(allowed, scaled, -np.inf)
        drawn = tf.random.categorical(scaled, 1, dtype=tf.int64)[:, 0]
        # The clip guards against the out-of-range id a NaN row can draw.
        drawn = tf.clip_by_value(drawn, 0, self.candidates - 1)
        return tf.where(sample, drawn, greedy) + 1

    def emit(self, text, t, first, count, token):
        """Appends each row's new character while it is in its output range."""
        emit = (t >= first) & (t < first + count)
        return text + tf.where(emit, tf.gather(self.id_to_char, token), "")


def write_generator_archive(model, generator, path, extra_inputs=()):
    """Writes the `serving_default` of `generator.generate` as a SavedModel.

    Args:
        model: the Keras model whose variables the loop uses.
        generator: a `CharSampler` subclass with `generate`.
        path: str. Directory to write.
        extra_inputs: `(name, tf.DType)` pairs after `GENERATOR_INPUTS`.

    Returns:
        `path`.
    """
    inputs = [(name, dtype, [None]) for name, dtype in [*GENERATOR_INPUTS, *extra_inputs]]
    # The lookup table is a resource the archive must track.
    return write_archive(path, model, generator.generate, inputs, [generator.char_to_id])


# What `publish_generator` needs of a generator kind: its `make_*`,
# `export_*` and greedy check functions, its signature contract, and the
# example values of its inputs beyond prompt, num_chars and temperature.
GeneratorKind = collections.namedtuple(
    "GeneratorKind", ["make", "export", "greedy", "contract", "extra_example"]
)


def publish_generator(
    kind, model, vocabulary, export_dir, name, version=None, example_prompts=None,
    example_chars=20, max_chars=2000, max_prompt_chars=1000, timeout=600, rtol=1e-5,
    atol=1e-6, card=None,
):
    """Exports, verifies in a fresh process and publishes a character generator.

    The check compares greedy (temperature 0) output of the SavedModel with
    `kind.greedy` on the in-memory model.

    Args:
        kind: a `GeneratorKind`.
        model, vocabulary, max_chars, max_prompt_chars: see `kind.export`.
        export_dir, name, version, timeout, rtol, atol, card: see
            `publish.publish`.
        example_prompts: sequence of str to check with; defaults to an empty
            prompt and two made of the vocabulary.
        example_chars: int. Characters generated per example prompt.

    Returns:
        The path of the published version directory.
    """
    kind.make(model, vocabulary, max_chars, max_prompt_chars)
    limits = (max_chars, max_prompt_chars)
    if example_prompts is None:
        letters = "".join(vocabulary[1:])
        example_prompts = ["", letters[:3], letters[::-1][:7]]
    prompts = string_array(example_prompts)
    texts = string_array(
        [kind.greedy(model, vocabulary, p, example_chars, *limits) for p in prompts]
    )
    example = {
        "prompt": prompts,
        "num_chars": np.full(len(prompts), example_chars, "int32"),
        "temperature": np.zeros(len(prompts), "float32"),
    }
    for key, value in kind.extra_example.items():
        example[key] = np.full(len(prompts), value, np.asarray(value).dtype)
    return publish(
        lambda path: kind.export(model, vocabulary, path, *limits), export_dir, name,
        version=version, contract=kind.contract, example=example, expected={"text": texts},
        timeout=timeout, rtol=rtol, atol=atol, model=model, card=card,
    )
