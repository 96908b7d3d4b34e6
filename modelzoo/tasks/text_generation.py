"""Character-level language modelling on a TFDS text corpus."""

import math

import numpy as np
import tensorflow as tf

from modelzoo import export, recipe, scoring
from modelzoo.data import pipelines
from modelzoo.errors import DataError, UsageError, check_utf8
from modelzoo.tasks.base import Data, Task, read_splits, run_task
from modelzoo.text import chars

DATASETS = ("tiny_shakespeare",)

# Each generator kind's publishing function, and the sample flags its
# signature takes beyond prompt, num_chars and temperature. A GPT has its own
# generator (key/value cache, window, top_k).
EXPORTS = {
    "lstm_generator": (export.publish_text_generator, {}),
    "gpt": (export.publish_gpt_generator, {"top_k": "sample_top_k"}),
}


def greedy_next_char_accuracy(model, vocabulary, prompts, next_chars, batch_size=256):
    """Fraction of `prompts` whose likeliest next character is `next_chars`.

    What the export's greedy generator returns as its first character, from
    the in-memory model; prompts all have the same length.
    """
    ids = chars.char_ids(chars.char_table(vocabulary), prompts)
    logits = model.predict(ids.to_tensor(), batch_size=batch_size, verbose=0)
    predicted = [vocabulary[i] for i in np.argmax(logits[:, -1], axis=-1)]
    return float(np.mean([p == c for p, c in zip(predicted, next_chars)]))


def check_task_flags(flags_obj):
    """Raises `UsageError` for a bad generation flag, before any work.

    The sample flags are checked here, not by the export's call after
    training and publishing.
    """
    if flags_obj.sequence_length <= 1:
        raise UsageError(f"--sequence_length={flags_obj.sequence_length} must be an integer > 1")
    if math.isnan(flags_obj.sample_temperature):
        raise UsageError("--sample_temperature=nan must be a number; <= 0 is greedy")
    if flags_obj.sample_chars < 0:
        raise UsageError(f"--sample_chars={flags_obj.sample_chars} must be >= 0")
    if "sample_top_k" in flags_obj and flags_obj.sample_top_k < 0:
        raise UsageError(f"--sample_top_k={flags_obj.sample_top_k} must be >= 0; 0 is all")
    check_utf8("sample_prompt", flags_obj.sample_prompt)


class TextGeneration(Task):
    """Next-character prediction; the export generates text in one call.

    Args:
        model_name: str. The registered generator (a key of `EXPORTS`).
    """

    datasets = DATASETS
    unit = "chars"

    def __init__(self, model_name):
        self.publish_fn, self.sample_flags = EXPORTS[model_name]

    def check_flags(self, flags_obj):
        check_task_flags(flags_obj)

    def export_name(self, flags_obj, model_name):
        return f"shakespeare_{model_name.removesuffix('_generator')}"

    def load(self, flags_obj, datasets_override):
        """`datasets_override`: `((train, test), info)` as `load_splits` returns
        with `as_supervised=False` (examples are `{"text": string}`)."""
        (train, test), _ = read_splits(
            flags_obj, ["train", "test"], datasets_override, as_supervised=False)
        train_text, test_text = pipelines.read_text(train), pipelines.read_text(test)
        # A split shorter than one sequence gives no example: training would
        # not run, or the metrics would be empty.
        for split, text in (("train", train_text), ("test", test_text)):
            if len(text) <= flags_obj.sequence_length:
                raise DataError(
                    f"the {flags_obj.dataset} {split} split has {len(text)} characters; "
                    f"it needs more than --sequence_length={flags_obj.sequence_length}"
                )
        vocabulary = chars.char_vocabulary(train_text)
        sequences = dict(vocabulary=vocabulary, sequence_length=flags_obj.sequence_length,
                         batch_size=flags_obj.batch_size)
        num_sequences = len(train_text) // (flags_obj.sequence_length + 1)
        if flags_obj.max_train_examples:
            num_sequences = min(num_sequences, flags_obj.max_train_examples)
        prompts, next_chars = scoring.next_char_windows(test_text, flags_obj.sequence_length, 1000)
        return Data(
            train=pipelines.char_sequences(
                train_text, training=True, seed=flags_obj.seed,
                max_examples=flags_obj.max_train_examples, **sequences,
            ),
            test=pipelines.char_sequences(
                test_text, training=False, max_examples=flags_obj.max_eval_examples, **sequences
            ),
            examples=num_sequences * flags_obj.sequence_length,
            model_kwargs=dict(vocab_size=len(vocabulary)),
            state=dict(vocabulary=vocabulary, prompts=prompts, next_chars=next_chars),
        )

    def evaluate(self, model, data, metrics):
        if data.state["prompts"]:
            metrics["next_char_accuracy"] = greedy_next_char_accuracy(
                model, data.state["vocabulary"], data.state["prompts"], data.state["next_chars"])
        return metrics

    def publish(self, flags_obj, strategy, name, model, data, card):
        return recipe.publish(flags_obj, strategy, self.publish_fn, model,
                              data.state["vocabulary"], name=name, card=card)

    def report(self, path, data, flags_obj):
        """The sample, generated by the published SavedModel itself from
        --sample_prompt (what TF Serving will answer), and its accuracy."""
        if path is None:
            return {"sample": None, "export_metrics": None}
        serve = tf.saved_model.load(path).signatures["serving_default"]
        inputs = dict(
            prompt=tf.constant([flags_obj.sample_prompt]),
            num_chars=tf.constant([flags_obj.sample_chars]),
            temperature=tf.constant([flags_obj.sample_temperature]),
        )
        for signature_input, flag in self.sample_flags.items():
            inputs[signature_input] = tf.constant([flags_obj[flag].value])
        text = serve(**inputs)["text"][0].numpy().decode("utf-8", "replace")
        export_metrics = None
        if data.state["prompts"]:
            export_metrics = {"next_char_accuracy": scoring.generator_next_char_accuracy(
                path, data.state["prompts"], data.state["next_chars"])}
        return {"sample": flags_obj.sample_prompt + text, "export_metrics": export_metrics}

    @classmethod
    def serves(cls, specs):
        return set(specs) in ({"prompt", "num_chars", "temperature"},
                              {"prompt", "num_chars", "temperature", "top_k"})

    @classmethod
    def predict(cls, serve, request):
        """Each `prompt`'s continuation (`top_k` only for a GPT)."""
        prompt = request["prompt"]
        if not prompt:
            raise UsageError("--prompt is needed for a text generator")
        n = len(prompt)
        specs = serve.structured_input_signature[1]
        extra = {}
        if "top_k" in specs:
            extra["top_k"] = tf.fill([n], tf.constant(request["top_k"], tf.int32))
        out = serve(
            prompt=tf.constant(prompt),
            num_chars=tf.fill([n], tf.constant(request["num_chars"], tf.int32)),
            temperature=tf.fill([n], tf.constant(request["temperature"], tf.float32)),
            **extra,
        )
        return [
            {"prompt": p, "text": t.decode("utf-8", "replace")}
            for p, t in zip(prompt, out["text"].numpy())
        ]


def run(flags_obj, model_name, model_kwargs, datasets_override=None, strategy_override=None):
    """Trains a character model (e.g. `"gpt"`), exports it, writes a sample; see `run_task`.

    The summary's `sample` is generated by the published export.
    """
    return run_task(TextGeneration(model_name), flags_obj, model_name, model_kwargs,
                    datasets_override, strategy_override)
