"""Runs `make demo`'s three steps in a fresh folder and records them in demo.json.

    .venv/bin/python benchmarks/demo_run.py --src /usr/share/datasets/fashion-mnist
    .venv/bin/python benchmarks/demo_run.py --name mnist --src MANUAL_DIR   # MNIST's IDX files

The steps are the Makefile's commands with its paths (`data/tfds`,
`saved_models`), run from a temporary folder so nothing here is touched:
import the IDX files, train and publish `recipes/mnist_mlp.py`, call the
export with `modelzoo predict`. Each step's wall time, exit code, stdout and
stderr are kept; `benchmarks/docs_figures.py` writes the README's demo
figures from the file.
"""

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def steps(name, src):
    python = sys.executable
    modelzoo = [python, "-m", "modelzoo"]
    return [
        ("import", [*modelzoo, "data", "import-idx", "--name", name, "--src", src,
                    "--data_dir", "data/tfds"]),
        ("train", [python, os.path.join(ROOT, "recipes", "mnist_mlp.py"), f"--dataset={name}",
                   "--data_dir=data/tfds", "--download=false", "--seed=0"]),
        ("predict", [*modelzoo, "predict", "--model", f"saved_models/{name}_mlp", "--dataset", name,
                     "--data_dir", "data/tfds", "--count", "3"]),
    ]


def load_average():
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def run(name, src):
    record = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
              "cores": os.cpu_count(), "dataset": name, "load_start": load_average(), "steps": []}
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # the commands' own defaults, as a user has them
    with tempfile.TemporaryDirectory(prefix="modelzoo-demo-") as work:
        for step, command in steps(name, os.path.abspath(src)):
            start = time.perf_counter()
            result = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True)
            record["steps"].append({
                "step": step, "wall_s": round(time.perf_counter() - start, 1),
                "returncode": result.returncode,
                "stdout": result.stdout.replace(work + os.sep, "").splitlines(),
                "stderr": result.stderr.replace(work + os.sep, "").splitlines(),
            })
            if result.returncode != 0:
                break
    record["load_end"] = load_average()
    return record


def main(argv=None):
    parser = argparse.ArgumentParser(prog="benchmarks/demo_run.py",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--src", required=True, help="folder of the four IDX files")
    parser.add_argument("--name", default="fashion_mnist", help="mnist or fashion_mnist")
    parser.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "results", "demo.json"))
    args = parser.parse_args(argv)
    record = run(args.name, args.src)
    with open(f"{args.out}.tmp", "w", encoding="utf-8") as f:
        json.dump(record, f, indent=1)
        f.write("\n")
    os.replace(f"{args.out}.tmp", args.out)
    print(json.dumps({s["step"]: s["wall_s"] for s in record["steps"]}))
    return 0 if all(s["returncode"] == 0 for s in record["steps"]) else 1


if __name__ == "__main__":
    sys.exit(main())
