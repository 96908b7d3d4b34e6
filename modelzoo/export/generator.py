"""SavedModel export of a character LSTM that generates text in one call."""

import keras
import numpy as np
import tensorflow as tf

from modelzoo.export.publish import publish

GENERATOR_CONTRACT = {
    "inputs": {
        "prompt": {"dtype": "string", "shape": [None]},
        "num_chars": {"dtype": "int32", "shape": [None]},
        "temperature": {"dtype": "float32", "shape": [None]},
    },
    "outputs": {"text": {"dtype": "string", "shape": [None]}},
}


def check_vocabulary(model, vocabulary):
    """Returns `vocabulary` as a list of str after checking it fits `model`.

    Args:
        model: a `build_lstm_generator` model.
        vocabulary: sequence of str; `vocabulary[0]` is the unknown id and
            every other entry is one character (one code point), all distinct.

    Returns:
        A list of str.

    Raises:
        ValueError: on a size mismatch, a duplicate or a multi-character entry.
    """
    vocabulary = list(vocabulary)
    vocab_size = model.get_layer("logits").units
    if len(vocabulary) < 2:
        raise ValueError("`vocabulary` needs the unknown id 0 and at least one character.")
    if len(vocabulary) != vocab_size or model.get_layer("embedding").input_dim != vocab_size:
        raise ValueError(
            f"`vocabulary` has {len(vocabulary)} entries but the model has "
            f"{vocab_size} logits; they must match."
        )
    chars = vocabulary[1:]
    if not all(isinstance(c, str) and len(c) == 1 for c in chars) or len(set(chars)) != len(chars):
        raise ValueError(
            "`vocabulary[1:]` must be distinct single characters (code points)."
        )
    return vocabulary


def lstm_cells(model):
    """Returns the cells of the layers `lstm_0`, `lstm_1`, ... in order."""
    cells = []
    names = {layer.name for layer in model.layers}
    while f"lstm_{len(cells)}" in names:
        layer = model.get_layer(f"lstm_{len(cells)}")
        if layer.go_backwards or not layer.return_sequences:
            raise ValueError(f"`{layer.name}` must run forwards and return sequences.")
        cells.append(layer.cell)
    if not cells:
        raise ValueError("The model has no layer named `lstm_0`.")
    return cells


class _Generator:
    """The in-graph sampling loop over stepped LSTM cells.

    Keeping the lookup table on an object lets the export track it.
    """

    def __init__(self, model, vocabulary, max_chars, max_prompt_chars):
        self.embedding = model.get_layer("embedding")
        self.cells = lstm_cells(model)
        self.logits = model.get_layer("logits")
        self.max_chars = max_chars
        self.max_prompt_chars = max_prompt_chars
        # Id 0 is never emitted; "" keeps the gather total.
        self.id_to_char = tf.constant([""] + vocabulary[1:], tf.string)
        self.char_to_id = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(vocabulary[1:], tf.string),
                tf.range(1, len(vocabulary), dtype=tf.int64),
            ),
            default_value=0,
        )

    def prompt_ids(self, prompt):
        """Prompt ids `[batch, width]` (0-padded, width ≥ 1) and lengths ≥ 1."""
        # Bad UTF-8 becomes U+FFFD, which is unknown (id 0) unless in the vocabulary.
        chars = tf.strings.unicode_split(prompt, "UTF-8", errors="replace")
        chars = chars[:, -self.max_prompt_chars :]
        ids = self.char_to_id.lookup(chars).to_tensor(default_value=0)
        # An empty prompt is read as the single unknown id 0; the extra
        # column makes that work even when every prompt is empty.
        ids = tf.pad(ids, [[0, 0], [0, 1]])
        return ids, tf.maximum(chars.row_lengths(), 1)

    def generate(self, prompt, num_chars, temperature):
        """See `export_text_generator`."""
        # Signatures do not enforce shapes; a rank mismatch is InvalidArgument here.
        prompt, num_chars, temperature = (
            tf.ensure_shape(x, [None]) for x in (prompt, num_chars, temperature)
        )
        batch = tf.shape(prompt)[0]
        checks = [
            tf.debugging.assert_equal(
                tf.shape(num_chars)[0], batch, message="num_chars needs one value per prompt"
            ),
            tf.debugging.assert_equal(
                tf.shape(temperature)[0], batch, message="temperature needs one value per prompt"
            ),
            tf.debugging.Assert(
                tf.reduce_all(tf.logical_not(tf.math.is_nan(temperature))),
                ["temperature must not be NaN"],
            ),
        ]
        with tf.control_dependencies(checks):
            temperature = tf.identity(temperature)
        ids, lengths = self.prompt_ids(prompt)
        width = tf.shape(ids, out_type=tf.int64)[1]
        count = tf.cast(tf.clip_by_value(num_chars, 0, self.max_chars), tf.int64)
        # Row i reads its prompt at steps 0..len_i-1; the step reading the
        # last prompt char yields the first new char, so it needs
        # len_i + count_i - 1 steps, none when count_i is 0.
        first = lengths - 1
        steps = tf.reduce_max(tf.concat([tf.where(count > 0, first + count, 0), [0]], 0))
        sample = temperature > 0
        # Greedy rows never use it; 1 keeps their division finite.
        scale = tf.where(sample, temperature, tf.ones_like(temperature))[:, None]

        def body(t, token, states, text):
            prompt_token = tf.gather(ids, tf.minimum(t, width - 1), axis=1)
            x = self.embedding(tf.where(t < lengths, prompt_token, token))
            new_states = []
            for cell, state in zip(self.cells, states):
                x, state = cell(x, state, training=False)
                new_states.append(state)
            # Id 0 (unknown) is never generated, so every step adds a character.
            logits = tf.cast(self.logits(x), tf.float32)[:, 1:]
            greedy = tf.argmax(logits, axis=-1, output_type=tf.int64)
            # Subtracting the max first keeps tiny temperatures from
            # overflowing to +inf (NaN inside the softmax); the clip guards
            # against the out-of-range id a NaN row can draw.
            scaled = (logits - tf.reduce_max(logits, axis=-1, keepdims=True)) / scale
            drawn = tf.random.categorical(scaled, 1, dtype=tf.int64)[:, 0]
            drawn = tf.clip_by_value(drawn, 0, tf.cast(tf.shape(logits)[1], tf.int64) - 1)
            token = tf.where(sample, drawn, greedy) + 1
            emit = (t >= first) & (t < first + count)
            text += tf.where(emit, tf.gather(self.id_to_char, token), "")
            return t + 1, token, new_states, text

        states = [cell.get_initial_state(batch) for cell in self.cells]
        start = (
            tf.constant(0, tf.int64),
            tf.zeros([batch], tf.int64),
            states,
            tf.fill([batch], ""),
        )
        _, _, _, text = tf.while_loop(lambda t, *_: t < steps, body, start)
        return {"text": text}


def export_text_generator(model, vocabulary, path, max_chars=2000, max_prompt_chars=1000):
    """Writes a TF Serving SavedModel whose one call generates text.

    The `serving_default` signature takes `prompt` string `[batch]`,
    `num_chars` int32 `[batch]` and `temperature` float32 `[batch]`, and
    returns `text` string `[batch]`: the continuation only, without the
    prompt. The whole sampling loop runs in the graph (`tf.while_loop`),
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
    - The three inputs must have the same batch size (InvalidArgument
      otherwise).

    A TF Serving REST request names the inputs in each instance:
    `{"instances": [{"prompt": "ROMEO:", "num_chars": 200, "temperature": 0.8}]}`.

    Args:
        model: a built `build_lstm_generator` model (layers `embedding`,
            `lstm_0`, `lstm_1`, ..., `logits`); dropout is skipped, as at
            inference.
        vocabulary: sequence of str; `vocabulary[i]` is the character of id
            `i`, `vocabulary[0]` the unknown id (its entry is ignored; "" by
            convention).
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
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.track(generator.char_to_id)
    archive.add_endpoint(
        "serving_default",
        generator.generate,
        input_signature=[
            tf.TensorSpec([None], tf.string, name="prompt"),
            tf.TensorSpec([None], tf.int32, name="num_chars"),
            tf.TensorSpec([None], tf.float32, name="temperature"),
        ],
    )
    archive.write_out(path, verbose=False)
    return path


def make_generator(model, vocabulary, max_chars=2000, max_prompt_chars=1000):
    """The object whose `generate(prompt, num_chars, temperature)` is exported.

    Useful to run the exported loop eagerly; see `export_text_generator`.
    """
    vocabulary = check_vocabulary(model, vocabulary)
    for arg, value in (("max_chars", max_chars), ("max_prompt_chars", max_prompt_chars)):
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError(f"`{arg}` must be a positive integer. Received: {arg}={value!r}")
    return _Generator(model, vocabulary, max_chars, max_prompt_chars)


def greedy_generate(model, vocabulary, prompt, num_chars, max_chars=2000, max_prompt_chars=1000):
    """Greedy continuation computed the plain way, for checking exports.

    Runs the full model on the prompt plus everything generated so far and
    takes the argmax of the last step (quadratic, so only for short texts),
    with the same edge rules as `export_text_generator`.

    Args:
        model: the in-memory `build_lstm_generator` model.
        vocabulary: see `export_text_generator`.
        prompt: str or bytes.
        num_chars: int.
        max_chars: int. Cap on `num_chars`.
        max_prompt_chars: int. Prompt characters read, from the end.

    Returns:
        The continuation, a str.
    """
    vocabulary = check_vocabulary(model, vocabulary)
    if isinstance(prompt, bytes):
        prompt = prompt.decode("utf-8", errors="replace")
    index = {c: i for i, c in enumerate(vocabulary) if i > 0}
    ids = [index.get(c, 0) for c in prompt[len(prompt) - max_prompt_chars :]] or [0]
    text = []
    for _ in range(min(max(num_chars, 0), max_chars)):
        logits = model(np.asarray([ids], "int32"), training=False)
        # Id 0 (unknown) is never generated, as in the export.
        token = 1 + int(np.argmax(keras.ops.convert_to_numpy(logits)[0, -1, 1:]))
        ids.append(token)
        text.append(vocabulary[token])
    return "".join(text)


def publish_text_generator(
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
    rtol=1e-5,
    atol=1e-6,
):
    """Exports, verifies in a fresh process and publishes a text generator.

    The check compares greedy (temperature 0) output of the SavedModel with
    `greedy_generate` on the in-memory model.

    Args:
        model: see `export_text_generator`.
        vocabulary: see `export_text_generator`.
        export_dir: str. Root of the TF Serving model base paths.
        name: str. Model name; the export lands in `export_dir/name/version`.
        version: positive int or None for the next free version.
        example_prompts: sequence of str to check with; defaults to an empty
            prompt and two made of the vocabulary.
        example_chars: int. Characters generated per example prompt.
        max_chars: see `export_text_generator`.
        max_prompt_chars: see `export_text_generator`.
        timeout: float. Seconds allowed for the verification process.
        rtol, atol: float. Tolerances of the float comparison in the check;
            looser under mixed precision.

    Returns:
        The path of the published version directory.
    """
    make_generator(model, vocabulary, max_chars, max_prompt_chars)
    if example_prompts is None:
        chars = "".join(vocabulary[1:])
        example_prompts = ["", chars[:3], chars[::-1][:7]]
    prompts = np.empty(len(example_prompts), dtype=object)
    prompts[:] = [p.encode("utf-8") if isinstance(p, str) else bytes(p) for p in example_prompts]
    texts = np.empty(len(prompts), dtype=object)
    texts[:] = [
        greedy_generate(model, vocabulary, p, example_chars, max_chars, max_prompt_chars).encode()
        for p in prompts
    ]
    return publish(
        lambda path: export_text_generator(model, vocabulary, path, max_chars, max_prompt_chars),
        export_dir,
        name,
        version=version,
        contract=GENERATOR_CONTRACT,
        example={
            "prompt": prompts,
            "num_chars": np.full(len(prompts), example_chars, "int32"),
            "temperature": np.zeros(len(prompts), "float32"),
        },
        expected={"text": texts},
        timeout=timeout,
        rtol=rtol,
        atol=atol,
    )
