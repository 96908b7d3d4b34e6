"""Tries recipe settings on the real data, timed exactly as run.py times modelzoo.

    .venv/bin/python benchmarks/tune.py --recipe=mnist_mlp \\
        --try="--batch_size=256 --learning_rate=3e-3" --try="--batch_size=512 --epochs=8"

Each --try is a set of recipe flags on top of the recipe's defaults; each is
trained in a fresh process for all its epochs (so the final accuracy is
known), or until the target with --stop_at_target. Prints a Markdown table and writes the
measurements to --out (JSON).
"""

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from benchmarks import common, report  # noqa: E402

TARGETS = {"mnist_mlp": common.MLP_TARGET, "mnist_cnn": common.CNN_TARGET}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="benchmarks/tune.py", description=__doc__.split("\n")[0])
    parser.add_argument("--recipe", choices=sorted(TARGETS), required=True)
    parser.add_argument("--try", dest="tries", action="append", default=[],
                        help="recipe flags to try (repeatable); '' is the defaults")
    parser.add_argument("--data_dir", default=os.path.join(ROOT, "data", "tfds"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tiny", action="store_true")
    parser.add_argument("--stop_at_target", action="store_true",
                        help="stop each try at the target (quicker; final acc then unknown)")
    parser.add_argument("--out", default=None, help="JSON file for the measurements")
    parser.add_argument("--worker_out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.scale = common.dataclasses.replace(common.TINY if args.tiny else common.FULL,
                                            recipe_epochs=None)
    return args


def worker(args):
    from benchmarks import sections

    sections.warm_up()
    splits = sections.image_splits(args)
    recipe_args = shlex.split(args.tries[0])
    result = sections.modelzoo_image(args.recipe, recipe_args, splits, args,
                                     TARGETS[args.recipe], stop_at_target=args.stop_at_target,
                                     label=f"[tune] {args.tries[0] or 'defaults'}")
    report.write_json(result, args.worker_out)


def main(argv=None):
    args = parse_args(argv)
    if args.worker_out:
        return worker(args)
    rows = []
    for tried in args.tries or [""]:
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "r.json")
            command = [sys.executable, os.path.abspath(__file__), f"--recipe={args.recipe}",
                       f"--try={tried}", f"--data_dir={args.data_dir}", f"--seed={args.seed}",
                       f"--worker_out={out}", *(["--tiny"] if args.tiny else []),
                       *(["--stop_at_target"] if args.stop_at_target else [])]
            load = common.load_average()
            subprocess.run(command, check=True)
            with open(out) as f:
                result = json.load(f)
        result["load_average_start"] = load
        rows.append(result)
        print(table(args.recipe, rows), flush=True)
    if args.out:
        report.write_json({"recipe": args.recipe, "machine": common.machine_info(),
                           "tries": rows}, args.out)
    return 0


def table(recipe, rows):
    target = TARGETS[recipe]
    lines = [f"| {recipe} flags | epochs | batch | lr | spe | time to {target:.0%} (epoch) "
             "| final acc | ex/s | train s | load |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        s = r["settings"]
        tta = r["time_to_target_s"]
        epoch = (common.first_at_target(r["curve"], target) or {}).get("epoch")
        shown = f"{tta:.2f} s (ep {epoch})" if tta is not None else "not reached"
        final = f"{r['final_accuracy']:.4f}"
        if s.get("stop_at_target") and len(r["curve"]) < s["epochs"]:
            final += " (stopped at target)"
        lines.append(
            f"| `{' '.join(s['recipe_args']) or 'defaults'}` | {s['epochs']} | {s['batch_size']} "
            f"| {s['learning_rate']:g} | {s['steps_per_execution']} | {shown} "
            f"| {final} | {r['examples_per_s']:,.0f} | {r['train_seconds']:.2f} "
            f"| {r['load_average_start'][0]} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
