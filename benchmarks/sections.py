"""The measurements, one function per section; each returns a JSON-able dict.

Every section runs in its own process (see `run.py`), starts with a short
warm-up so the first contender does not pay for TensorFlow's lazy start-up,
and times the peer first, then modelzoo.
"""

import functools
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
import warnings

import keras
import numpy as np
import tensorflow as tf

from benchmarks import baselines, common
from modelzoo import export, trainer
from modelzoo.data import pipelines
from modelzoo.data.loading import load_splits
from modelzoo.registry import get_model
from modelzoo.text.chars import char_vocabulary
from modelzoo.training import compile_model

IMAGE_DATASET = "fashion_mnist"
TEXT_DATASET = "tiny_shakespeare"
TEXT_CHUNK_CHARS = 1200  # ~220 words: fills the 200-token window
LSTM_MAXLEN = 40
TEMPERATURE = 0.5

# Keras says this at the end of the first epoch of a dataset of unknown
# length (the text pipelines unbatch); training goes on normally.
warnings.filterwarnings("ignore", message="Your input ran out of data")


def log(message):
    print(message, file=sys.stderr, flush=True)


class ClockCallback(keras.callbacks.Callback):
    """Drives an `AccuracyClock` from `model.fit`; evaluation is off the clock."""

    def __init__(self, clock, evaluate=None, stop_at_target=False, label=""):
        super().__init__()
        self.clock = clock
        self.evaluate = evaluate
        self.stop_at_target = stop_at_target
        self.label = label

    def on_epoch_begin(self, epoch, logs=None):
        self.clock.epoch_begin()

    def on_epoch_end(self, epoch, logs=None):
        accuracy = self.clock.epoch_end(self.evaluate)
        point = self.clock.curve[-1]
        shown = "" if accuracy is None else f"test accuracy {accuracy:.4f} "
        wait = self.clock.epoch_wait_seconds[-1]
        log(f"{self.label} epoch {point['epoch']}: {shown}at {point['train_seconds']:.1f}s "
            f"(epoch {self.clock.epoch_seconds[-1]:.2f}s, cpu "
            f"{self.clock.epoch_cpu_seconds[-1]:.2f}s, run-queue wait "
            f"{'n/a' if wait is None else f'{wait:.2f}s'})")
        if self.stop_at_target and self.clock.reached():
            self.model.stop_training = True


def warm_up():
    """Pays TensorFlow's and Keras's one-off start-up costs before any clock."""
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(4), keras.layers.Dense(2)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(np.zeros((64, 8)), np.zeros((64, 2)), batch_size=32, epochs=1, verbose=0)
    model.predict(np.zeros((4, 8)), verbose=0)
    keras.backend.clear_session()


def roofline(repeats, m=1024, k=784, n=128, unroll=8, dtype="float32"):
    """Measured matmul GFLOP/s for `[m, k] @ [k, n]` (the MLP's first layer).

    Each `tf.function` call runs `unroll` matmuls of distinct inputs, so
    Python dispatch is amortized and nothing can be folded away; the best of
    three rounds is the roofline (a ceiling, so the best is the fair one).
    `dtype="bfloat16"` gives the ceiling of Keras's `mixed_bfloat16` matmuls
    (avx512_bf16 doubles the multiply-adds per instruction).
    """
    a = tf.cast(tf.random.normal([unroll, m, k]), dtype)
    b = tf.cast(tf.random.normal([k, n]), dtype)

    @tf.function
    def step(a, b):
        acc = tf.zeros([m, n], dtype)
        for j in range(unroll):
            acc += tf.matmul(a[j], b)
        return acc

    step(a, b).numpy()
    rates = []
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(repeats):
            out = step(a, b)
        out.numpy()
        rates.append(2 * m * k * n * unroll * repeats / (time.perf_counter() - start) / 1e9)
    return {"shape": f"{m}x{k} @ {k}x{n} {'fp32' if dtype == 'float32' else dtype}",
            "matmuls": repeats * unroll,
            "gflops": round(max(rates), 2), "gflops_rounds": [round(r, 2) for r in rates]}


def dense_train_flops(model):
    """3 × 2 × Σ(in·out) of the Dense kernels: forward + backward, per example."""
    macs = sum(
        int(np.prod(layer.kernel.shape))
        for layer in model.layers
        if isinstance(layer, keras.layers.Dense)
    )
    return 3 * 2 * macs


def layer_train_flops(model):
    """3 × 2 × multiply-adds of the Conv2D and Dense layers, per example.

    A Conv2D does out_h·out_w·filters·(kh·kw·in_channels) multiply-adds, a
    Dense in·out; training is counted as 3 forward passes (forward, input
    gradient, weight gradient), as `dense_train_flops` does. Pooling,
    activations and the optimizer are left out (they are memory-bound and
    small), so this is the work a matmul/conv roofline bounds.
    """
    macs = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            kh, kw, cin, cout = layer.kernel.shape
            shape = layer.output.shape
            spatial = shape[2] * shape[3] if layer.data_format == "channels_first" \
                else shape[1] * shape[2]
            macs += int(spatial) * int(kh * kw * cin * cout)
        elif isinstance(layer, keras.layers.Dense):
            macs += int(np.prod(layer.kernel.shape))
    return 3 * 2 * macs


def image_splits(cfg):
    return load_splits(IMAGE_DATASET, ["train", "test"], cfg.data_dir, download=False)


def image_arrays(ds, max_examples):
    """All of a `(uint8 image, label)` split as numpy arrays."""
    images, labels = [], []
    for x, y in pipelines.take(ds, max_examples).batch(10000):
        images.append(x.numpy())
        labels.append(y.numpy())
    return np.concatenate(images), np.concatenate(labels)


def corpus_text(cfg, split="train"):
    """A split of the prepared `tiny_shakespeare` corpus, as one string."""
    (ds,), _ = load_splits(TEXT_DATASET, [split], cfg.data_dir, download=False,
                           as_supervised=False)
    return pipelines.read_text(ds)


def heldout_windows(cfg, char_indices, step=10, cap=4000):
    """`LSTM_MAXLEN`-char windows of the validation split and the next char.

    Windows holding a character the train split lacks are left out, since
    keras-io's one-hot input has no slot for it.
    """
    text = corpus_text(cfg, "validation")
    windows = [text[i : i + LSTM_MAXLEN + 1] for i in range(0, len(text) - LSTM_MAXLEN, step)]
    windows = [w for w in windows if all(c in char_indices for c in w)][:cap]
    return [w[:-1] for w in windows], [w[-1] for w in windows]


def next_char_accuracy(model, x, targets, last_position=False):
    """Held-out next-character accuracy: argmax of the (last) prediction."""
    predictions = model.predict(x, batch_size=512, verbose=0)
    if last_position:
        predictions = predictions[:, -1, :]
    return float(np.mean(np.argmax(predictions, axis=-1) == targets))


def time_to(curve, target):
    """Training seconds at the first point at or above `target`, else None."""
    return next((p["train_seconds"] for p in curve
                 if p["accuracy"] is not None and p["accuracy"] >= target), None)


def fit_timed(model, x, y=None, *, epochs, units_per_epoch, label, batch_size=None,
              evaluate=None, target=None, stop_at_target=False):
    """`model.fit` under an `AccuracyClock`; returns its summary."""
    clock = common.AccuracyClock(target)
    callback = ClockCallback(clock, evaluate, stop_at_target, label)
    # Keras warns that shuffle=True (its default) is ignored for a tf.data
    # input, which shuffles itself; numpy inputs keep fit's default shuffle.
    shuffle = not isinstance(x, tf.data.Dataset)
    clock.start()
    model.fit(x, y, batch_size=batch_size, epochs=epochs, callbacks=[callback], verbose=0,
              shuffle=shuffle)
    return clock.summary(units_per_epoch)


def recipe_flags_summary(flag_values):
    return common.flag_dict(
        flag_values, ("epochs", "batch_size", "learning_rate", "steps_per_execution")
    )


def modelzoo_image(recipe_name, recipe_args, splits, cfg, target, stop_at_target, label):
    """Trains a recipe's image model with modelzoo's own pipeline and compile.

    The same steps as `modelzoo.tasks.image_classification.run` (TFDS →
    `image_pipeline` → `get_model` → `compile_model` with its cosine decay →
    `fit`), minus the export, plus the per-epoch test evaluation.
    """
    flag_values, model_name, model_kwargs = common.recipe_settings(recipe_name, recipe_args)
    if cfg.scale.recipe_epochs:
        flag_values.epochs = cfg.scale.recipe_epochs
    (train, test), info = splits
    keras.backend.clear_session()
    # As `trainer.set_up`: --mixed_precision is Keras's mixed_bfloat16 on CPU
    # (bfloat16 convs and matmuls, float32 variables and logits).
    precision = "mixed_bfloat16" if flag_values.mixed_precision else "float32"
    keras.mixed_precision.set_global_policy(precision)
    keras.utils.set_random_seed(cfg.seed)
    # Reading the split into memory (training) and one pass that fills the
    # test pipeline's cache happen before the clock starts, as the peers get
    # decoded arrays before theirs; both are timed and reported as data loading.
    start = time.perf_counter()
    train_ds = pipelines.image_pipeline(
        train, flag_values.batch_size, True, cfg.seed, cfg.scale.max_train_examples
    )
    test_ds = pipelines.image_pipeline(
        test, flag_values.batch_size, False, max_examples=cfg.scale.max_eval_examples
    )
    steps = trainer.count(train_ds)
    model = get_model(
        model_name,
        input_shape=info.features["image"].shape,
        num_classes=info.features["label"].num_classes,
        rescale=1 / 255,
        **model_kwargs,
    )
    compile_model(
        model,
        flag_values.learning_rate,
        decay_steps=steps and steps * flag_values.epochs,
        steps_per_execution=flag_values.steps_per_execution,
    )
    examples = info.splits["train"].num_examples
    if cfg.scale.max_train_examples:
        examples = min(examples, cfg.scale.max_train_examples)
    for _ in train_ds:
        pass
    data_seconds = time.perf_counter() - start
    result = fit_timed(
        model, train_ds, epochs=flag_values.epochs, units_per_epoch=examples, label=label,
        evaluate=lambda: model.evaluate(test_ds, verbose=0, return_dict=True)["accuracy"],
        target=target, stop_at_target=stop_at_target,
    )
    keras.mixed_precision.set_global_policy("float32")
    result["data_load_seconds"] = round(data_seconds, 3)
    result["settings"] = dict(
        recipe=f"recipes/{recipe_name}.py", recipe_args=list(recipe_args),
        model=model_name, model_kwargs=_jsonable(model_kwargs),
        **recipe_flags_summary(flag_values), precision=precision,
        lr_schedule="cosine decay over all steps",
        optimizer="Adam", input="tf.data image_pipeline (in-memory split, a permutation per epoch, "
              "one gather per batch, prefetch)",
        stop_at_target=stop_at_target,
    )
    result["train_flops_per_example"] = layer_train_flops(model)
    return result


def _jsonable(value):
    return json.loads(json.dumps(value, default=list))


# --- 1. MLP ------------------------------------------------------------------


def mlp_section(cfg):
    warm_up()
    roof = roofline(cfg.scale.roofline_repeats)
    log(f"[mlp] roofline: {roof['gflops']:.1f} GFLOP/s ({roof['shape']})")
    splits = image_splits(cfg)
    (train, test), _ = splits
    start = time.perf_counter()
    x_train, y_train = image_arrays(train, cfg.scale.max_train_examples)
    x_test, y_test = image_arrays(test, cfg.scale.max_eval_examples)

    # The quickstart: float64 x/255 arrays in memory, fit(epochs=5), batch 32.
    keras.utils.set_random_seed(cfg.seed)
    x_train_f, x_test_f = x_train[..., 0] / 255.0, x_test[..., 0] / 255.0
    data_seconds = time.perf_counter() - start
    model = baselines.seed_mlp()
    baseline = fit_timed(
        model, x_train_f, y_train, batch_size=32, epochs=cfg.scale.baseline_mlp_epochs,
        units_per_epoch=len(x_train), label="[mlp] quickstart",
        evaluate=lambda: model.evaluate(
            x_test_f, y_test, batch_size=1024, verbose=0, return_dict=True)["accuracy"],
        target=common.MLP_TARGET,
    )
    baseline["settings"] = dict(batch_size=32, epochs=cfg.scale.baseline_mlp_epochs,
                                optimizer="Adam (defaults, lr 1e-3)",
                                input="numpy x/255 (float64) arrays, model.fit")
    baseline["train_flops_per_example"] = dense_train_flops(model)
    baseline["data_load_seconds"] = round(data_seconds, 3)
    keras.backend.clear_session()

    modelzoo = modelzoo_image("mnist_mlp", cfg.mlp_args, splits, cfg, common.MLP_TARGET,
                              stop_at_target=False, label="[mlp] modelzoo")
    for contender in (baseline, modelzoo):
        flops = contender["train_flops_per_example"]
        ceiling = roof["gflops"] * 1e9 / flops
        contender["roofline_examples_per_s"] = round(ceiling, 1)
        rate = contender["examples_per_s"]
        contender["roofline_fraction"] = round(rate / ceiling, 4) if rate else None
    return {"roofline": roof, "baseline": baseline, "modelzoo": modelzoo,
            "dataset": IMAGE_DATASET, "examples": {"train": len(x_train), "test": len(x_test)}}


# --- 2. CNN ------------------------------------------------------------------


def cnn_section(cfg):
    warm_up()
    # The ceilings the CNN's GFLOP/s are judged against (issue #14): fp32 for
    # PyTorch and an fp32 recipe, bfloat16 for --mixed_precision.
    rooflines = {dtype: roofline(cfg.scale.roofline_repeats, dtype=dtype)
                 for dtype in ("float32", "bfloat16")}
    log(f"[cnn] roofline: fp32 {rooflines['float32']['gflops']:.1f}, bf16 "
        f"{rooflines['bfloat16']['gflops']:.1f} GFLOP/s")
    splits = image_splits(cfg)
    (train, test), _ = splits
    start = time.perf_counter()
    x_train, y_train = image_arrays(train, cfg.scale.max_train_examples)
    x_test, y_test = image_arrays(test, cfg.scale.max_eval_examples)
    decode_seconds = time.perf_counter() - start
    pytorch = run_torch_worker(cfg, dict(x_train=x_train, y_train=y_train,
                                         x_test=x_test, y_test=y_test))
    if "data_load_seconds" in pytorch:
        # Decoding TFDS to arrays here, then the worker's tensor preparation.
        pytorch["data_load_seconds"] = round(pytorch["data_load_seconds"] + decode_seconds, 3)
    modelzoo = modelzoo_image("mnist_cnn", cfg.cnn_args, splits, cfg, common.CNN_TARGET,
                              stop_at_target=cfg.scale.cnn_stop_at_target, label="[cnn] modelzoo")
    flops = modelzoo["train_flops_per_example"]  # the same layers in both
    for contender, dtype in ((pytorch, "float32"),
                             (modelzoo, "bfloat16" if modelzoo["settings"]["precision"]
                              != "float32" else "float32")):
        if "examples_per_s" not in contender:
            continue
        contender["train_flops_per_example"] = flops
        contender["roofline_dtype"] = dtype
        for key in ("examples_per_s", "examples_per_s_median"):
            rate = contender.get(key)
            gflops = rate * flops / 1e9 if rate else None
            contender[key.replace("examples", "gflops")] = gflops and round(gflops, 1)
            contender[key.replace("examples_per_s", "roofline_fraction")] = (
                gflops and round(gflops / rooflines[dtype]["gflops"], 4))
    return {"baseline": pytorch, "modelzoo": modelzoo, "dataset": IMAGE_DATASET,
            "rooflines": rooflines, "train_flops_per_example": flops,
            "examples": {"train": len(x_train), "test": len(x_test)}}


# PyTorch's OpenMP threads spin while they wait for each other by default.
# When another user's job takes a core, that turns into a collapse: at a
# load average of 8 here, the nanoGPT-style step ran at 0.2 steps/s with
# the default, 9.6 steps/s with OMP_WAIT_POLICY=PASSIVE (and 6.2 with one
# thread). Every PyTorch peer (CNN and GPT) gets the passive policy so that a busy machine does
# not flatter modelzoo (an environment variable already set wins).
TORCH_ENV = {"OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")}


def run_torch_worker(cfg, arrays, worker="torch_cnn", label="[cnn]"):
    """Runs a PyTorch peer in a process of its own (no TensorFlow in it)."""
    with tempfile.TemporaryDirectory() as tmp:
        data_path = os.path.join(tmp, "data.npz")
        np.savez(data_path, **arrays)
        worker = start_torch_worker(cfg, data_path, worker, label, tmp)
        return worker if isinstance(worker, dict) else worker()


def start_torch_worker(cfg, data_path, worker, label, tmp, baton_dir=None):
    """Starts a PyTorch worker; returns a function that waits for its result.

    Or the result itself (a dict saying why) when torch is not installed.
    The worker's environment adds `TORCH_ENV`.
    """
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        log(f"{label} pytorch: skipped, torch is not installed")
        return {"skipped": "torch not installed"}
    out_path = os.path.join(tmp, f"out-{time.perf_counter_ns()}.json")
    command = [
        sys.executable, os.path.join(common.ROOT, "benchmarks", "run.py"),
        f"--worker={worker}", f"--worker_in={data_path}", f"--worker_out={out_path}",
        f"--seed={cfg.seed}", f"--torch_momentum={cfg.torch_momentum}",
        f"--gpt_budget={cfg.scale.gpt_budget_s}",
        *([f"--worker_baton={baton_dir}"] if baton_dir else []),
        *(["--tiny"] if cfg.tiny else []), *(["--cnn_full"] if cfg.cnn_full else []),
    ]
    process = subprocess.Popen(command, env={**os.environ, **TORCH_ENV})

    def result():
        code = process.wait()
        if code != 0 or not os.path.exists(out_path):
            return {"error": f"the PyTorch worker exited with code {code}"}
        with open(out_path) as f:
            return json.load(f)

    result.process = process
    return result


# --- 3. Transformer and LSTM -------------------------------------------------


TRANSFORMER_SIZE = ["--embed_dim=32", "--num_heads=2", "--ff_dim=32", "--num_layers=1"]


def transformer_section(cfg):
    warm_up()
    text = corpus_text(cfg)
    texts, labels = common.text_chunks(text, cfg.scale.text_examples, TEXT_CHUNK_CHARS)
    labels = np.asarray(labels, "int64")
    flag_values, model_name, model_kwargs = common.recipe_settings(
        "imdb_transformer", [*TRANSFORMER_SIZE, *cfg.transformer_args]
    )
    vocab_size, maxlen = flag_values.vocab_size, flag_values.sequence_length
    raw = tf.data.Dataset.from_tensor_slices((texts, labels))
    vectorizer = pipelines.make_vectorizer(raw.map(lambda t, y: t), vocab_size)
    ids = pipelines.text_ids(vectorizer, tf.constant(texts), maxlen).numpy()
    epochs, n = cfg.scale.text_epochs, len(texts)
    data = {"examples": n, "chunk_chars": TEXT_CHUNK_CHARS, "corpus_chars": len(text),
            "vocabulary_size": int(vectorizer.vocabulary_size()),
            "labels": "chunk index % 2 (meaningless: only throughput is measured)",
            "nonpadding_tokens_per_example": round(float((ids != 0).sum(1).mean()), 1)}

    keras.utils.set_random_seed(cfg.seed)
    peer = baselines.keras_io_transformer(maxlen, vocab_size, 32, 2, 32)
    baseline = fit_timed(peer, ids, labels, batch_size=32, epochs=epochs, units_per_epoch=n,
                         label="[transformer] keras-io")
    baseline["settings"] = dict(batch_size=32, optimizer="Adam (defaults)",
                                input="numpy token ids, model.fit", embed_dim=32, num_heads=2,
                                ff_dim=32, key_dim=32, num_layers=1, head="Dense(20)+Dense(2)")
    keras.backend.clear_session()

    contenders = {"baseline": baseline}
    batch_sizes = [flag_values.batch_size] + ([32] if flag_values.batch_size != 32 else [])
    for batch_size in batch_sizes:
        keras.utils.set_random_seed(cfg.seed)
        train_ds = pipelines.text_classification_pipeline(raw, vectorizer, maxlen, batch_size,
                                                          True, cfg.seed)
        model = get_model(model_name, vocab_size=vocab_size, sequence_length=maxlen,
                          num_classes=2, **model_kwargs)
        # As the recipe: a cosine decay over the pipeline's known length.
        steps = trainer.count(train_ds)
        compile_model(model, flag_values.learning_rate, decay_steps=steps and steps * epochs,
                      steps_per_execution=flag_values.steps_per_execution)
        key = "modelzoo" if batch_size == flag_values.batch_size else "modelzoo_batch32"
        result = fit_timed(model, train_ds, epochs=epochs, units_per_epoch=n,
                           label=f"[transformer] modelzoo batch {batch_size}")
        result["settings"] = dict(
            recipe="recipes/imdb_transformer.py", model=model_name,
            model_kwargs=_jsonable(model_kwargs), vocab_size=vocab_size, sequence_length=maxlen,
            **recipe_flags_summary(flag_values), key_dim=32 // 2,
            input="tf.data text_classification_pipeline (vectorize, cache, shuffle, batch)",
        )
        result["settings"]["batch_size"] = batch_size
        contenders[key] = result
        keras.backend.clear_session()
    return {**contenders, "data": data}


def lstm_section(cfg):
    warm_up()
    text = corpus_text(cfg)
    chars = sorted(set(text))
    char_indices = {c: i for i, c in enumerate(chars)}
    sentences, next_chars = baselines.keras_io_sentences(
        text, LSTM_MAXLEN, 3, max_examples=cfg.scale.lstm_examples
    )
    x, y = baselines.keras_io_vectorize(sentences, next_chars, char_indices, LSTM_MAXLEN)
    epochs = cfg.scale.text_epochs
    # Quality: both models predict the character after the same held-out
    # 40-char windows; each epoch is scored off the clock.
    val_sentences, val_next = heldout_windows(cfg, char_indices)
    val_x, _ = baselines.keras_io_vectorize(val_sentences, val_next, char_indices, LSTM_MAXLEN)
    val_targets = np.array([char_indices[c] for c in val_next])

    keras.utils.set_random_seed(cfg.seed)
    peer = baselines.keras_io_lstm(LSTM_MAXLEN, len(chars))
    baseline = fit_timed(peer, x, y, batch_size=128, epochs=epochs,
                         units_per_epoch=len(sentences), label="[lstm] keras-io",
                         evaluate=lambda: next_char_accuracy(peer, val_x, val_targets))
    target = max(p["accuracy"] for p in baseline["curve"])
    baseline["heldout"] = {"windows": len(val_sentences), "target_accuracy": target,
                           "time_to_target_s": time_to(baseline["curve"], target)}
    _chars_per_s(baseline, LSTM_MAXLEN, 1)
    baseline["settings"] = dict(batch_size=128, optimizer="RMSprop(0.01)", lstm_units=128,
                                input=f"one-hot bool [n, {LSTM_MAXLEN}, {len(chars)}] numpy",
                                targets_per_example=1)

    flag_values, model_name, model_kwargs = common.recipe_settings(
        "shakespeare_lstm", [f"--sequence_length={LSTM_MAXLEN}", "--lstm_units=128",
                             *cfg.lstm_args]
    )
    vocabulary = char_vocabulary(text)
    ids = {c: i for i, c in enumerate(vocabulary)}
    val_ids = np.array([[ids[c] for c in w] for w in val_sentences], "int32").reshape(
        len(val_sentences), LSTM_MAXLEN)
    val_target_ids = np.array([ids[c] for c in val_next])
    seq = flag_values.sequence_length
    contenders = {"baseline": baseline}
    generator_model = None
    for batch_size in [flag_values.batch_size] + ([128] if flag_values.batch_size != 128 else []):
        keras.utils.set_random_seed(cfg.seed)
        train_ds = pipelines.char_sequences(text, vocabulary, seq, batch_size, True, cfg.seed,
                                            max_examples=cfg.scale.lstm_examples)
        sequences = min(len(text) // (seq + 1), cfg.scale.lstm_examples)
        model = get_model(model_name, vocab_size=len(vocabulary), **model_kwargs)
        steps = trainer.count(train_ds)
        compile_model(model, flag_values.learning_rate, decay_steps=steps and steps * epochs,
                      steps_per_execution=flag_values.steps_per_execution)
        key = "modelzoo" if batch_size == flag_values.batch_size else "modelzoo_batch128"
        result = fit_timed(
            model, train_ds, epochs=epochs, units_per_epoch=sequences,
            label=f"[lstm] modelzoo batch {batch_size}",
            evaluate=functools.partial(next_char_accuracy, model, val_ids, val_target_ids,
                                       last_position=True),
        )
        result["heldout"] = {"time_to_target_s": time_to(result["curve"], target)}
        _chars_per_s(result, seq, seq)
        result["settings"] = dict(
            recipe="recipes/shakespeare_lstm.py", model=model_name,
            model_kwargs=_jsonable(model_kwargs), **recipe_flags_summary(flag_values),
            input="tf.data char_sequences (non-overlapping windows, cache, shuffle, batch)",
            targets_per_example=seq,
        )
        result["settings"]["batch_size"] = batch_size
        contenders[key] = result
        if key == "modelzoo":
            generator_model = model

    contenders["generation"] = generation(cfg, generator_model, vocabulary, peer, chars,
                                          char_indices, text)
    contenders["data"] = {"corpus_chars": len(text), "characters": len(chars),
                          "keras_io_examples": len(sentences)}
    return contenders


def _chars_per_s(result, input_chars, target_chars):
    rate, median = result["examples_per_s"], result.get("examples_per_s_median")
    result["chars_per_s"] = round(rate * input_chars, 1) if rate else None
    result["chars_per_s_median"] = round(median * input_chars, 1) if median else None
    result["predicted_chars_per_s"] = round(rate * target_chars, 1) if rate else None


def _time_generator(path, prompt, num_chars, repeats, **extra):
    """Seconds of each of `repeats` `serving_default` calls generating `num_chars`.

    The optional inputs (top_p, seed, stop) are left at their defaults, as
    TF Serving would (`verify.ServedSignature`).
    """
    from modelzoo.export.verify import ServedSignature

    serve = ServedSignature(path)
    inputs = {k: tf.constant([v]) for k, v in extra.items()}

    def generate(count):
        out = serve(prompt=tf.constant([prompt]), num_chars=tf.constant([count]), **inputs)
        return out["text"].numpy()[0]

    generate(5)
    return [baselines.timed(generate, num_chars)[1] for _ in range(repeats)]


def _rate(times, num_chars, how):
    """The fastest call's rate, beside the median's (the host drifts up to 2x)."""
    median = statistics.median(times)
    return {"seconds": round(median, 4), "chars_per_s": round(num_chars / min(times), 1),
            "chars_per_s_median": round(num_chars / median, 1), "how": how}


def generation(cfg, model, vocabulary, peer, chars, char_indices, text):
    """In-graph generation from the SavedModel vs keras-io's predict-per-char loop.

    Also times the GPT generator (issue #8) at `recipes/shakespeare_gpt.py`'s
    default size against the LSTM's, at `generation_chars` and at the
    exports' cap of `generation_long_chars`, where the GPT's bounded window
    and key/value cache must keep the cost per character flat. Speed does
    not depend on the weights, so the GPT is not trained here.
    """
    num_chars, repeats = cfg.scale.generation_chars, cfg.scale.generation_repeats
    long_chars = cfg.scale.generation_long_chars
    prompt = text[:LSTM_MAXLEN]
    _, gpt_name, gpt_kwargs = common.recipe_settings("shakespeare_gpt", cfg.gpt_args)
    gpt = get_model(gpt_name, vocab_size=len(vocabulary), **gpt_kwargs)
    with tempfile.TemporaryDirectory() as tmp:
        lstm_path = export.export_text_generator(model, vocabulary, os.path.join(tmp, "lstm"))
        gpt_path = export.export_gpt_generator(gpt, vocabulary, os.path.join(tmp, "gpt"))
        lstm_inputs = dict(temperature=TEMPERATURE)
        gpt_inputs = dict(temperature=TEMPERATURE, top_k=0)
        in_graph = _time_generator(lstm_path, prompt, num_chars, repeats, **lstm_inputs)
        gpt_short = _time_generator(gpt_path, prompt, num_chars, repeats, **gpt_inputs)
        lstm_long = _time_generator(lstm_path, prompt, long_chars, repeats, **lstm_inputs)
        gpt_long = _time_generator(gpt_path, prompt, long_chars, repeats, **gpt_inputs)
    log(f"[lstm] in-graph generation, median: {num_chars} chars in "
        f"{statistics.median(in_graph):.3f}s (GPT {statistics.median(gpt_short):.3f}s); "
        f"{long_chars} chars: LSTM {statistics.median(lstm_long):.3f}s, "
        f"GPT {statistics.median(gpt_long):.3f}s")

    baselines.keras_io_generate(peer, prompt, chars, char_indices, 2, TEMPERATURE)
    loop_times = [
        baselines.timed(baselines.keras_io_generate, peer, prompt, chars, char_indices,
                        num_chars, TEMPERATURE)[1]
        for _ in range(repeats)
    ]
    log(f"[lstm] predict loop: {num_chars} chars in {statistics.median(loop_times):.3f}s")
    gpt_how = (f"export_gpt_generator SavedModel, one call; recipe defaults "
               f"({_jsonable(gpt_kwargs)}), untrained")
    return {
        "num_chars": num_chars, "long_chars": long_chars, "prompt_chars": len(prompt),
        "temperature": TEMPERATURE, "repeats": repeats,
        "modelzoo": _rate(in_graph, num_chars,
                          "export_text_generator SavedModel, serving_default, one call"),
        "baseline": _rate(loop_times, num_chars,
                          "keras-io loop: one model.predict per character"),
        "gpt": _rate(gpt_short, num_chars, gpt_how),
        "modelzoo_long": _rate(lstm_long, long_chars, "as modelzoo, one call"),
        "gpt_long": _rate(gpt_long, long_chars, gpt_how),
    }


# --- 3c. GPT time-to-quality --------------------------------------------------


def keras_heldout_loss(model, x, y, batch_size=256):
    """A function returning the mean held-out cross-entropy (nats/char) of `model`."""
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size).cache()

    @tf.function(reduce_retracing=True)
    def total(xb, yb):
        logits = model(xb, training=False)
        return tf.reduce_sum(keras.losses.sparse_categorical_crossentropy(
            yb, logits, from_logits=True))

    def evaluate():
        return sum(float(total(xb, yb)) for xb, yb in ds) / y.size

    return evaluate


class LossClockCallback(keras.callbacks.Callback):
    """Drives a `common.LossClock` from `model.fit`: checks off the clock, stops at the budget."""

    def __init__(self, clock, evaluate, label=""):
        super().__init__()
        self.clock = clock
        self.evaluate = evaluate
        self.label = label
        self._begin = 0

    def on_train_batch_begin(self, batch, logs=None):
        self._begin = batch

    def on_train_batch_end(self, batch, logs=None):
        # One call per graph execution: steps_per_execution steps (fewer at
        # the end of an epoch).
        point = self.clock.step_end(batch - self._begin + 1, self.evaluate)
        if point:
            log(f"{self.label} step {point['steps']}: held-out loss {point['loss']:.4f} "
                f"at {point['train_seconds']:.1f}s")
        if self.clock.done():
            self.model.stop_training = True




def modelzoo_gpt(cfg, extra_args, train_text, vocabulary, heldout, label, baton=None):
    """Trains `recipes/shakespeare_gpt.py`'s model for the section's time budget.

    The recipe's own pieces as its task uses them: `char_sequences` on the
    train text, `trainer.build_model` and `trainer.compile_args` from the
    recipe's config (AdamW, warm-up, cosine over the recipe's epochs,
    clipping, steps_per_execution), `model.fit` for the recipe's epochs,
    stopped when the budget is spent.
    """
    args = [*cfg.gpt_args, *extra_args]
    flag_values, model_name, model_kwargs = common.recipe_settings(
        "shakespeare_gpt", args, data_kwargs=("sequence_length",))
    keras.backend.clear_session()
    keras.utils.set_random_seed(cfg.seed)
    seq, batch = flag_values.sequence_length, flag_values.batch_size
    if seq < heldout[0].shape[1]:
        raise ValueError(f"--sequence_length={seq}: the gpt section scores "
                         f"{heldout[0].shape[1]}-char held-out windows; it needs at least that")
    train_ds = pipelines.char_sequences(train_text, vocabulary, seq, batch, True, cfg.seed,
                                        max_examples=flag_values.max_train_examples)
    steps_per_epoch = trainer.count(train_ds)
    with tf.distribute.get_strategy().scope():
        model = trainer.build_model(model_name, vocab_size=len(vocabulary), **model_kwargs)
        compile_model(model, **trainer.compile_args(flag_values.config, steps_per_epoch))
    evaluate = keras_heldout_loss(model, *heldout)
    clock = common.LossClock(cfg.scale.gpt_budget_s, cfg.scale.gpt_eval_every_s,
                             chars_per_step=batch * seq, baton=baton)
    callback = LossClockCallback(clock, evaluate, label)
    clock.start()
    model.fit(train_ds, epochs=flag_values.epochs, callbacks=[callback], verbose=0)
    clock.finish(evaluate)
    result = clock.summary()
    # The optimizer's fields, then the recipe's flags (learning_rate is in both).
    result["settings"] = {**flag_values.config.optimizer.as_dict(), **dict(
        recipe="recipes/shakespeare_gpt.py", recipe_args=args, model=model_name,
        model_kwargs=_jsonable(model_kwargs), **recipe_flags_summary(flag_values),
        sequence_length=seq, steps_per_epoch=steps_per_epoch,
        parameters=int(model.count_params()),
        input="tf.data char_sequences (non-overlapping windows at a random offset each "
              "epoch, shuffle, batch)",
    )}
    keras.backend.clear_session()
    return result


def gpt_section(cfg):
    """modelzoo's GPT recipe vs a nanoGPT-style PyTorch GPT, same training time each.

    Both train on the characters of the `tiny_shakespeare` train split and
    are scored, off the clock, every `gpt_eval_every_s` training seconds on
    the same held-out windows: every non-overlapping 64-char window of the
    test split, loss = mean cross-entropy in nats/char over all positions.
    Ids come from modelzoo's `text.chars.char_vocabulary` of the train text.
    """
    warm_up()
    start = time.perf_counter()
    train_text, test_text = corpus_text(cfg, "train"), corpus_text(cfg, "test")
    vocabulary = char_vocabulary(train_text)
    block = 64  # nanoGPT's context; the held-out windows are the same for every contender
    heldout = common.heldout_windows_lm(common.encode(test_text, vocabulary), block)
    data_seconds = time.perf_counter() - start
    log(f"[gpt] {len(train_text):,} train chars, {len(heldout[0])} held-out windows of "
        f"{block}, vocabulary {len(vocabulary)}, budget {cfg.scale.gpt_budget_s:.0f}s each")
    contenders = {}
    with tempfile.TemporaryDirectory() as tmp:
        data_path = os.path.join(tmp, "data.npz")
        np.savez(data_path, train_ids=common.encode(train_text, vocabulary),
                 heldout_x=heldout[0], heldout_y=heldout[1],
                 vocab_size=np.array(len(vocabulary)))
        # The recipe defaults, then each --gpt_try, each paired with a run of
        # the PyTorch GPT of its own, the two taking turns on the machine.
        pairs = [("", [], "[gpt] modelzoo")] + [
            (f"_try_{i}", shlex.split(extra), f"[gpt] try {i} {extra}")
            for i, extra in enumerate(cfg.gpt_try, 1)
        ]
        for suffix, extra, label in pairs:
            baton_dir = tempfile.mkdtemp(dir=tmp)
            worker = start_torch_worker(cfg, data_path, "torch_gpt", "[gpt]", tmp, baton_dir)
            baton = None
            if not isinstance(worker, dict):
                process = worker.process
                baton = common.Baton(baton_dir, "modelzoo", "baseline", first="baseline",
                                     other_alive=lambda p=process: p.poll() is None)
            try:
                mz = modelzoo_gpt(cfg, extra, train_text, vocabulary, heldout, label, baton)
            except BaseException:
                if baton:
                    worker.process.kill()
                raise
            if baton:
                baton.finish()  # never leave the worker waiting for a turn
            contenders[suffix.lstrip("_") or "modelzoo"] = mz
            contenders["baseline" + suffix] = worker if isinstance(worker, dict) else worker()
    contenders["data"] = {
        "train_chars": len(train_text), "test_chars": len(test_text),
        "vocabulary_size": len(vocabulary), "heldout_windows": len(heldout[0]),
        "heldout_window_chars": block, "heldout_split": "test",
        "data_load_seconds": round(data_seconds, 3),
    }
    return contenders


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
        out["mlp"]["model"] = dict(name=model_name, **_jsonable(model_kwargs))
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
            sequence_length=flag_values.sequence_length, **_jsonable(model_kwargs),
            input_chars=TEXT_CHUNK_CHARS)
        log(f"[serving] transformer: p50 {out['transformer']['batch1']['p50_ms']:.3f} ms, "
            f"{out['transformer']['batched']['examples_per_s']:.0f} examples/s at batch "
            f"{scale.serving_batch}")
    return out


SECTIONS = {
    "mlp": mlp_section,
    "cnn": cnn_section,
    "transformer": transformer_section,
    "lstm": lstm_section,
    "gpt": gpt_section,
    "serving": serving_section,
}
