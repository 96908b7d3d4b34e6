"""Section 3c: the GPT recipe against a nanoGPT-style PyTorch GPT, same training time."""

import os
import shlex
import tempfile
import time

import keras
import numpy as np
import tensorflow as tf

from benchmarks import common
from modelzoo import trainer
from modelzoo.data import pipelines
from modelzoo.text.chars import char_vocabulary
from modelzoo.training import compile_model
from benchmarks.sections.shared import corpus_text, jsonable, log, recipe_flags_summary, warm_up
from benchmarks.sections.image import start_torch_worker

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




def modelzoo_gpt(cfg, extra_args, train_text, vocabulary, heldout, label, baton=None,
                 mode=None):
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
    mode = mode or common.gpt_mode(cfg.scale)
    clock = common.LossClock(mode["budget_s"], cfg.scale.gpt_eval_every_s,
                             chars_per_step=batch * seq, baton=baton,
                             stop_at_target=mode["stop_at_target"], loss_at_s=mode["loss_at_s"])
    callback = LossClockCallback(clock, evaluate, label)
    clock.start()
    model.fit(train_ds, epochs=flag_values.epochs, callbacks=[callback], verbose=0)
    clock.finish(evaluate)
    result = clock.summary()
    # The optimizer's fields, then the recipe's flags (learning_rate is in both).
    result["settings"] = {**flag_values.config.optimizer.as_dict(), **dict(
        recipe="recipes/shakespeare_gpt.py", recipe_args=args, model=model_name,
        model_kwargs=jsonable(model_kwargs), **recipe_flags_summary(flag_values),
        sequence_length=seq, steps_per_epoch=steps_per_epoch,
        parameters=int(model.count_params()),
        input="tf.data char_sequences (non-overlapping windows at a random offset each "
              "epoch, shuffle, batch)",
    )}
    keras.backend.clear_session()
    return result


def gpt_long_section(cfg):
    """The same pair trained for `gpt_long_budget_s` (600 s) each: the loss at 100/300/600 s."""
    return gpt_section(cfg, long=True)


def gpt_section(cfg, long=False):
    """modelzoo's GPT recipe vs a nanoGPT-style PyTorch GPT, each stopped at 1.88.

    With `long`, both train for the whole long budget instead, scored on
    every held-out window (`common.gpt_mode`).

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
    mode = common.gpt_mode(cfg.scale, long)
    all_windows = common.heldout_windows_lm(common.encode(test_text, vocabulary), block)
    heldout = common.spread_subset(*all_windows, mode["heldout_windows"])
    data_seconds = time.perf_counter() - start
    log(f"[gpt] {len(train_text):,} train chars, {len(heldout[0])} held-out windows of "
        f"{block}, vocabulary {len(vocabulary)}, budget {mode['budget_s']:.0f}s each"
        + (", each stopped at the target" if mode["stop_at_target"] else ""))
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
            worker = start_torch_worker(cfg, data_path, "torch_gpt", "[gpt]", tmp, baton_dir,
                                        extra=["--worker_gpt_long"] if long else [])
            baton = None
            if not isinstance(worker, dict):
                process = worker.process
                baton = common.Baton(baton_dir, "modelzoo", "baseline", first="baseline",
                                     other_alive=lambda p=process: p.poll() is None)
            try:
                mz = modelzoo_gpt(cfg, extra, train_text, vocabulary, heldout, label, baton,
                                  mode)
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
        "heldout_windows_in_split": len(all_windows[0]), "mode": jsonable(mode),
        "heldout_window_chars": block, "heldout_split": "test",
        "data_load_seconds": round(data_seconds, 3),
    }
    return contenders
