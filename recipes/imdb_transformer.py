"""Train the Transformer encoder classifier on IMDB reviews and export it.

    python recipes/imdb_transformer.py --data_dir=DIR --download=false

The export takes raw review strings: tokenization happens in the graph.

The defaults are the experiment `imdb_transformer` (modelzoo/configs/text_classification.py);
`--help` lists every flag.
"""

from modelzoo.recipe import main

if __name__ == "__main__":
    main("imdb_transformer")
