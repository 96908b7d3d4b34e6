"""Section e2e: each measured recipe as a user runs it, from command to exit.

Not in `all` (`make bench-e2e`, `--sections=e2e`): a round costs ~8 minutes.
Each recipe runs as a command, as `make reproduce` runs it (its registered
flags, real data, `--seed`), exporting into a temporary folder. The wall
time from `Popen` to exit stands beside the training time (the sum of the
epochs), and the recipe's own `phase_seconds` (`trainer.PhaseClock`) say
where the rest goes: process start-up (imports, flags; the command's wall
time minus the recipe's in-process `wall_time_s`), set-up, data (TFDS
preparation on a first run, reading, a vocabulary), build and compile, the
fit beyond its epochs (the test evaluation), the export with its
fresh-process verification and warm-up records, the export's metrics on the
raw test inputs, and the preset. The first epoch's excess over the median
epoch is the tracing (and cache filling) it paid.
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from benchmarks import common
from benchmarks.sections.shared import log

# (run, extra flags): the GPT at 2 epochs, as the comparison with nanoGPT's
# 2,000-step CPU run reads it; the others at their defaults.
E2E_RUNS = (("mnist_mlp", ()), ("imdb_transformer", ()), ("shakespeare_gpt", ("--epochs=2",)))


def e2e_section(cfg):
    from benchmarks import reproduce

    specs = {spec["run"]: spec for spec in reproduce.RUNS}
    manual = os.path.join(common.ROOT, "..", "shared", "data", "tfds_manual")
    results = {}
    with tempfile.TemporaryDirectory() as export_dir:
        for run, extra in E2E_RUNS:
            spec = specs[run]
            flags = [f.format(manual=manual, checkpoint="") for f in spec["flags"]]
            command = [sys.executable, os.path.join(common.ROOT, "recipes", f"{spec['recipe']}.py"),
                       f"--data_dir={cfg.data_dir}", "--download=false", f"--seed={cfg.seed}",
                       f"--export_dir={export_dir}", *flags, *extra]
            if cfg.tiny:
                command += ["--epochs=1", "--max_train_examples=256", "--max_eval_examples=128"]
            log(f"[e2e] $ {' '.join(command)}")
            start = time.perf_counter()
            done = subprocess.run(command, capture_output=True, text=True,
                                  env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
            wall = time.perf_counter() - start
            if done.returncode != 0:
                results[run] = {"error": (done.stderr.strip().splitlines() or ["no output"])[-1],
                                "wall_s": round(wall, 2)}
                continue
            summary = json.loads(done.stdout.strip().splitlines()[-1])
            results[run] = breakdown(summary, wall, spec["metric"],
                                     " ".join([f"recipes/{spec['recipe']}.py", *extra]))
            log(f"[e2e] {run}: {wall:.1f}s from command to exit, "
                f"{results[run]['train_s']}s training")
    return results


def breakdown(summary, wall, metric, command):
    """The wall time of one recipe command, split into training and fixed costs."""
    phases = dict(summary.get("phase_seconds") or {})
    epochs = summary.get("epoch_seconds") or []
    train = summary.get("train_time_s")
    inside = summary.get("wall_time_s")
    fixed = {"process_start_up": round(wall - inside, 2) if inside is not None else None}
    fixed.update({k: v for k, v in phases.items() if k != "fit_and_evaluate"})
    if "fit_and_evaluate" in phases and train is not None:
        # model.fit's own overhead and the test-set evaluation after it.
        fixed["evaluation_and_fit_overhead"] = round(phases["fit_and_evaluate"] - train, 2)
    if len(epochs) > 1:
        fixed["first_epoch_excess"] = round(epochs[0] - statistics.median(epochs[1:]), 2)
    return {"command": command, "wall_s": round(wall, 2), "train_s": train,
            "in_process_wall_s": inside, "epochs": summary.get("epochs_run"),
            "epoch_seconds": epochs, "metric": metric,
            "value": (summary.get("metrics") or {}).get(metric), "fixed_seconds": fixed,
            "phase_seconds": phases}
