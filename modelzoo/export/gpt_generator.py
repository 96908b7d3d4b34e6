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
"""

import keras
import numpy as np
import tensorflow as tf

from modelzoo.export.char_sampling import (
    CharSampler,
    check_char_vocabulary,
    check_limits,
    plain_prompt_ids,
    publish_generator,
    write_generator_archive,
)
from modelzoo.models.gpt import GPT

GPT_GENERATOR_CONTRACT = {
    "inputs": {
        "prompt": {"dtype": "string", "shape": [None]},
        "num_chars": {"dtype": "int32", "shape": [None]},
        "temperature": {"dtype": "float32", "shape": [None]},
        "top_k": {"dtype": "int32", "shape": [None]},
    },
    "outputs": {"text": {"dtype": "string", "shape": [None]}},
}


def is_gpt(model):
    """Whether `model` is a `build_gpt` model (a `GPT`, which owns `call_with_cache`)."""
    return isinstance(model, GPT)


def check_vocabulary(model, vocabulary):
    """Returns `vocabulary` as a list of str after checking it fits `model`.

    Args:
        model: a `build_gpt` model.
        vocabulary: sequence of str; `vocabulary[0]` is the unknown id and
            every other entry is one character (one code point), all distinct.

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
    vocabulary = check_char_vocabulary(vocabulary, model.vocab_size, model.vocab_size)
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


class _GptGenerator(CharSampler):
    """The in-graph sampling loop over the model's `call_with_cache`."""

    def __init__(self, model, vocabulary, max_chars, max_prompt_chars):
        super().__init__(vocabulary, max_chars, max_prompt_chars)
        self.model = model
        self.window = model.sequence_length
        self.keep = self.window // 2

    def prefill(self, ids):
        """The cache for `ids` `[batch, n]` at positions 0..n-1."""
        cache = self.model.empty_cache(tf.shape(ids)[0])
        return self.model.call_with_cache(ids, cache, 0)[1]

    def generate(self, prompt, num_chars, temperature, top_k):
        """See `export_gpt_generator`."""
        prompt, inputs = self.checked(
            prompt, num_chars=num_chars, temperature=temperature, top_k=top_k
        )
        batch = tf.shape(prompt)[0]
        ids, lengths = self.prompt_ids(prompt)
        width = tf.shape(ids, out_type=tf.int64)[1]
        first, count, steps = self.schedule(lengths, inputs["num_chars"])
        settings = self.sampling(inputs["temperature"], inputs["top_k"])

        def refresh(pos, window_ids, cache):
            kept = window_ids[:, self.window - self.keep :]
            padded = tf.pad(kept, [[0, 0], [0, self.window - self.keep]])
            return tf.constant(self.keep, tf.int32), padded, self.prefill(kept)

        def body(t, pos, token, window_ids, cache, text):
            pos, window_ids, cache = tf.cond(
                pos == self.window,
                lambda: refresh(pos, window_ids, cache),
                lambda: (pos, window_ids, cache),
            )
            prompt_token = tf.gather(ids, tf.minimum(t, width - 1), axis=1)
            current = tf.where(t < lengths, prompt_token, token)
            logits, cache = self.model.call_with_cache(current[:, None], cache, pos)
            window_ids = tf.where(
                tf.range(self.window)[None, :] == pos, current[:, None], window_ids
            )
            token = self.next_token(logits[:, 0, 1:], settings)
            text = self.emit(text, t, first, count, token)
            return t + 1, pos + 1, token, window_ids, cache, text

        start = (
            tf.constant(0, tf.int64),
            tf.constant(0, tf.int32),
            tf.zeros([batch], tf.int64),
            tf.zeros([batch, self.window], tf.int64),
            self.model.empty_cache(batch),
            tf.fill([batch], ""),
        )
        result = tf.while_loop(lambda t, *_: t < steps, body, start)
        return {"text": result[-1]}


def make_gpt_generator(model, vocabulary, max_chars=2000, max_prompt_chars=1000):
    """The object whose `generate(prompt, num_chars, temperature, top_k)` is exported.

    Useful to run the exported loop eagerly; see `export_gpt_generator`.
    """
    vocabulary = check_vocabulary(model, vocabulary)
    check_limits(max_chars, max_prompt_chars)
    return _GptGenerator(model, vocabulary, max_chars, max_prompt_chars)


def export_gpt_generator(model, vocabulary, path, max_chars=2000, max_prompt_chars=1000):
    """Writes a TF Serving SavedModel whose one call generates text.

    The `serving_default` signature takes `prompt` string `[batch]`,
    `num_chars` int32 `[batch]`, `temperature` float32 `[batch]` and
    `top_k` int32 `[batch]`, and returns `text` string `[batch]`: the
    continuation only, without the prompt. The whole loop runs in the graph
    (`tf.while_loop`) with a key/value cache and a bounded context window
    (see the module docstring). Rows of a batch may have prompts of
    different lengths: each row reads its own prompt, then feeds back its
    own samples.

    Defined behaviour at the edges (as `export_text_generator`'s):
    - The prompt is split into Unicode characters; invalid UTF-8 bytes become
      U+FFFD. Characters not in the vocabulary read as id 0 (unknown).
    - Only the last `max_prompt_chars` characters of a prompt are read.
    - An empty prompt reads as the single unknown id 0.
    - `num_chars` ≤ 0 gives ""; more than `max_chars` is capped at
      `max_chars`. The unknown id 0 is never generated, so the text has
      exactly `min(num_chars, max_chars)` characters.
    - `temperature` ≤ 0 (or -inf) is greedy argmax, deterministic;
      > 0 samples from `softmax(logits / temperature)` (+inf is uniform);
      NaN fails the call with InvalidArgument.
    - `top_k` > 0 samples only among the `top_k` largest logits (ties with
      the k-th are kept); ≤ 0 or ≥ the vocabulary size is no restriction.
      Greedy rows ignore it.
    - The four inputs must have the same batch size (InvalidArgument
      otherwise).

    A TF Serving REST request names the inputs in each instance:
    `{"instances": [{"prompt": "ROMEO:", "num_chars": 200, "temperature": 0.8, "top_k": 10}]}`.

    Args:
        model: a built `build_gpt` model; dropout is skipped, as at inference.
        vocabulary: sequence of str; `vocabulary[i]` is the character of id
            `i`, `vocabulary[0]` the unknown id (its entry is ignored).
        path: str. Directory to write; it must be empty or not exist.
        max_chars: int. Cap on `num_chars`. Defaults to `2000`.
        max_prompt_chars: int. Prompt characters read, from the end.
            Defaults to `1000`.

    Returns:
        `path`.

    Raises:
        ValueError: if the vocabulary does not fit the model.
    """
    generator = make_gpt_generator(model, vocabulary, max_chars, max_prompt_chars)
    return write_generator_archive(model, generator, path, [("top_k", tf.int32)])


def greedy_generate_gpt(
    model, vocabulary, prompt, num_chars, max_chars=2000, max_prompt_chars=1000
):
    """Greedy continuation computed the plain way, for checking exports.

    Runs the full Keras model (no cache) on each step's context window, as
    `window_starts` defines it, and takes the argmax of the last position,
    with the same edge rules as `export_gpt_generator`.

    Args:
        model: the in-memory `build_gpt` model.
        vocabulary: see `export_gpt_generator`.
        prompt: str or bytes.
        num_chars: int.
        max_chars: int. Cap on `num_chars`.
        max_prompt_chars: int. Prompt characters read, from the end.

    Returns:
        The continuation, a str.
    """
    vocabulary = check_vocabulary(model, vocabulary)
    window = model.sequence_length
    ids = plain_prompt_ids(vocabulary, prompt, max_prompt_chars)
    count = min(max(num_chars, 0), max_chars)
    first = len(ids) - 1
    text = []
    starts = window_starts(first + count, window)
    for t in range(first, first + count):
        context = np.asarray([ids[starts[t] : t + 1]], "int32")
        logits = keras.ops.convert_to_numpy(model(context, training=False))[0, -1]
        # Id 0 (unknown) is never generated, as in the export.
        token = 1 + int(np.argmax(logits[1:]))
        ids.append(token)
        text.append(vocabulary[token])
    return "".join(text)


def publish_gpt_generator(
    model,
    vocabulary,
    export_dir,
    name,
    version=None,
    example_prompts=None,
    example_chars=20,
    max_chars=2000,
    max_prompt_chars=1000,
    timeout=600,
    card=None,
):
    """Exports, verifies in a fresh process and publishes a GPT generator.

    The check compares greedy (temperature 0) output of the SavedModel with
    `greedy_generate_gpt` on the in-memory model.

    Args:
        model: see `export_gpt_generator`.
        vocabulary: see `export_gpt_generator`.
        export_dir: str. Root of the TF Serving model base paths.
        name: str. Model name; the export lands in `export_dir/name/version`.
        version: positive int or None for the next free version.
        example_prompts: sequence of str to check with; defaults to an empty
            prompt and two made of the vocabulary.
        example_chars: int. Characters generated per example prompt.
        max_chars: see `export_gpt_generator`.
        max_prompt_chars: see `export_gpt_generator`.
        timeout: float. Seconds allowed for the verification process.
        card: dict of the model card's facts (see `model_card.build_card`),
            or None.

    Returns:
        The path of the published version directory.
    """
    make_gpt_generator(model, vocabulary, max_chars, max_prompt_chars)
    return publish_generator(
        lambda path: export_gpt_generator(model, vocabulary, path, max_chars, max_prompt_chars),
        lambda prompt, count: greedy_generate_gpt(
            model, vocabulary, prompt, count, max_chars, max_prompt_chars
        ),
        vocabulary,
        export_dir,
        name,
        GPT_GENERATOR_CONTRACT,
        version=version,
        example_prompts=example_prompts,
        example_chars=example_chars,
        extra_example={"top_k": np.int32(0)},
        timeout=timeout,
        model=model,
        card=card,
    )
