"""Sections 1 and 2: the MLP and the CNN on Fashion-MNIST, against their peers."""

import json
import os
import subprocess
import sys
import tempfile
import time

import keras
import numpy as np

from benchmarks import baselines, common
from benchmarks.sections.shared import IMAGE_DATASET, dense_train_flops, fit_timed, image_arrays, image_splits, log, modelzoo_image, roofline, warm_up

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
        contender.update(roofline_bound(contender, roof["gflops"]))
    return {"roofline": roof, "baseline": baseline, "modelzoo": modelzoo,
            "dataset": IMAGE_DATASET, "examples": {"train": len(x_train), "test": len(x_test)}}


def roofline_bound(contender, gflops):
    """The least time to the target at this recipe's sample efficiency (issue #26).

    The training examples of the epochs to the first epoch end at or above
    the target accuracy, times the training FLOPs per example, at 100 % of
    the measured roofline (`gflops`). None in each field when the target
    was not reached.
    """
    epochs = (common.first_at_target(contender["curve"], contender["target_accuracy"])
              or {}).get("epoch")
    examples = epochs and epochs * contender["examples_per_epoch"]
    seconds = examples and examples * contender["train_flops_per_example"] / (gflops * 1e9)
    return {"epochs_to_target": epochs, "examples_to_target": examples,
            "seconds_at_roofline": seconds and round(seconds, 4)}


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


def start_torch_worker(cfg, data_path, worker, label, tmp, baton_dir=None, extra=()):
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
        f"--gpt_long_budget={cfg.scale.gpt_long_budget_s}", *extra,
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
