"""GPT generation speed: the exported signatures, paired rounds (issue #26, item 2).

    PYTHONPATH=. .venv/bin/python benchmarks/gpt_generation_profile.py \\
        [--chars=2000] [--rounds=3] [--baseline=OLD_SAVED_MODEL] [--parts]

Builds `recipes/shakespeare_gpt.py`'s default model (untrained: speed does
not depend on the weights), exports its generator and, in this one
process, times one call of `--chars` characters at batch 1 (prompt
"ROMEO:", temperature 0.5, top_k 0, as the generation section of `make
bench`) of:

- `serving_default`: what TF Serving runs as it stands (no XLA flag);
- `generate_xla`: the same sampler with the loop compiled by XLA, what a
  server started with `--xla_cpu_compilation_enabled`, or `model.generate(...,
  jit_compile=True)` in process, runs;
- `--baseline`: the `serving_default` of another export, e.g. one written
  by an older checkout, so the old and new paths are timed in the same run.

Each round times every contender once, in a rotating order; the table gives
characters per second as the median, min and max over `--rounds`, and the
ratio to the baseline per round (median, min, max). It also counts the
kernels (non-Const graph nodes) in the signature's per-step loop body.
`--parts` adds the model's own cached step (`GPT.call_with_cache`) and one
decoder block's, each in a bare `tf.while_loop`.
"""

import argparse
import collections
import os
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import tensorflow as tf  # noqa: E402

from benchmarks import common  # noqa: E402
from modelzoo import export, get_model  # noqa: E402

VOCABULARY = ["[UNK]"] + list(
    "\n !$&',-.3:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)
PROMPT = "ROMEO:"
TEMPERATURE = 0.5


def spread(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def loop_body_kernels(path, signature):
    """Non-Const nodes of the largest while-loop body in a signature's graph."""
    graph = tf.saved_model.load(path).signatures[signature].graph.as_graph_def()
    bodies = [f for f in graph.library.function if "while_body" in f.signature.name]
    counts = [collections.Counter(n.op for n in f.node_def) for f in bodies]
    return max(sum(c.values()) - c["Const"] for c in counts)


def signature_call(path, signature):
    """A function `n → texts` calling `signature` of the SavedModel at `path`."""
    function = tf.saved_model.load(path).signatures[signature]
    _, specs = function.structured_input_signature

    def call(n):
        inputs = {"prompt": tf.constant([PROMPT]), "num_chars": tf.constant([n]),
                  "temperature": tf.constant([TEMPERATURE]), "top_k": tf.constant([0])}
        for name, spec in specs.items():
            if name not in inputs:  # An optional input, left at its default.
                inputs[name] = tf.zeros([0] * spec.shape.rank, spec.dtype)
        texts = function(**inputs)["text"].numpy()
        assert len(texts[0].decode("utf-8")) == n, texts
        return texts

    return call


def step_loop(step, state):
    """A tf.function running `state = step(i, state)` for `n` steps."""

    @tf.function
    def run(n):
        return tf.while_loop(lambda i, _: i < n, lambda i, s: (i + 1, step(i, s)), (0, state))

    return lambda n: run(tf.constant(n))


def parts(model):
    """The model's cached step and one block's, each as a bare loop."""
    window = model.sequence_length

    # Each step feeds its output back as the next input, as generation does,
    # so no part of a step is constant and folded away by the graph optimizer.
    def model_step(i, state):
        ids, cache = state
        logits, cache = model.call_with_cache(ids, cache, i % window)
        return tf.argmax(logits, axis=-1, output_type=tf.int32), cache

    block = model.decoders[0]
    x = tf.random.stateless_normal([1, 1, model.embed_dim], seed=[0, 0])

    def block_step(i, state):
        return block(state[0], cache=state[1], cache_update_index=i % window)

    return {
        "GPT.call_with_cache, one token": step_loop(
            model_step, (tf.ones([1, 1], tf.int32), model.empty_cache(1))),
        "one TransformerDecoder block, cached": step_loop(
            block_step, (x, block.empty_cache(1, window))),
    }


def profile(chars, rounds, baseline=None, with_parts=False):
    _, name, kwargs = common.recipe_settings("shakespeare_gpt")
    model = get_model(name, vocab_size=len(VOCABULARY), **kwargs)
    results = {"model": kwargs, "chars": chars, "rounds": rounds, "rows": {}}
    with tempfile.TemporaryDirectory() as tmp:
        path = export.export_gpt_generator(model, VOCABULARY, os.path.join(tmp, "gpt"))
        contenders = {
            "serving_default": signature_call(path, "serving_default"),
            "generate_xla": signature_call(path, "generate_xla"),
        }
        kernels = {"serving_default": loop_body_kernels(path, "serving_default")}
        if baseline:
            contenders["baseline serving_default"] = signature_call(baseline, "serving_default")
            kernels["baseline serving_default"] = loop_body_kernels(baseline, "serving_default")
        if with_parts:
            contenders.update(parts(model))
        names = list(contenders)
        for call in contenders.values():  # Tracing, XLA compilation, warm-up.
            call(chars)
        rates = {label: [] for label in names}
        for r in range(rounds):
            for label in names[r % len(names):] + names[: r % len(names)]:
                start = time.perf_counter()
                contenders[label](chars)
                rates[label].append(chars / (time.perf_counter() - start))
    for label in names:
        row = {"chars_per_s": spread(rates[label]), "kernels": kernels.get(label)}
        if baseline and label != "baseline serving_default":
            row["vs_baseline"] = spread(
                [a / b for a, b in zip(rates[label], rates["baseline serving_default"])])
        results["rows"][label] = row
    return results


def markdown(results):
    lines = [f"GPT generation: {results['chars']} chars at batch 1, {results['rounds']} rounds, "
             f"model {results['model']}", "",
             "| what | chars/s median | min | max | × baseline (median, min–max) | loop kernels |",
             "|---|---|---|---|---|---|"]
    for label, row in results["rows"].items():
        rate = row["chars_per_s"]
        ratio = row.get("vs_baseline")
        ratio = f"{ratio['median']:.2f} ({ratio['min']:.2f}–{ratio['max']:.2f})" if ratio else ""
        lines.append(f"| {label} | {rate['median']:,.0f} | {rate['min']:,.0f} | "
                     f"{rate['max']:,.0f} | {ratio} | {row['kernels'] or ''} |")
    lines.append(f"\nload average {common.load_average()}")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chars", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--baseline", default=None,
                        help="a GPT generator SavedModel to time against, e.g. an older export")
    parser.add_argument("--parts", action="store_true",
                        help="also time the model's and one block's cached step")
    args = parser.parse_args(argv)
    if args.chars < 1 or args.rounds < 1:
        parser.error("--chars and --rounds must be >= 1")
    print(markdown(profile(args.chars, args.rounds, args.baseline, args.parts)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
