"""Measures modelzoo against its peers, all in one run.

    .venv/bin/python benchmarks/run.py                       # everything, full size
    .venv/bin/python benchmarks/run.py --sections=mlp,serving
    .venv/bin/python benchmarks/run.py --tiny --out /tmp/bench   # a quick smoke run

Sections (each runs in a fresh Python process started by this script, so no
contender inherits another's graphs, caches or thread pools):

    mlp          modelzoo's MLP recipe vs the TF quickstart MLP, Fashion-MNIST;
                 time to 88 % test accuracy, examples/s, % of fp32 matmul roofline
    cnn          modelzoo's CNN recipe vs a PyTorch loop of the same CNN;
                 time to 91 %, examples/s (PyTorch in its own process)
    transformer  training examples/s vs keras-io text_classification_with_transformer
    lstm         training chars/s vs keras-io lstm_character_level_text_generation,
                 and in-graph generation vs a model.predict-per-character loop
    gpt          modelzoo's GPT recipe vs a nanoGPT-style PyTorch GPT, taking turns,
                 each stopped at held-out loss 1.88: time to 1.88, training chars/s
                 (PyTorch in its own process)
    serving      SavedModel p50/p99 latency at batch 1 and throughput at batch 256
    gpt_long     not in 'all' (~7 min a round): the gpt pair trained for 600 s each,
                 held-out loss at 100, 300 and 600 s (`make bench-long`)
    e2e          not in 'all' (~8 min a round): recipe commands timed from command to
                 exit beside their training time, and where the rest goes (`make bench-e2e`)

Every section runs --rounds times (default 3), round after round: round r
runs every chosen section once, each with baseline and contender back to back
and seed --seed + r. Each table row is the median over the rounds with its
min and max (report.aggregate_rows).

Writes <out>/results.json, <out>/results.md, <out>/accuracy_vs_time.png and
<out>/gpt_loss_vs_time.png. Timings are only measured and reported, never
asserted. Data: the real Fashion-MNIST (Debian) and the real Tiny Shakespeare
(prepared by TFDS's own builder from ../shared/data/tfds_manual/input.txt) in
one --data_dir, data/real as `make bench` and `make reproduce` use (see
benchmarks/README.md).
"""

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from benchmarks import common, report  # noqa: E402 - needs ROOT on sys.path

SECTIONS = ("mlp", "cnn", "transformer", "lstm", "gpt", "serving")
# Long measurements, run only when named (`make bench-long`).
EXTRA_SECTIONS = ("gpt_long", "e2e")
ALIASES = {"all": SECTIONS, "text": ("transformer", "lstm", "gpt")}


# Sections whose recipe defaults can be changed with --<name>_args; the GPT's
# is trained in the gpt section and timed in the lstm section's generation.
RECIPE_ARGS = ("mlp", "cnn", "transformer", "lstm", "gpt")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="benchmarks/run.py",
        description="Measure modelzoo against its peers (see benchmarks/README.md).",
    )
    parser.add_argument("--data_dir", default=os.path.join(ROOT, "data", "real"),
                        help="TFDS data dir holding fashion_mnist and tiny_shakespeare "
                             "(default: %(default)s)")
    parser.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "results"),
                        help="output folder (default: %(default)s)")
    parser.add_argument("--sections", default="all",
                        help=f"comma-separated: {', '.join(SECTIONS)}, 'text' "
                             "(= transformer,lstm,gpt) or 'all' (default)")
    parser.add_argument("--tiny", action="store_true",
                        help="a quick smoke run: a few hundred examples, 2 epochs, few timing "
                             "calls; the figures mean nothing")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of every contender in the first round (round r: seed + r)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="paired rounds: every section runs this many times, each row is "
                             "the median with min and max (default: %(default)s)")
    for name in RECIPE_ARGS:
        recipe = {"mlp": "mnist_mlp", "cnn": "mnist_cnn", "transformer": "imdb_transformer",
                  "lstm": "shakespeare_lstm", "gpt": "shakespeare_gpt"}[name]
        parser.add_argument(f"--{name}_args", default="",
                            help=f"extra flags for recipes/{recipe}.py's defaults, e.g. "
                                 "'--batch_size=512 --learning_rate=4e-3'")
    parser.add_argument("--torch_momentum", type=float, default=0.9,
                        help="SGD momentum of the PyTorch CNN (the classic example: 0.5)")
    parser.add_argument("--cnn_full", action="store_true",
                        help="train both CNNs for all their epochs instead of stopping "
                             "each at 91 %% test accuracy")
    parser.add_argument("--gpt_budget", type=float, default=None,
                        help="the gpt section's cap on each GPT's training seconds; each "
                             "stops at held-out 1.88 (default: 300, --tiny: 3)")
    parser.add_argument("--gpt_long_budget", type=float, default=None,
                        help="training seconds of each GPT in the gpt_long section "
                             "(default: 600, --tiny: 4)")
    parser.add_argument("--gpt_try", action="append", default=[],
                        help="one more modelzoo GPT contender in the gpt section: flags on "
                             "top of --gpt_args, e.g. '--batch_size=32 --learning_rate=2e-3' "
                             "(repeatable; for tuning within one run)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--worker_in", help=argparse.SUPPRESS)
    parser.add_argument("--worker_out", help=argparse.SUPPRESS)
    parser.add_argument("--worker_baton", help=argparse.SUPPRESS)
    parser.add_argument("--worker_gpt_long", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    try:
        args.section_list = expand_sections(args.sections)
    except ValueError as e:
        parser.error(str(e))
    args.scale = common.TINY if args.tiny else common.FULL
    if args.cnn_full:
        args.scale = common.dataclasses.replace(args.scale, cnn_stop_at_target=False)
    if args.gpt_budget is not None:
        args.scale = common.dataclasses.replace(args.scale, gpt_budget_s=args.gpt_budget)
    if args.gpt_long_budget is not None:
        args.scale = common.dataclasses.replace(args.scale,
                                                gpt_long_budget_s=args.gpt_long_budget)
    for name in RECIPE_ARGS:
        setattr(args, f"{name}_args", shlex.split(getattr(args, f"{name}_args")))
    return args


def expand_sections(text):
    chosen = []
    for name in (s.strip() for s in text.split(",") if s.strip()):
        names = ALIASES.get(name, (name,))
        for n in names:
            if n not in SECTIONS + EXTRA_SECTIONS:
                raise ValueError(f"--sections: unknown section {n!r}; use "
                                 f"{', '.join(SECTIONS + EXTRA_SECTIONS)}")
            if n not in chosen:
                chosen.append(n)
    if not chosen:
        raise ValueError("--sections is empty")
    return [n for n in SECTIONS + EXTRA_SECTIONS if n in chosen]


def config_record(args):
    return {
        "data_dir": args.data_dir, "sections": args.section_list, "tiny": args.tiny,
        "seed": args.seed, "rounds": args.rounds, "scale": common.dataclasses.asdict(args.scale),
        "recipe_args": {n: getattr(args, f"{n}_args") for n in RECIPE_ARGS},
        "gpt_tries": args.gpt_try,
        "torch_momentum": args.torch_momentum, "command": " ".join(sys.argv),
    }


# --- worker side -------------------------------------------------------------


def worker_main(args):
    """Runs one section (or the PyTorch CNN) and writes its JSON result."""
    try:
        if args.worker == "torch_cnn":
            # No TensorFlow here: only NumPy, PyTorch and the plain helpers.
            from benchmarks import baselines

            data = dict(__import__("numpy").load(args.worker_in))
            result = baselines.torch_cnn_train(
                data, epochs=args.scale.torch_max_epochs, target=common.CNN_TARGET,
                stop_at_target=args.scale.cnn_stop_at_target, seed=args.seed,
                momentum=args.torch_momentum,
                log=lambda m: print(m, file=sys.stderr, flush=True),
            )
        elif args.worker == "torch_gpt":
            # No TensorFlow here either: NumPy, PyTorch and the plain helpers.
            from benchmarks import nanogpt_baseline

            data = dict(__import__("numpy").load(args.worker_in))
            baton = None
            if args.worker_baton:
                parent = os.getppid()
                baton = common.Baton(args.worker_baton, "baseline", "modelzoo", first="baseline",
                                     other_alive=lambda: os.getppid() == parent)
            mode = common.gpt_mode(args.scale, args.worker_gpt_long)
            result = nanogpt_baseline.train(
                data, budget_s=mode["budget_s"],
                eval_every_s=args.scale.gpt_eval_every_s, seed=args.seed,
                log=lambda m: print(m, file=sys.stderr, flush=True), baton=baton,
                stop_at_target=mode["stop_at_target"], loss_at_s=mode["loss_at_s"],
            )
        else:
            from benchmarks import sections

            result = sections.SECTIONS[args.worker](args)
        code = 0
    except Exception as e:  # noqa: BLE001 - reported in the results, not raised
        traceback.print_exc()
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        result = {"error": f"{type(e).__name__}: {first}"}
        code = 1
    report.write_json(result, args.worker_out)
    return code


# --- driver side -------------------------------------------------------------


def run_section(name, argv):
    """Runs section `name` in a fresh process; returns its result dict.

    `argv` ends with the round's `--seed`, which overrides an earlier one.
    """
    with tempfile.TemporaryDirectory() as tmp:
        out_path = os.path.join(tmp, "result.json")
        env = dict(os.environ)
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        command = [sys.executable, os.path.abspath(__file__), *argv,
                   f"--worker={name}", f"--worker_out={out_path}"]
        load_start, start = common.load_average(), time.perf_counter()
        done = subprocess.run(command, env=env)
        wall = time.perf_counter() - start
        if os.path.exists(out_path):
            with open(out_path) as f:
                result = json.load(f)
        else:
            result = {"error": f"the {name} worker exited with code {done.returncode} "
                               "and wrote no result"}
    result["run"] = {"wall_s": round(wall, 2), "load_average_start": load_start,
                     "load_average_end": common.load_average()}
    return result


def mark_end(results, start):
    """Records the run's wall time so far and the load average now."""
    results["load_average_end"] = common.load_average()
    results["wall_s"] = round(time.perf_counter() - start, 2)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    if args.worker:
        return worker_main(args)
    os.makedirs(args.out, exist_ok=True)
    results = {
        "machine": common.machine_info(),
        "load_average_start": common.load_average(),
        "config": config_record(args),
        "sections": {},
    }
    start = time.perf_counter()
    # Round after round rather than section after section: a slow stretch of
    # the shared host then hits one round of every section, not every round
    # of one, and the median over rounds filters it out.
    results["rounds"] = []
    for r in range(args.rounds):
        this_round = {}
        results["rounds"].append(this_round)
        for name in args.section_list:
            print(f"== {name}, round {r + 1} of {args.rounds} ==", file=sys.stderr, flush=True)
            this_round[name] = run_section(name, [*argv, f"--seed={args.seed + r}"])
            this_round[name]["run"].update(round=r + 1, seed=args.seed + r)
            # Keep what is done if a later section takes the machine down; the
            # header fields go in too, as a file re-rendered from this one
            # otherwise reads "wall time 0 s" and "at end None".
            mark_end(results, start)
            report.write_json(results, os.path.join(args.out, "results.json"))
    # The first round's full records feed the plots; the table aggregates all.
    results["sections"] = results["rounds"][0]
    mark_end(results, start)
    paths = report.write_all(results, args.out)
    print(paths["markdown_text"])
    failed = sorted({n for rnd in results["rounds"] for n, res in rnd.items() if "error" in res})
    for name in failed:
        errors = [rnd[name]["error"] for rnd in results["rounds"] if "error" in rnd[name]]
        print(f"run.py: error: section {name}: {errors[0]}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
