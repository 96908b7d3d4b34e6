"""A tiny WordPiece vocabulary, its QA windows and a QA model with spread-out scores."""

import keras
import numpy as np

import modelzoo
from modelzoo.text.qa_processor import QaProcessor
from modelzoo.text.wordpiece import RESERVED

WORDS = "who won the super bowl denver broncos in 2016 what is it , . ? ' s".split()
VOCAB = RESERVED + WORDS
LENGTH = 24


def processor(**kwargs):
    config = dict(max_question_tokens=6, doc_stride=6, max_answer_tokens=4)
    config.update(kwargs)
    return QaProcessor(VOCAB, LENGTH, **config)


def tiny_qa(reader_layers=1):
    keras.utils.set_random_seed(0)
    model = modelzoo.build_qa(len(VOCAB), LENGTH, embed_dim=16, num_heads=2, ff_dim=16,
                              num_layers=1, dropout=0.0, reader_layers=reader_layers)
    # Larger weights spread the span scores, so ties cannot hide a wrong pick.
    rng = np.random.default_rng(0)
    for weight in model.weights:
        if "embeddings" in weight.path:
            weight.assign(rng.normal(0, 1, weight.shape))
    return model


LONG = " ".join(f"{w} the {WORDS[i % len(WORDS)]}" for i, w in enumerate(WORDS * 3)) + "."
QUESTIONS = ["Who won the Super Bowl?", "What is it?", "?", "who", "In 2016?", "Who?"]
CONTEXTS = ["The Denver Broncos won Super Bowl 50 in 2016.", LONG, "Denver won.", " \t ",
            "It is what it is, in 2016's bowl.", "broncos " * 200]
