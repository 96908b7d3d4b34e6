"""What the sections share: data, FLOP counts, timed fits, modelzoo's recipe models."""

import json
import sys
import time
import warnings

import keras
import numpy as np
import tensorflow as tf

from benchmarks import common
from modelzoo import trainer
from modelzoo.data import pipelines
from modelzoo.data.loading import load_splits
from modelzoo.registry import get_model
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
        model=model_name, model_kwargs=jsonable(model_kwargs),
        **recipe_flags_summary(flag_values), precision=precision,
        lr_schedule="cosine decay over all steps",
        optimizer="Adam", input="tf.data image_pipeline (in-memory split, a permutation per epoch, "
              "one gather per batch, prefetch)",
        stop_at_target=stop_at_target,
    )
    result["train_flops_per_example"] = layer_train_flops(model)
    return result


def jsonable(value):
    return json.loads(json.dumps(value, default=list))
