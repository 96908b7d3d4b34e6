"""One tiny `ExportModule` per export kind, seeded, for contract and release tests."""

import keras

from modelzoo import build_cnn, build_lstm_generator, build_transformer, export
from tests import gpt_helpers, qa_helpers

VOCAB = ["", " ", "a", "b", "c", "d"]


def image_module(input_type="pixels"):
    keras.utils.set_random_seed(0)
    model = build_cnn((8, 8, 3), 2, filters=(2,), kernel_size=3, dense_units=4)
    return export.ImageClassifierExport(model, ["cat", "dog"], input_type=input_type)


def text_module():
    keras.utils.set_random_seed(0)
    vectorizer = keras.layers.TextVectorization(max_tokens=20, output_sequence_length=6)
    vectorizer.adapt(["a good movie", "a bad film"])
    model = build_transformer(20, 6, 2, embed_dim=8, num_heads=2, ff_dim=8, num_layers=1)
    return export.TextClassifierExport(model, vectorizer, ["neg", "pos"])


def generator_module():
    keras.utils.set_random_seed(0)
    model = build_lstm_generator(len(VOCAB), embed_dim=4, lstm_units=(8,))
    return export.TextGeneratorExport(model, VOCAB, example_chars=3)


def gpt_module():
    return export.GptGeneratorExport(gpt_helpers.tiny_gpt(), gpt_helpers.VOCAB, example_chars=3,
                                     max_chars=gpt_helpers.MAX_CHARS,
                                     max_prompt_chars=gpt_helpers.MAX_PROMPT)


def qa_module():
    return export.QaExport(qa_helpers.tiny_qa(), qa_helpers.processor())
