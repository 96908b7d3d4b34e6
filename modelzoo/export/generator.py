"""SavedModel export of a character LSTM that generates text in one call."""

import tensorflow as tf

from modelzoo.export import char_sampling
from modelzoo.export.base import Target, publish
from modelzoo.models.lstm_generator import LstmGenerator

# `top_k`, `top_p`, `seed` and `stop` are optional inputs.
GENERATOR_CONTRACT = char_sampling.generator_contract(
    char_sampling.input_specs(optional=("top_k", "top_p", "seed", "stop"))
)


def check_vocabulary(model, vocabulary):
    """Returns `vocabulary` as a list of str after checking it fits `model`.

    Args:
        model: a `build_lstm_generator` model (an `LstmGenerator`).
        vocabulary: see `char_sampling.check_char_vocabulary`.

    Raises:
        ValueError: on a model of another kind, a size mismatch, a duplicate
            or a multi-character entry.
    """
    if not isinstance(model, LstmGenerator):
        raise ValueError(
            "`model` must be a build_lstm_generator model (an LstmGenerator). "
            f"Received: {type(model).__name__} {model.name!r}"
        )
    if vocabulary is None:
        vocabulary = model.vocabulary
    if vocabulary is None:
        raise ValueError("`vocabulary` is needed: the model holds none (its `vocabulary` is None).")
    return char_sampling.check_char_vocabulary(vocabulary, model.vocab_size)


class _Generator(char_sampling.CharSampler):
    """The in-graph sampling loop over the model's `call_with_cache`."""

    def __init__(self, model, vocabulary, max_chars, max_prompt_chars):
        super().__init__(model, vocabulary, max_chars, max_prompt_chars,
                         optional=("top_k", "top_p", "seed", "stop"))

    def loop(self, request, state, static=False):
        """Steps the LSTM cells from the first prompt character; returns the state.

        `static` is unused: every shape in the loop is static already.
        """
        del static
        batch = tf.shape(request["lengths"])[0]

        def step(t, cache, state):
            token = tf.cast(tf.gather(state[0], t, axis=1), tf.int32)
            logits, cache = self.model.call_with_cache(token, cache)
            return t + 1, cache, self.advance(request, t, logits[:, 1:], state)

        _, _, state = tf.while_loop(
            lambda t, cache, state: self.running(request, t, state), step,
            (tf.constant(0, tf.int64), self.model.empty_cache(batch), state),
        )
        return state


def export_text_generator(model, vocabulary, path, max_chars=2000, max_prompt_chars=1000):
    """Writes a TF Serving SavedModel whose one call generates text.

    The `serving_default` signature takes `prompt` string `[batch]`,
    `num_chars` int32 `[batch]` and `temperature` float32 `[batch]`, and
    the optional `top_k` int32, `top_p` float32, `seed` int32 (each
    `[batch]`) and `stop` string `[batch, num_stops]` (see `char_sampling`:
    left out of a request, they keep today's behaviour), and returns `text`
    string `[batch]`: the continuation only, without the prompt (nor a stop
    string). `generate_xla` is the same signature with the loop compiled by
    XLA. The whole sampling loop runs in the graph (`tf.while_loop`),
    stepping the LSTM cells one character at a time with their states, so
    its cost is linear in prompt plus output length. Rows of a batch may
    have prompts of different lengths: each row reads its own prompt, then
    feeds back its own samples.

    Defined behaviour at the edges:
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
    - The inputs must have the same batch size (InvalidArgument
      otherwise); each optional input has one value per prompt or none.

    A TF Serving REST request names the inputs in each instance:
    `{"instances": [{"prompt": "ROMEO:", "num_chars": 200, "temperature": 0.8}]}`.

    Args:
        model: a `build_lstm_generator` model; dropout is skipped, as at
            inference.
        vocabulary: sequence of str; `vocabulary[i]` is the character of id
            `i`, `vocabulary[0]` the unknown id (its entry is ignored; "" by
            convention). None uses the model's own `vocabulary`.
        path: str. Directory to write; it must be empty or not exist.
        max_chars: int. Cap on `num_chars`. Defaults to `2000`.
        max_prompt_chars: int. Prompt characters read, from the end.
            Defaults to `1000`.

    Returns:
        `path`.

    Raises:
        ValueError: if the vocabulary does not fit the model.
    """
    generator = make_generator(model, vocabulary, max_chars, max_prompt_chars)
    return char_sampling.write_generator_archive(model, generator, path)


def make_generator(model, vocabulary, max_chars=2000, max_prompt_chars=1000):
    """The sampler whose `serve_function()` is exported (and `LstmGenerator.generate` calls).

    Its `generate(prompt, num_chars, temperature, top_k=None, ...)` runs the
    exported loop eagerly or in a `tf.function`; see `export_text_generator`.
    """
    return _Generator(model, check_vocabulary(model, vocabulary), max_chars, max_prompt_chars)


def greedy_generate(model, vocabulary, prompt, num_chars, max_chars=2000, max_prompt_chars=1000,
                    margins=None):
    """Greedy continuation computed the plain way, for checking exports.

    Runs the full model on the prompt plus everything generated so far and
    takes the argmax of the last step, with the same edge rules as
    `export_text_generator` (see `char_sampling.greedy_continuation`).
    """
    vocabulary = check_vocabulary(model, vocabulary)
    return char_sampling.greedy_continuation(
        model, vocabulary, prompt, num_chars, max_chars, max_prompt_chars, margins=margins
    )


class TextGeneratorExport(char_sampling.GeneratorExport):
    """The LSTM generator's export, checked against `greedy_generate`.

    Args: see `char_sampling.GeneratorExport`.

    Example:
        >>> publish(TextGeneratorExport(model, vocabulary), Target("saved_models", "shakespeare"))  # doctest: +SKIP
    """

    make = staticmethod(make_generator)
    export_fn = staticmethod(export_text_generator)
    greedy = staticmethod(greedy_generate)
    CONTRACT = GENERATOR_CONTRACT


def publish_text_generator(
    model, vocabulary, export_dir, name, version=None, example_prompts=None, example_chars=20,
    max_chars=2000, max_prompt_chars=1000, timeout=600, rtol=1e-5, atol=1e-6, card=None,
):
    """`publish` of `TextGeneratorExport(model, vocabulary, ...)`."""
    module = TextGeneratorExport(model, vocabulary, example_prompts, example_chars, max_chars,
                                 max_prompt_chars, rtol, atol)
    return publish(module, Target(export_dir, name, version), card, timeout)
