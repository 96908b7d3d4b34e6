"""Where the GPT generator's time per character goes (issue #14, part 2).

    .venv/bin/python benchmarks/gpt_generation_profile.py [--chars=2000] [--repeats=3]

Builds `recipes/shakespeare_gpt.py`'s default model (untrained: speed does
not depend on the weights), exports its generator, and times, each in a
`tf.while_loop` of `--chars` steps at batch 1, in this one process:

- the published SavedModel's `serving_default` (the whole sampler);
- the model's own cached step, `GPT.call_with_cache`, one token a step;
- one `TransformerDecoder` block's cached call;
- one `CachedMultiHeadAttention` cached call.

For each: wall-clock characters (steps) per second, fastest and median of
`--repeats`, and process CPU time per step (CPU time is steadier than wall
time when other jobs share the cores). Also the number of kernels (non-Const
graph nodes) in the SavedModel's loop body. The rows show how the cost of a
character splits into the decoder blocks, their attention and the rest.
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


def timed(fn, steps, repeats):
    """Fastest and median steps/s of `fn(steps)`, and the fastest CPU µs/step."""
    fn(8)
    wall, cpu = [], []
    for _ in range(repeats):
        c, t = time.process_time(), time.perf_counter()
        fn(steps)
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return {"per_s": steps / min(wall), "per_s_median": steps / statistics.median(wall),
            "cpu_us_per_step": 1e6 * min(cpu) / steps}


def step_loop(step, state):
    """A tf.function running `state = step(i, state)` for `n` steps."""

    @tf.function
    def run(n):
        return tf.while_loop(lambda i, _: i < n, lambda i, s: (i + 1, step(i, s)), (0, state))

    return lambda n: run(tf.constant(n))


def loop_body_kernels(path):
    """Non-Const nodes of the largest while-loop body in the SavedModel's signature."""
    graph = tf.saved_model.load(path).signatures["serving_default"].graph.as_graph_def()
    bodies = [f for f in graph.library.function if "while_body" in f.signature.name]
    counts = [collections.Counter(n.op for n in f.node_def) for f in bodies]
    return max(sum(c.values()) - c["Const"] for c in counts)


def profile(chars, repeats):
    _, name, kwargs = common.recipe_settings("shakespeare_gpt")
    model = get_model(name, vocab_size=len(VOCABULARY), **kwargs)
    window = model.sequence_length
    results = {"model": kwargs, "chars": chars}
    with tempfile.TemporaryDirectory() as tmp:
        path = export.export_gpt_generator(model, VOCABULARY, os.path.join(tmp, "gpt"))
        serve = tf.saved_model.load(path).signatures["serving_default"]
        results["loop_body_kernels"] = loop_body_kernels(path)

        def generate(n):
            return serve(prompt=tf.constant(["ROMEO:"]), num_chars=tf.constant([n]),
                         temperature=tf.constant([0.5]), top_k=tf.constant([0]))

        results["savedmodel"] = timed(generate, chars, repeats)

    # Each step feeds its output back as the next input, as generation does,
    # so no part of a step is constant and folded away by the graph optimizer.
    def model_step(i, state):
        ids, cache = state
        logits, cache = model.call_with_cache(ids, cache, i % window)
        return tf.argmax(logits, axis=-1, output_type=tf.int32), cache

    start = (tf.ones([1, 1], tf.int32), model.empty_cache(1))
    results["call_with_cache"] = timed(step_loop(model_step, start), chars, repeats)
    block = model.decoders[0]
    x = tf.random.stateless_normal([1, 1, model.embed_dim], seed=[0, 0])

    def block_step(i, state):
        return block(state[0], cache=state[1], cache_update_index=i % window)

    start = (x, block.empty_cache(1, window))
    results["decoder_block"] = timed(step_loop(block_step, start), chars, repeats)
    attention = block.attention

    def attention_step(i, state):
        return attention(state[0], state[0], cache=state[1], cache_update_index=i % window)

    start = (x, attention.empty_cache(1, window))
    results["attention"] = timed(step_loop(attention_step, start), chars, repeats)
    return results


def markdown(results):
    rows = [("SavedModel serving_default (sampler, 4 blocks, head)", "savedmodel"),
            ("GPT.call_with_cache, one token", "call_with_cache"),
            ("one TransformerDecoder block, cached", "decoder_block"),
            ("one CachedMultiHeadAttention, cached", "attention")]
    lines = [f"GPT generator profile: {results['chars']} steps at batch 1, model "
             f"{results['model']}; SavedModel loop body: {results['loop_body_kernels']} kernels",
             "", "| what | steps/s (fastest) | steps/s (median) | CPU µs/step |",
             "|---|---|---|---|"]
    for label, key in rows:
        r = results[key]
        lines.append(f"| {label} | {r['per_s']:,.0f} | {r['per_s_median']:,.0f} "
                     f"| {r['cpu_us_per_step']:.1f} |")
    lines.append(f"\nload average {common.load_average()}")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chars", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    if args.chars < 1 or args.repeats < 1:
        parser.error("--chars and --repeats must be >= 1")
    print(markdown(profile(args.chars, args.repeats)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
