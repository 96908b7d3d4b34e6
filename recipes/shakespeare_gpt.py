"""Train a small character GPT on Tiny Shakespeare and export a generator.

    python recipes/shakespeare_gpt.py --manual_dir=MANUAL_DIR

The export's `serving_default` runs the whole sampling loop in the graph,
with a key/value cache and top-k sampling.

The defaults are the experiment `shakespeare_gpt` (modelzoo/configs/text_generation.py);
`--help` lists every flag.
"""

from modelzoo.recipe import main

if __name__ == "__main__":
    main("shakespeare_gpt")
