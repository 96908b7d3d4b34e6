"""A tiny GPT whose greedy text depends on its context, and its vocabulary."""

import keras
import numpy as np

import modelzoo

VOCAB = [""] + list("abcdefgh .")
WINDOW = 8
MAX_CHARS = 50
MAX_PROMPT = 40


def tiny_gpt(tie_embeddings=False, window=WINDOW):
    keras.utils.set_random_seed(0)
    model = modelzoo.build_gpt(
        len(VOCAB), window, embed_dim=16, num_heads=2, ff_dim=16, num_layers=2,
        dropout=0.0, tie_embeddings=tie_embeddings,
    )
    # Large embeddings and kernels make greedy text depend on the context,
    # so a wrong cache or window shows up in the output.
    rng = np.random.default_rng(0)
    for weight in model.weights:
        if "embeddings" in weight.path:
            weight.assign(rng.normal(0, 1, weight.shape))
        elif "kernel" in weight.path:
            weight.assign(weight.numpy() * 3)
    return model
