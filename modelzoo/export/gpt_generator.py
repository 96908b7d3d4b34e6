"""SavedModel export of a character GPT that generates text in one call.

The sampling loop runs in the graph with a key/value cache: each step feeds
one token through the decoder blocks and attends to the cached keys and
values, so a step costs O(window) instead of re-running the model on the
whole window (O(window²)).

The context is a window of at most `sequence_length` (L) tokens, the
model's position range. When the cache is full, it is rebuilt from the last
`L // 2` tokens (positions 0..L/2-1) in one batched pass and generation
continues from there. So the token read at step t sees the tokens since
the last rebuild: between L/2 + 1 and L of the latest tokens. A rebuild
costs one forward pass over L/2 tokens every L/2 steps, so the cost per
step stays bounded whatever the length of the text. `greedy_generate_gpt`
applies the same window rule with the plain Keras model.

The loop runs in segments, one per cache: a segment prefills a fresh cache
in one pass (`call_with_cache` on many tokens: the prompt for the first
segment, the kept tokens after a rebuild), then steps one token at a time
until the cache is full or every row is done, with no branch in the step.
Each attention's query, key and value projections are fused into one
matmul whose weights the generator holds in variables (`refresh` copies
them from the model), so a step reads them as it reads any weight: a
tensor computed outside the loop would instead be carried from step to
step by the loop (TensorFlow's `while_loop` passes captured tensors as
loop variables), which costs more kernels than the read.

Speed (`benchmarks/gpt_generation_profile.py`): `serving_default` runs the
graph kernel by kernel, so its cost is the kernels per step (measured with
a traced session: 788 before this design, 562 now, at the recipe's
defaults). `generate_xla` compiles the same loop with XLA into a few fused
kernels, about 10× faster again; it needs `--xla_cpu_compilation_enabled`
on TF Serving, and `model.generate(..., jit_compile=True)` runs it in
process.
"""

import contextlib

import numpy as np
import tensorflow as tf

from modelzoo.export import char_sampling
from modelzoo.export.base import Target, publish
from modelzoo.models.gpt import GPT

# `top_k` is required, as it always was; `top_p`, `seed` and `stop` are optional.
GPT_GENERATOR_CONTRACT = char_sampling.generator_contract(
    char_sampling.input_specs(required_extra=("top_k",))
)


def is_gpt(model):
    """Whether `model` is a `build_gpt` model (a `GPT`, which owns `call_with_cache`)."""
    return isinstance(model, GPT)


def check_vocabulary(model, vocabulary):
    """Returns `vocabulary` as a list of str after checking it fits `model`.

    Args:
        model: a `build_gpt` model.
        vocabulary: see `char_sampling.check_char_vocabulary`.

    Returns:
        A list of str.

    Raises:
        ValueError: on a size mismatch, a duplicate or a multi-character entry.
    """
    if not is_gpt(model):
        raise ValueError(
            f"`model` must be a build_gpt model (a GPT). Received: {type(model).__name__} "
            f"{model.name!r}"
        )
    if vocabulary is None:
        vocabulary = model.vocabulary
    if vocabulary is None:
        raise ValueError("`vocabulary` is needed: the model holds none (its `vocabulary` is None).")
    vocabulary = char_sampling.check_char_vocabulary(vocabulary, model.vocab_size)
    if model.sequence_length < 2:
        raise ValueError(
            "The model's `sequence_length` must be at least 2 to generate. "
            f"Received: sequence_length={model.sequence_length}"
        )
    return vocabulary


def window_starts(num_steps, window):
    """The first token of the context at each step (see the module doc).

    Args:
        num_steps: int. Number of steps (tokens read).
        window: int. The model's `sequence_length`.

    Returns:
        A list: step t reads tokens `[starts[t], t]`.
    """
    keep, begin, starts = window // 2, 0, []
    for t in range(num_steps):
        if t - begin == window:
            begin = t - keep
        starts.append(begin)
    return starts


class _GptGenerator(char_sampling.CharSampler):
    """The in-graph sampling loop over the model's `call_with_cache`.

    Steps run in segments: a segment starts by prefilling a fresh cache in
    one pass with the context's tokens so far (the prompt for the first, the
    last `keep` tokens after a rebuild), then steps one token at a time
    until the cache is full (see the module doc). A segment's loop has no
    branch for the rebuild, so a step is only the model's cached step and
    the sampler's.
    """

    def __init__(self, model, vocabulary, max_chars, max_prompt_chars):
        super().__init__(model, vocabulary, max_chars, max_prompt_chars, required_extra=("top_k",))
        self.window = model.sequence_length
        self.keep = self.window // 2
        # Variables holding each attention's fused projections: a step reads
        # them (as it reads any weight) instead of rebuilding them from the
        # separate query, key and value kernels. A captured tensor would cost
        # more: the loop would carry it from step to step.
        self.attentions = [decoder.attention for decoder in model.decoders]
        self.decoding_weights = [
            {name: tf.Variable(value, trainable=False, name=f"decoding_{name}")
             for name, value in attention.decoding_weights().items() if value is not None}
            for attention in self.attentions
        ]
        for weights in self.decoding_weights:
            weights.setdefault("qkv_bias", None)
            weights.setdefault("output_bias", None)

    def segment(self, t):
        """`(begin, end)`: the first token of step t's context, and the next rebuild."""
        window, stride = self.window, self.window - self.keep
        last_rebuild = window + (t - window) // stride * stride
        begin = tf.where(t < window, tf.zeros_like(t), last_rebuild - self.keep)
        end = tf.where(t < window, tf.fill(tf.shape(t), tf.constant(window, t.dtype)),
                       last_rebuild + stride)
        return begin, end

    def prefill(self, history, begin, t, static):
        """A cache holding the tokens `[begin, t)` of `history` at positions 0, 1, ...

        With `static` (under XLA, which needs static shapes) it prefills a
        whole window from `begin`: the tokens from t on are written too, but
        no step attends to them before it overwrites them.
        """
        batch = tf.shape(history)[0]
        cache = self.model.empty_cache(batch)
        if static:
            padded = tf.pad(history, [[0, 0], [0, self.window]])
            columns = begin + tf.range(self.window, dtype=begin.dtype)
            tokens = tf.gather(padded, columns, axis=1)
            return self.model.call_with_cache(tf.cast(tokens, tf.int32), cache, 0)[1]
        tokens = tf.cast(history[:, begin:t], tf.int32)
        return tf.cond(
            t > begin,
            lambda: self.model.call_with_cache(tokens, cache, 0)[1],
            lambda: cache,
        )

    def variables(self):
        return [v for weights in self.decoding_weights for v in weights.values() if v is not None]

    def refresh(self):
        """Copies the attention layers' fused weights into `decoding_weights`.

        The export copies them once; `GPT.generate` before every call, so a
        model trained further generates with its current weights.
        """
        for attention, weights in zip(self.attentions, self.decoding_weights):
            for name, value in attention.decoding_weights().items():
                if value is not None:
                    weights[name].assign(value)

    def loop(self, request, state, static=False):
        """Runs the steps from `request["start"]` on; returns the final state.

        `static`: prefill whole windows (static shapes, for XLA).
        """

        def segment(t, state):
            begin, end = self.segment(t)
            cache = self.prefill(state[0], begin, t, static)

            def step(t, cache, state):
                token = tf.cast(tf.gather(state[0], t, axis=1), tf.int32)
                position = tf.cast(t - begin, tf.int32)
                logits, cache = self.model.call_with_cache(token[:, None], cache, position)
                return t + 1, cache, self.advance(request, t, logits[:, 0, 1:], state)

            t, _, state = tf.while_loop(
                lambda t, cache, state: (t < end) & self.running(request, t, state),
                step, (t, cache, state),
            )
            return t, state

        with contextlib.ExitStack() as stack:
            for attention, weights in zip(self.attentions, self.decoding_weights):
                stack.enter_context(attention.hoisted_weights(weights))
            _, state = tf.while_loop(
                lambda t, state: self.running(request, t, state), segment,
                (tf.cast(request["start"], tf.int64), state),
            )
        return state


def make_gpt_generator(model, vocabulary, max_chars=2000, max_prompt_chars=1000):
    """The sampler whose `serve_function()` is exported (and `GPT.generate` calls).

    Its `generate(prompt, num_chars, temperature, top_k, top_p=None,
    seed=None, stop=None)` runs the exported loop eagerly or in a
    `tf.function`; see `export_gpt_generator`. `vocabulary` None uses the
    model's own.
    """
    return _GptGenerator(model, check_vocabulary(model, vocabulary), max_chars, max_prompt_chars)


def export_gpt_generator(model, vocabulary, path, max_chars=2000, max_prompt_chars=1000):
    """Writes a TF Serving SavedModel whose one call generates text.

    The `serving_default` signature takes `prompt` string `[batch]`,
    `num_chars` int32 `[batch]`, `temperature` float32 `[batch]` and
    `top_k` int32 `[batch]`, and the optional `top_p` float32 `[batch]`,
    `seed` int32 `[batch]` and `stop` string `[batch, num_stops]` (see
    `char_sampling`: left out of a request, they keep today's behaviour),
    and returns `text` string `[batch]`: the continuation only, without the
    prompt, and without the stop string a row ended on. `generate_xla` is
    the same signature with the loop compiled by XLA. The whole loop runs in the graph
    (`tf.while_loop`) with a key/value cache and a bounded context window
    (see the module docstring). Rows of a batch may have prompts of
    different lengths: each row reads its own prompt, then feeds back its
    own samples.

    Defined behaviour at the edges: as `export_text_generator`'s (reading
    the prompt, an empty prompt, the `num_chars` cap, `temperature`), and:
    - `top_k` > 0 samples only among the `top_k` largest logits (ties with
      the k-th are kept); ≤ 0 or ≥ the vocabulary size is no restriction.
      Greedy rows ignore it.
    - `top_p` in (0, 1], `seed` ≥ 0 and non-empty `stop` strings, else
      InvalidArgument naming the input; each optional input has one value
      per prompt or none.
    - The inputs must have the same batch size (InvalidArgument otherwise).

    A TF Serving REST request names the inputs in each instance:
    `{"instances": [{"prompt": "ROMEO:", "num_chars": 200, "temperature": 0.8, "top_k": 10}]}`,
    optionally with `"top_p": 0.9, "seed": 1, "stop": ["\n\n"]`.

    Args:
        model: a built `build_gpt` model; dropout is skipped, as at inference.
        vocabulary: see `export_text_generator`; None uses the model's own.
        path, max_chars, max_prompt_chars: see `export_text_generator`.

    Returns:
        `path`.

    Raises:
        ValueError: if the vocabulary does not fit the model.
    """
    generator = make_gpt_generator(model, vocabulary, max_chars, max_prompt_chars)
    return char_sampling.write_generator_archive(model, generator, path)


def greedy_generate_gpt(
    model, vocabulary, prompt, num_chars, max_chars=2000, max_prompt_chars=1000, margins=None
):
    """Greedy continuation computed the plain way, for checking exports.

    Runs the full Keras model (no cache) on each step's context window, as
    `window_starts` defines it, and takes the argmax of the last position,
    with the same edge rules as `export_gpt_generator` (see
    `char_sampling.greedy_continuation`).
    """
    vocabulary = check_vocabulary(model, vocabulary)
    return char_sampling.greedy_continuation(
        model, vocabulary, prompt, num_chars, max_chars, max_prompt_chars,
        lambda num_steps: window_starts(num_steps, model.sequence_length), margins,
    )


class GptGeneratorExport(char_sampling.GeneratorExport):
    """The GPT generator's export, checked against `greedy_generate_gpt` with `top_k` 0.

    Args: see `char_sampling.GeneratorExport`.

    Example:
        >>> publish(GptGeneratorExport(model, vocabulary), Target("saved_models", "gpt"))  # doctest: +SKIP
    """

    make = staticmethod(make_gpt_generator)
    export_fn = staticmethod(export_gpt_generator)
    greedy = staticmethod(greedy_generate_gpt)
    CONTRACT = GPT_GENERATOR_CONTRACT
    EXTRA_EXAMPLE = {"top_k": np.int32(0)}


def publish_gpt_generator(
    model, vocabulary, export_dir, name, version=None, example_prompts=None, example_chars=20,
    max_chars=2000, max_prompt_chars=1000, timeout=600, card=None,
):
    """`publish` of `GptGeneratorExport(model, vocabulary, ...)`."""
    module = GptGeneratorExport(model, vocabulary, example_prompts, example_chars, max_chars,
                                max_prompt_chars)
    return publish(module, Target(export_dir, name, version), card, timeout)
