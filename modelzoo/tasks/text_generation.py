"""Character-level language modelling on a TFDS text corpus."""

import dataclasses
from typing import Optional

import numpy as np

from modelzoo import export, scoring
from modelzoo.config import Config, field
from modelzoo.data import pipelines
from modelzoo.errors import DataError, UsageError, check_utf8
from modelzoo.experiment_config import DataConfig, ExperimentConfig, ModelConfig
from modelzoo.models.gpt import GptConfig
from modelzoo.tasks.base import Data, Task
from modelzoo.text import chars

DATASETS = ("tiny_shakespeare",)

# Each generator model's export kind. A GPT has its own generator
# (key/value cache, window, top_k).
EXPORTS = {
    "lstm_generator": export.TextGeneratorExport,
    "gpt": export.GptGeneratorExport,
}


@dataclasses.dataclass
class CharDataConfig(DataConfig):
    """The corpus, cut into windows of characters."""

    dataset: str = field("tiny_shakespeare", "TFDS dataset.")
    sequence_length: int = field(64, "Context window, in characters.", minimum=2)


@dataclasses.dataclass
class SampleConfig(Config):
    """The sample the published export writes into the summary."""

    sample_prompt: str = field("ROMEO:", "Prompt of the sample in the summary.")
    sample_chars: int = field(200, "Characters of the sample.", minimum=0)
    sample_temperature: float = field(0.8, "Sampling temperature; <= 0 is greedy.")
    sample_top_k: int = field(0, "Sample among the k likeliest; 0 is all.", minimum=0)
    sample_top_p: float = field(
        1.0, "Sample among the likeliest whose probabilities add up to p; 1 is all.",
        above=0, maximum=1)
    sample_seed: Optional[int] = field(
        None, "Seed of the sample (the same seed gives the same text); unset: unseeded.",
        minimum=0)

    def check(self):
        check_utf8("sample_prompt", self.sample_prompt)


@dataclasses.dataclass
class TextGenerationConfig(ExperimentConfig):
    """Next-character prediction; the export generates text in one call."""

    task_name = "text_generation"
    datasets = DATASETS

    data: CharDataConfig = dataclasses.field(default_factory=CharDataConfig)
    model: ModelConfig = dataclasses.field(default_factory=GptConfig)
    sample: SampleConfig = dataclasses.field(default_factory=SampleConfig)

    def default_export_name(self):
        return f"shakespeare_{self.model.registered_name.removesuffix('_generator')}"

    def check(self):
        super().check()
        if self.model.registered_name not in EXPORTS:
            raise UsageError(
                f"model {self.model.registered_name!r} has no generator export; "
                f"use one of: {', '.join(EXPORTS)}")


def greedy_next_char_accuracy(model, vocabulary, prompts, next_chars, batch_size=256):
    """Fraction of `prompts` whose likeliest next character is `next_chars`.

    What the export's greedy generator returns as its first character, from
    the in-memory model; prompts all have the same length.
    """
    ids = chars.char_ids(chars.char_table(vocabulary), prompts)
    logits = model.predict(ids.to_tensor(), batch_size=batch_size, verbose=0)
    predicted = [vocabulary[i] for i in np.argmax(logits[:, -1], axis=-1)]
    return float(np.mean([p == c for p, c in zip(predicted, next_chars)]))


class TextGeneration(Task):
    """Trains a character model; its export generates text in one call."""

    preset_kind = "char_generator"
    config_class = TextGenerationConfig
    unit = "chars"

    def load(self, datasets_override):
        """`datasets_override`: `((train, test), info)` as `load_splits` returns
        with `as_supervised=False` (examples are `{"text": string}`)."""
        data, training = self.config.data, self.config.training
        length = data.sequence_length
        (train, test), _ = self.read_splits(["train", "test"], datasets_override,
                                            as_supervised=False)
        train_text, test_text = pipelines.read_text(train), pipelines.read_text(test)
        # A split shorter than one sequence gives no example: training would
        # not run, or the metrics would be empty.
        for split, text in (("train", train_text), ("test", test_text)):
            if len(text) <= length:
                raise DataError(
                    f"the {data.dataset} {split} split has {len(text)} characters; "
                    f"it needs more than --sequence_length={length}")
        preset = self.init_preprocessor()
        # Fine-tuning keeps the preset's characters, which its embedding was trained on.
        vocabulary = preset.vocabulary if preset is not None else chars.char_vocabulary(train_text)
        sequences = dict(vocabulary=vocabulary, sequence_length=length,
                         batch_size=training.batch_size)
        num_sequences = len(train_text) // (length + 1)
        if data.max_train_examples:
            num_sequences = min(num_sequences, data.max_train_examples)
        prompts, next_chars = scoring.next_char_windows(test_text, length, 1000)
        return Data(
            train=pipelines.char_sequences(
                train_text, training=True, seed=training.seed,
                max_examples=data.max_train_examples,
                drop_remainder=training.drop_remainder(), **sequences),
            test=pipelines.char_sequences(
                test_text, training=False, max_examples=data.max_eval_examples, **sequences),
            examples=num_sequences * length,
            model_kwargs=dict(vocab_size=len(vocabulary), sequence_length=length,
                              vocabulary=vocabulary),
            state=dict(vocabulary=vocabulary, prompts=prompts, next_chars=next_chars),
        )

    def evaluate(self, model, data, metrics):
        if data.state["prompts"]:
            metrics["next_char_accuracy"] = greedy_next_char_accuracy(
                model, data.state["vocabulary"], data.state["prompts"], data.state["next_chars"])
        return metrics

    def preprocessor(self, data):
        from modelzoo.preprocessors import CharPreprocessor

        return CharPreprocessor(data.state["vocabulary"], self.config.data.sequence_length)

    def publish(self, strategy, model, data, card):
        module = EXPORTS[self.config.model.registered_name](model, data.state["vocabulary"])
        return self.publish_export(strategy, module, card)

    def report(self, path, data):
        """The sample, generated by the published SavedModel itself from
        --sample_prompt (what TF Serving will answer), and its accuracy."""
        if path is None:
            return {"sample": None, "export_metrics": None}
        sample = self.config.sample
        # Optional inputs the export does not take (or None: stop) get its defaults.
        serve = scoring.load_signature(path)
        client = scoring.client_of(path, serve)
        text = client.generate(
            serve, [sample.sample_prompt], sample.sample_chars, sample.sample_temperature,
            top_k=sample.sample_top_k, top_p=sample.sample_top_p, seed=sample.sample_seed,
        )[0].decode("utf-8", "replace")
        export_metrics = None
        if data.state["prompts"]:
            export_metrics = scoring.export_metrics(
                path, data.state["prompts"], data.state["next_chars"])
        return {"sample": sample.sample_prompt + text, "export_metrics": export_metrics}

