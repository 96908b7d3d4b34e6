"""Trains every recipe with its default flags on its real dataset, offline.

    .venv/bin/python benchmarks/reproduce.py                  # everything (make reproduce)
    .venv/bin/python benchmarks/reproduce.py --only=mnist_mlp,mnist_cnn

Data: Fashion-MNIST from Debian's `dataset-fashion-mnist`, the rest from
`../shared/data` (MNIST and Tiny Shakespeare prepared by TFDS's own builders
from their original downloads, IMDB and the SQuAD dev articles imported).
Each recipe runs as a command, as a user would run it, and its JSON summary
gives our value; the value its published export gives on the raw test
inputs (`export_metrics`) stands beside it. Writes `<out>/reproduce.json` and
`<out>/reproduce.md`. A missed floor is a "**no**" in the table, not a
failure; the exit code is non-zero only if a recipe could not run.
"""

import argparse
import datetime
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from benchmarks import common  # noqa: E402 - needs ROOT on sys.path
from modelzoo.data import squad  # noqa: E402

# The runs in table order: the sliding-window baseline (benchmarks/squad_baseline.py,
# not a recipe), then each experiment's registered `reproduce` rows, in name order.
# A row holds the flags beyond --data_dir/--seed, the summary metric (and a
# second one shown beside it), the published reference, whether higher is
# better, and a floor (a number, or `floor_from`: an earlier row's metric).
SLIDING_WINDOW = dict(
    run="squad_sliding_window", recipe=None, dataset=squad.SPLIT_NAME, split="validation (1,975)",
    metric="f1", also="exact_match",
    reference="sliding window + distance: EM 13.2, F1 20.2 on the official dev "
    "(Rajpurkar et al. 2016, Table 5), here on this split",
    source="benchmarks/squad_baseline.py",
)


def recipe_runs():
    """The baseline's row, then every experiment's reproduce rows with its recipe named."""
    from modelzoo import configs

    runs = [SLIDING_WINDOW]
    for name in configs.experiments():
        runs += [dict(spec, recipe=name) for spec in configs.reproduce_rows(name)]
    for i, spec in enumerate(runs):
        if spec.get("floor_from") and spec["floor_from"] not in [r["run"] for r in runs[:i]]:
            raise ValueError(f"reproduce row {spec['run']!r}: floor_from={spec['floor_from']!r} "
                             "names no earlier row")
    return tuple(runs)


RUNS = recipe_runs()


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="benchmarks/reproduce.py", description=__doc__.split("\n")[0])
    parser.add_argument("--data_dir", default=os.path.join(ROOT, "data", "real"),
                        help="TFDS data dir for the real datasets (default: %(default)s)")
    parser.add_argument("--manual_dir", default=os.path.join(ROOT, "..", "shared", "data", "tfds_manual"),
                        help="TFDS's original downloads (default: %(default)s)")
    parser.add_argument("--export_dir", default=os.path.join(ROOT, "saved_models"),
                        help="where the recipes publish (default: %(default)s)")
    parser.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "results"),
                        help="output folder (default: %(default)s)")
    parser.add_argument("--only", default=None, help="comma-separated run names")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--checkpoint", default=None,
                        help="bert_pretrain's --output_dir (default: a new folder under "
                        "checkpoints/)")
    parser.add_argument("--preset", default=None,
                        help="the bert_pretrain preset squad_qa_pretrained starts from (a "
                        "folder, name or name/version): the one bert_pretrain writes when it "
                        "runs too; squad_qa_pretrained run alone needs it")
    args = parser.parse_args(argv)
    known = [r["run"] for r in RUNS]
    args.runs = args.only.split(",") if args.only else known
    unknown = sorted(set(args.runs) - set(known))
    if unknown:
        parser.error(f"--only: unknown run(s) {', '.join(unknown)}; known: {', '.join(known)}")
    if args.preset is None and "squad_qa_pretrained" in args.runs and (
        "bert_pretrain" not in args.runs
    ):
        parser.error("--only=squad_qa_pretrained without bert_pretrain needs --preset=PRESET "
                     "(e.g. --preset=bert_pretrain, the latest one in $MODELZOO_HOME/presets)")
    if args.checkpoint is None and "bert_pretrain" in args.runs:
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d-%H%M%S")
        args.checkpoint = os.path.join(ROOT, "checkpoints", f"bert_pretrain-{stamp}")
    return args


def run_recipe(spec, args):
    """Runs one recipe command; returns its JSON summary (or an error dict)."""
    flags = [f.format(manual=args.manual_dir, checkpoint=args.checkpoint, preset=args.preset)
             for f in spec["flags"]]
    command = [sys.executable, os.path.join(ROOT, "recipes", f"{spec['recipe']}.py"),
               f"--data_dir={args.data_dir}", "--download=false", f"--seed={args.seed}",
               f"--export_dir={args.export_dir}", *flags]
    print("$", " ".join(command), file=sys.stderr, flush=True)
    result = subprocess.run(command, capture_output=True, text=True,
                            env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    if result.returncode != 0:
        return {"error": (result.stderr.strip().splitlines() or ["no output"])[-1]}
    return json.loads(result.stdout.strip().splitlines()[-1])


def run_baseline(args):
    """The sliding-window baseline's summary, shaped as a recipe's."""
    from benchmarks import squad_baseline

    start = time.time()
    scores = squad_baseline.baseline_scores(
        squad_baseline.load_examples(args.data_dir, "validation"))
    return {"metrics": scores, "wall_time_s": round(time.time() - start, 1)}


def row(spec, summary, earlier):
    """One table row from a run's summary; `earlier` maps run names to rows."""
    metric = spec["metric"]
    ours = summary.get("metrics", {}).get(metric)
    export_metric = spec.get("export_metric", metric)
    exported = (summary.get("export_metrics") or {}).get(export_metric)
    trained = summary.get("metrics", {}).get(export_metric)
    floor = spec.get("floor")
    if spec.get("floor_from"):
        floor = (earlier.get(spec["floor_from"]) or {}).get("ours")
    met = meets(spec, ours, floor)
    return dict(
        run=spec["run"], dataset=spec["dataset"], split=spec["split"], metric=metric,
        ours=ours, also=spec.get("also"),
        also_value=summary.get("metrics", {}).get(spec.get("also")), export_metric=export_metric, export_value=exported, trained_value=trained,
        export_gap=None if exported is None or trained is None else round(abs(exported - trained), 6),
        train_time_s=summary.get("train_time_s"), wall_time_s=summary.get("wall_time_s"),
        epochs=summary.get("epochs_run"), floor=floor, met=met,
        reference=spec["reference"], source=spec["source"], error=summary.get("error"),
        summary=summary,
    )


def with_floors(rows):
    """`rows` with each `floor_from` floor taken from the row of this table.

    Partial reruns may run side by side; the row a floor comes from may have
    been rerun after the row that uses it.
    """
    by_run = {r["run"]: r for r in rows}
    out = []
    for r in rows:
        spec = next(s for s in RUNS if s["run"] == r["run"])
        source = by_run.get(spec.get("floor_from") or "")
        if source is not None:
            r = dict(r, floor=source["ours"], met=meets(spec, r["ours"], source["ours"]))
        out.append(r)
    return out


def meets(spec, ours, floor):
    """Whether `ours` is on the right side of `floor`; None if either is missing."""
    if ours is None or floor is None:
        return None
    return ours <= floor if spec.get("lower_is_better") else ours >= floor


def markdown(rows, machine):
    lines = [
        f"Reproduction run of {machine['date']} on {machine['cores']} cores "
        f"({machine['cpu']}). Command: `make reproduce`. Training time is the sum of "
        "the epochs; the load average after each run is beside it (2 cores: above 2, "
        "other work was competing for them).",
        "",
        "| recipe | dataset, split | metric | ours | export on raw inputs (trained) | "
        "training time | reference (source) | floor | met? |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if r["error"]:
            lines.append(f"| {r['run']} | {r['dataset']} | {r['metric']} | error: {r['error']} "
                         "| | | | | **no** |")
            continue
        export = "—" if r["export_value"] is None else (
            f"{r['export_metric']} {r['export_value']:.4f} ({r['trained_value']:.4f})")
        time_s = "—" if r["train_time_s"] is None else f"{r['train_time_s']:.0f} s, {r['epochs']} epochs"
        if r.get("load_after"):
            time_s += f" (load {r['load_after']})"
        floor = "—" if r["floor"] is None else (
            f"{'≤' if r['metric'] == 'loss' else '≥'} {r['floor']:.4g}")
        met = "—" if r["met"] is None else ("yes" if r["met"] else "**no**")
        ours = "—" if r["ours"] is None else f"{r['ours']:.4f}"
        if r.get("also_value") is not None:
            ours += f" ({r['also']} {r['also_value']:.4f})"
        lines.append(f"| {r['run']} | {r['dataset']}, {r['split']} | {r['metric']} | {ours} | "
                     f"{export} | {time_s} | {r['reference']} ({r['source']}) | {floor} | {met} |")
    lines.append("| flowers_resnet50 | tf_flowers | accuracy | not measurable offline: no "
                 "tf_flowers and no ImageNet weights here | | | | | — |")
    return "\n".join(lines) + "\n"


def load_average():
    return " ".join(map(str, common.load_average() or []))


def machine_info():
    return dict(date=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                cores=os.cpu_count(), cpu=common.cpu_model(), load_start=load_average())


def main(argv=None):
    args = parse_args(argv)
    machine = machine_info()
    rows, failed = [], False
    for spec in RUNS:
        if spec["run"] not in args.runs:
            continue
        summary = run_recipe(spec, args) if spec["recipe"] else run_baseline(args)
        failed |= "error" in summary
        if spec["run"] == "bert_pretrain" and summary.get("preset_path"):
            args.preset = summary["preset_path"]  # the fine-tuning row starts from this run's
        earlier = {r["run"]: r for r in rows}
        if args.only and os.path.exists(os.path.join(args.out, "reproduce.json")):
            with open(os.path.join(args.out, "reproduce.json")) as f:
                earlier = {**{r["run"]: r for r in json.load(f)["rows"]}, **earlier}
        rows.append(dict(row(spec, summary, earlier), date=machine_info()["date"],
                         load_after=load_average()))
        print(json.dumps({k: v for k, v in rows[-1].items() if k != "summary"}), flush=True)
    os.makedirs(args.out, exist_ok=True)
    json_path = os.path.join(args.out, "reproduce.json")
    if args.only and os.path.exists(json_path):
        # A partial rerun replaces its rows in the last full run's table.
        with open(json_path) as f:
            previous = {r["run"]: r for r in json.load(f)["rows"]}
        previous.update({r["run"]: r for r in rows})
        rows = [previous[spec["run"]] for spec in RUNS if spec["run"] in previous]
        rows = with_floors(rows)
    with open(json_path, "w") as f:
        json.dump({"machine": machine, "rows": rows}, f, indent=1)
    with open(os.path.join(args.out, "reproduce.md"), "w") as f:
        f.write(markdown(rows, machine))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
