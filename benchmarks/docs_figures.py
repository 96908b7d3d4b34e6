"""Writes every result figure in README.md and docs/ from benchmarks/results/*.json.

    python benchmarks/docs_figures.py            # rewrite the blocks (make docs)
    python benchmarks/docs_figures.py --check    # exit 1 if a block differs

A generated block sits between marker comments, `<!-- figures:NAME -->` and
`<!-- /figures -->`; everything between them is replaced, nothing outside
them is touched. `make reproduce` and `make bench` run this at their end, and
`benchmarks/docs_figures_test.py` fails when a block differs from what the result
files give (a number edited by hand, or a result file rerun without `make docs`).

The blocks:

- `headline` (README.md): each model and recipe with its result on the real
  data, from `reproduce.json`, linked to its row in docs/reproducing.md.
- `demo` (README.md): the demo's step times and its `modelzoo predict`
  transcript, from `demo.json` (written by `benchmarks/demo_run.py`), and the
  demo recipe's summary line, as the last `make reproduce` run of the same
  command printed it.
- `reproduce` (docs/reproducing.md): the reproduction table, one anchored
  row per run, with the date of each row's run and the load after it.
- `bench-headlines` (docs/benchmarks.md): each judged ratio of `make bench`
  with its spread over every saved run that measured the same contender
  (`results.json` and the `results.json` of each folder under
  `benchmarks/results/`), or "1 run".
- `bench` (docs/benchmarks.md): the full table of the last `make bench` run.

Nothing here imports TensorFlow; it reads JSON and writes Markdown.
"""

import argparse
import glob
import json
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from benchmarks.report import fmt_cells, fmt_met  # noqa: E402 - needs ROOT on sys.path

RESULTS = os.path.join(ROOT, "benchmarks", "results")
BLOCK = re.compile(r"(<!-- figures:([a-z-]+) -->\n)(.*?)(<!-- /figures -->)", re.S)

# Which file holds which block.
FILES = {
    "README.md": ("headline", "demo"),
    os.path.join("docs", "reproducing.md"): ("reproduce",),
    os.path.join("docs", "benchmarks.md"): ("bench-headlines", "bench"),
}


# --- reading -----------------------------------------------------------------


def load_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def public(text):
    """`text` without project-internal references: issue numbers and this checkout's paths."""
    if text is None:
        return ""
    text = re.sub(r";?\s*[^;()]*\bissue #\d+[^;()]*", "", str(text))
    text = re.sub(r"/\S*?/(saved_models|checkpoints)/", r"\1/", text)
    text = re.sub(r"--(data_dir|manual_dir)=\S+", lambda m: f"--{m.group(1)}=" + (
        "DIR" if m.group(1) == "data_dir" else "MANUAL_DIR"), text)
    return text.strip()


def _optional_json(path):
    return load_json(path) if os.path.exists(path) else None


def recipe_of_runs(root=ROOT):
    """Maps each reproduce run name to its recipe file (`recipes/<experiment>.py`).

    Read as text from the experiment registrations in `modelzoo/configs/`
    (`@register_experiment("<experiment>", reproduce=[dict(run="<run>", ...)])`),
    not imported, so this needs no TensorFlow.
    """
    runs = {}
    for path in sorted(glob.glob(os.path.join(root, "modelzoo", "configs", "*.py"))):
        with open(path, encoding="utf-8") as f:
            chunks = re.split(r"""@register_experiment\(\s*["']([a-z0-9_]+)["']""", f.read())
        for experiment, body in zip(chunks[1::2], chunks[2::2]):
            if not os.path.exists(os.path.join(root, "recipes", f"{experiment}.py")):
                continue
            for name in re.findall(r"""\brun=["']([a-z0-9_]+)["']""", body):
                runs[name] = f"{experiment}.py"
    return runs


def bench_runs(results_dir=RESULTS):
    """Every saved `make bench` result: (path relative to results_dir, data), the main one first."""
    paths = [os.path.join(results_dir, "results.json")]
    paths += sorted(glob.glob(os.path.join(results_dir, "*", "results.json")))
    return [(os.path.relpath(p, results_dir), load_json(p)) for p in paths if os.path.exists(p)]


# --- README: headline and demo -----------------------------------------------

DATASET_NAMES = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST", "imdb_reviews": "IMDB reviews",
                 "tiny_shakespeare": "Tiny Shakespeare", "squad": "SQuAD v1.1 dev articles"}


def _dataset(row):
    name = row["dataset"].split(" ")[0]
    return DATASET_NAMES.get(name, name)


# The README's row order: by model kind, simplest first.
HEADLINE_ORDER = ["mnist_mlp", "fashion_mnist_mlp", "mnist_cnn", "mnist_vit", "imdb_transformer",
                  "shakespeare_lstm", "shakespeare_gpt", "bert_pretrain", "squad_qa",
                  "squad_qa_pretrained"]


def headline_value(row):
    """The headline figure of one reproduce row, e.g. 'accuracy 0.9803'."""
    if row.get("error"):
        return "error: " + public(row["error"])
    metric, ours = row["metric"], row["ours"]
    if metric == "f1":
        text = f"F1 {ours:.3f}"
        if row.get("also_value") is not None:
            text += f", EM {row['also_value']:.3f}"
    elif metric == "loss":
        unit = " nats/char" if "tiny_shakespeare" in row["dataset"] else ""
        text = f"test loss {ours:.3f}{unit}" if unit else f"held-out loss {ours:.3f}"
    else:
        text = f"{metric} {ours:.4f}"
    if row.get("met") is False:
        text += " (below its floor)"
    return text


def headline(reproduce, recipes):
    lines = ["| model | recipe | data | result on real data (`make reproduce`, `--seed=0`) |",
             "|---|---|---|---|"]
    order = {run: i for i, run in enumerate(HEADLINE_ORDER)}
    rows = sorted(reproduce["rows"], key=lambda r: order.get(r["run"], len(order)))
    for row in rows:
        recipe = recipes.get(row["run"])
        if recipe is None:  # a baseline, not a recipe
            continue
        model = (row.get("summary") or {}).get("model", "")
        run = "" if recipe == f"{row['run']}.py" else f" ({row['run']})"
        lines.append(f"| `{model}` | `{recipe}`{run} | {_dataset(row)} | "
                     f"[{headline_value(row)}](docs/reproducing.md#r-{row['run']}), 1 run |")
    lines.append("| `transfer_classifier` | `flowers_resnet50.py` | tf_flowers | "
                 "not measured offline (no tf_flowers, no ImageNet weights) |")
    return "\n".join(lines)


DEMO_RUN = "fashion_mnist_mlp"


STEP_NAMES = {"import": "import", "train": "train and publish", "predict": "predict"}


def demo_steps(record):
    """The demo's timings and its `modelzoo predict` transcript, from demo.json."""
    steps = {s["step"]: s for s in record["steps"]}
    times = ", ".join(f"{STEP_NAMES.get(s['step'], s['step'])} {s['wall_s']:.0f} s"
                      for s in record["steps"])
    total = sum(s["wall_s"] for s in record["steps"])
    load = record.get("load_start")
    lines = [f"After the install, `make demo`'s three steps took {total:.0f} s on "
             f"{record['cores']} cores ({times}; load average {load[0] if load else '?'} at the "
             f"start), run by `benchmarks/demo_run.py` on {record['date']} with the "
             f"`{record['dataset']}` IDX files. Its last step:"]
    predict = steps.get("predict")
    if predict and predict["returncode"] == 0:
        name = record["dataset"]
        lines += ["", "```",
                  f"$ modelzoo predict --model saved_models/{name}_mlp --dataset {name} "
                  "--data_dir data/tfds --count 3",
                  *predict["stderr"], *predict["stdout"], "```"]
    return lines


def demo(reproduce, record=None):
    row = next(r for r in reproduce["rows"] if r["run"] == DEMO_RUN)
    summary = {k: v for k, v in row["summary"].items()}
    if summary.get("export_path"):
        summary["export_path"] = public(summary["export_path"])
    return "\n".join((demo_steps(record) + [""] if record else []) + [
        f"The recipe step's summary line on Fashion-MNIST, from the last run of the same command "
        f"({row['date']}, `make reproduce`, {reproduce['machine']['cores']} cores: "
        f"{row['summary']['train_time_s']:.1f} s of training, a `wall_time_s` of "
        f"{row['summary']['wall_time_s']:.1f} s):",
        "",
        "```",
        json.dumps(summary),
        "```",
    ])


# --- docs/reproducing.md -----------------------------------------------------


def reproduce_table(reproduce):
    machine = reproduce["machine"]
    lines = [
        f"Machine: {machine['cores']} cores ({machine['cpu']}). Each row is its latest run "
        "(its date is in the row); training time is the sum of the epochs, and the load "
        "average after the run is beside it (above the core count, other work competed "
        "for the cores). The export column is the published SavedModel fed the raw test "
        "inputs, with the in-memory model's figure in brackets.",
        "",
        "| run | dataset, split | metric | ours | export on raw inputs (trained) | "
        "training time | run date | reference (source) | floor | met? |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in reproduce["rows"]:
        anchor = f'<a id="r-{r["run"]}"></a>`{r["run"]}`'
        if r.get("error"):
            lines.append(f"| {anchor} | {r['dataset']} | {r['metric']} | error: "
                         f"{public(r['error'])} | | | {r.get('date', '')} | | | **no** |")
            continue
        ours = "—" if r["ours"] is None else f"{r['ours']:.4f}"
        if r.get("also_value") is not None:
            ours += f" ({r['also']} {r['also_value']:.4f})"
        export = "—" if r["export_value"] is None else (
            f"{r['export_metric']} {r['export_value']:.4f} ({r['trained_value']:.4f})")
        time_s = "—" if r["train_time_s"] is None else (
            f"{r['train_time_s']:.0f} s, {r['epochs']} epochs")
        if r.get("load_after"):
            time_s += f" (load {r['load_after']})"
        floor = "—" if r["floor"] is None else (
            f"{'≤' if r['metric'] == 'loss' else '≥'} {r['floor']:.4g}")
        met = "—" if r["met"] is None else ("yes" if r["met"] else "**no**")
        lines.append(f"| {anchor} | {r['dataset']}, {r['split']} | {r['metric']} | {ours} | "
                     f"{export} | {time_s} | {r.get('date') or 'not recorded'} | {public(r['reference'])} "
                     f"({public(r['source'])}) | {floor} | {met} |")
    lines.append('| <a id="r-flowers_resnet50"></a>`flowers_resnet50` | tf_flowers | accuracy | '
                 "not measurable offline: no tf_flowers and no ImageNet weights | | | | | | — |")
    return "\n".join(lines)


# --- docs/benchmarks.md ------------------------------------------------------


def _same_contender(contender):
    """A contender's settings without its label: 'recipe defaults' and 'try_1 (...; flags)'
    name the same settings differently across runs."""
    text = re.sub(r"\b(recipe defaults|try_\d+)\s*", "", contender)
    text = re.sub(r";\s*--[^)]*\)", ")", text)
    return re.sub(r",? paired with try \d+", "", text).strip()


def ratio_spread(section, contender, metric, runs):
    """[(run path, ratio)] of every saved run with a ratio for this contender and metric."""
    key = _same_contender(contender)
    found = []
    for path, data in runs:
        for row in data.get("rows", []):
            if (row["section"], row["metric"]) == (section, metric) and row.get("ratio") \
                    and _same_contender(row["contender"]) == key:
                found.append((path, row["ratio"]))
    return found


def spread_text(found):
    if len(found) <= 1:
        return "1 run"
    ratios = [r for _, r in found]
    each = ", ".join(f"{r:.2f}× ({path})" for path, r in found)
    return f"{min(ratios):.2f}-{max(ratios):.2f}× over {len(found)} runs: {each}"


def _median_ratio(row):
    match = re.search(r"median-epoch ratio ([\d.]+)×|best epoch [\d,]+ \S+, ratio ([\d.]+)×",
                      row.get("note") or "")
    if not match:
        return f"{row['ratio']:.2f}×"
    if match.group(1):
        return f"{match.group(1)}× median epoch ({row['ratio']:.2f}× best)"
    return f"{row['ratio']:.2f}× median epoch ({match.group(2)}× best)"


def bench_headlines(runs):
    path, data = runs[0]
    lines = ["| section | contender | metric | ratio vs baseline | spread over saved runs | "
             "target | met? |", "|---|---|---|---|---|---|---|"]
    for row in data["rows"]:
        if not row.get("target") or row.get("ratio") is None:
            continue
        found = ratio_spread(row["section"], row["contender"], row["metric"], runs)
        spread = spread_text(found)
        if row.get("rounds", 1) > 1 and row.get("ratio_min") is not None:
            # The run's own paired rounds first: the spread that run measured.
            spread = (f"{row['ratio_min']:.2f}–{row['ratio_max']:.2f}× over this run's "
                      f"{row['rounds']} rounds; saved runs: {spread}")
        lines.append(f"| {row['section']} | {row['contender']} | {row['metric']} | "
                     f"{_median_ratio(row)} | {spread} | "
                     f"{row['target']} | {fmt_met(row['met'], row.get('met_rounds'))} |")
    return "\n".join(lines)


def bench_table(data):
    machine = data["machine"]
    lines = [
        f"- date: {machine['date']}; wall time {data.get('wall_s', 0):.0f} s; "
        f"command: `{public(data['config'].get('command')) or 'benchmarks/run.py'}`",
        f"- machine: {machine['cores']} cores, {machine['cpu_model']} "
        f"({', '.join(machine['cpu_flags'])}), no GPU used",
        f"- load average (1/5/15 min) at start {data['load_average_start']}, "
        f"at end {data.get('load_average_end')}",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in machine["versions"].items() if v),
        "",
        "| section | contender | metric | value | ratio vs baseline | target | met? |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in data["rows"]:
        value, ratio = fmt_cells(row)
        met = fmt_met(row["met"], row.get("met_rounds")) if row["target"] else ""
        lines.append(f"| {row['section']} | {row['contender']} | {row['metric']} | {value} | "
                     f"{ratio} | {row['target'] or ''} | {met} |")
    return "\n".join(lines)


# --- blocks ------------------------------------------------------------------


def render_blocks(results_dir=RESULTS, root=ROOT):
    """Every block's text, by name, from the result files."""
    reproduce = load_json(os.path.join(results_dir, "reproduce.json"))
    runs = bench_runs(results_dir)
    return {
        "headline": headline(reproduce, recipe_of_runs(root)),
        "demo": demo(reproduce, _optional_json(os.path.join(results_dir, "demo.json"))),
        "reproduce": reproduce_table(reproduce),
        "bench-headlines": bench_headlines(runs),
        "bench": bench_table(runs[0][1]),
    }


def fill(text, blocks):
    """`text` with each marked block replaced; returns (new text, names of the blocks found)."""
    found = []

    def replace(match):
        name = match.group(2)
        if name not in blocks:
            raise ValueError(f"unknown figures block {name!r}")
        found.append(name)
        return f"{match.group(1)}{blocks[name]}\n{match.group(4)}"

    return BLOCK.sub(replace, text), found


def stale_blocks(root=ROOT, results_dir=RESULTS):
    """[(file, problem)] for every block that is missing or differs from the result files."""
    blocks = render_blocks(results_dir, root)
    problems = []
    for rel, names in FILES.items():
        path = os.path.join(root, rel)
        if not os.path.exists(path):
            problems.append((rel, "file missing"))
            continue
        with open(path, encoding="utf-8") as f:
            text = f.read()
        new, found = fill(text, blocks)
        for name in names:
            if name not in found:
                problems.append((rel, f"no <!-- figures:{name} --> block"))
        for match_old, match_new in zip(BLOCK.finditer(text), BLOCK.finditer(new)):
            if match_old.group(3) != match_new.group(3):
                problems.append((rel, f"block {match_old.group(2)!r} differs from the result files"))
    return problems


def write(root=ROOT, results_dir=RESULTS):
    blocks = render_blocks(results_dir, root)
    for rel in FILES:
        path = os.path.join(root, rel)
        with open(path, encoding="utf-8") as f:
            text = f.read()
        new, _ = fill(text, blocks)
        if new != text:
            with open(f"{path}.tmp", "w", encoding="utf-8") as f:
                f.write(new)
            os.replace(f"{path}.tmp", path)
            print(f"docs_figures: wrote {rel}")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="benchmarks/docs_figures.py",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="only check; exit 1 if a block is missing or differs")
    args = parser.parse_args(argv)
    if args.check:
        problems = stale_blocks()
        for rel, problem in problems:
            print(f"docs_figures: {rel}: {problem}; run `make docs`", file=sys.stderr)
        return 1 if problems else 0
    write()
    return 0


if __name__ == "__main__":
    sys.exit(main())
