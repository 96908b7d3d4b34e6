"""Train the character LSTM on Tiny Shakespeare and export a generator.

    python recipes/shakespeare_lstm.py --manual_dir=MANUAL_DIR

The export's `serving_default` runs the whole sampling loop in the graph.

The defaults are the experiment `shakespeare_lstm` (modelzoo/configs/text_generation.py);
`--help` lists every flag.
"""

from modelzoo.recipe import main

if __name__ == "__main__":
    main("shakespeare_lstm")
