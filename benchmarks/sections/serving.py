"""Section 4: the exports' serving latency and throughput."""

import os
import statistics
import tempfile
import time

import numpy as np
import tensorflow as tf

from benchmarks import common
from modelzoo import export
from modelzoo.data import pipelines
from modelzoo.registry import get_model
from benchmarks.sections.shared import TEXT_CHUNK_CHARS, corpus_text, image_arrays, image_splits, jsonable, log, warm_up
from benchmarks.sections.text import TRANSFORMER_SIZE

# --- 4. Serving --------------------------------------------------------------


def latency(fn, warmup, calls):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return {"calls": calls, "warmup": warmup,
            **{f"p{q}_ms": round(common.percentile(times, q), 4) for q in (50, 90, 99)},
            "mean_ms": round(statistics.fmean(times), 4)}


def throughput(fn, batch, warmup, calls):
    for _ in range(warmup):
        fn()
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    seconds = time.perf_counter() - start
    return {"batch": batch, "calls": calls, "examples_per_s": round(batch * calls / seconds, 1)}


def serve_figures(serve, one, many, cfg):
    scale = cfg.scale
    return {
        "batch1": latency(lambda: serve(one), scale.serving_warmup, scale.serving_calls),
        "batched": throughput(lambda: serve(many), scale.serving_batch,
                              max(2, scale.serving_warmup // 20), scale.serving_batch_calls),
    }


def serving_section(cfg):
    warm_up()
    scale = cfg.scale
    out = {"note": "untrained weights: latency does not depend on their values"}
    (_, test), info = image_splits(cfg)
    x_test, _ = image_arrays(test, max(scale.serving_batch, 1))
    batch = np.resize(x_test, (scale.serving_batch,) + x_test.shape[1:])
    _, model_name, model_kwargs = common.recipe_settings("mnist_mlp", cfg.mlp_args)
    text = corpus_text(cfg)
    texts, labels = common.text_chunks(text, max(scale.serving_batch, 64), TEXT_CHUNK_CHARS)
    with tempfile.TemporaryDirectory() as tmp:
        model = get_model(model_name, input_shape=info.features["image"].shape,
                          num_classes=info.features["label"].num_classes, rescale=1 / 255,
                          **model_kwargs)
        path = export.export_image_classifier(
            model, info.features["label"].names, os.path.join(tmp, "mlp"))
        signature = tf.saved_model.load(path).signatures["serving_default"]
        one, many = tf.constant(x_test[:1]), tf.constant(batch)
        out["mlp"] = serve_figures(lambda x: signature(images=x)["class_ids"].numpy(),
                                   one, many, cfg)
        out["mlp"]["model"] = dict(name=model_name, **jsonable(model_kwargs))
        # For scale: the plain Keras way to score one example.
        predict_one = x_test[:1].astype("float32")
        out["mlp"]["keras_predict_batch1"] = latency(
            lambda: model.predict(predict_one, verbose=0), 5, max(10, scale.serving_calls // 20))
        log(f"[serving] mlp: p50 {out['mlp']['batch1']['p50_ms']:.3f} ms, "
            f"{out['mlp']['batched']['examples_per_s']:.0f} examples/s at batch "
            f"{scale.serving_batch}")

        flag_values, model_name, model_kwargs = common.recipe_settings(
            "imdb_transformer", [*TRANSFORMER_SIZE, *cfg.transformer_args])
        raw = tf.data.Dataset.from_tensor_slices(texts)
        vectorizer = pipelines.make_vectorizer(raw, flag_values.vocab_size)
        model = get_model(model_name, vocab_size=flag_values.vocab_size,
                          sequence_length=flag_values.sequence_length, num_classes=2,
                          **model_kwargs)
        path = export.export_text_classifier(model, vectorizer, ["even", "odd"],
                                             os.path.join(tmp, "transformer"))
        signature = tf.saved_model.load(path).signatures["serving_default"]
        one = tf.constant(texts[:1])
        many = tf.constant(list(np.resize(np.array(texts, dtype=object), scale.serving_batch)))
        out["transformer"] = serve_figures(lambda t: signature(text=t)["class_ids"].numpy(),
                                           one, many, cfg)
        out["transformer"]["model"] = dict(
            name=model_name, vocab_size=flag_values.vocab_size,
            sequence_length=flag_values.sequence_length, **jsonable(model_kwargs),
            input_chars=TEXT_CHUNK_CHARS)
        log(f"[serving] transformer: p50 {out['transformer']['batch1']['p50_ms']:.3f} ms, "
            f"{out['transformer']['batched']['examples_per_s']:.0f} examples/s at batch "
            f"{scale.serving_batch}")
    return out
