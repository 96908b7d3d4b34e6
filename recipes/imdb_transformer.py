"""Train the Transformer encoder classifier on IMDB reviews and export it.

    python recipes/imdb_transformer.py

The export takes raw review strings: tokenization happens in the graph.
"""

from absl import flags

from modelzoo import recipe
from modelzoo.tasks import text_classification


def define_flags(flag_values=flags.FLAGS):
    fv = dict(flag_values=flag_values)
    recipe.define_common_flags(
        dataset="imdb_reviews",
        datasets=text_classification.DATASETS,
        epochs=2,
        batch_size=64,
        learning_rate=1e-3,
        flag_values=flag_values,
        steps_per_execution=10,
    )
    flags.DEFINE_integer("vocab_size", 20000, "Vocabulary size, learned from the train split.", **fv)
    flags.DEFINE_integer("sequence_length", 200, "Tokens per review; longer ones are cut.", **fv)
    flags.DEFINE_integer("embed_dim", 64, "Embedding and hidden size.", **fv)
    flags.DEFINE_integer("num_heads", 4, "Attention heads.", **fv)
    flags.DEFINE_integer("ff_dim", 128, "Feed-forward width.", **fv)
    flags.DEFINE_integer("num_layers", 2, "Encoder blocks.", **fv)
    flags.DEFINE_float("dropout", 0.1, "Dropout rate, in [0, 1).", **fv)


def run(flags_obj, datasets_override=None, strategy_override=None):
    """Trains, evaluates and exports; returns the summary dict."""
    model_kwargs = dict(
        embed_dim=flags_obj.embed_dim,
        num_heads=flags_obj.num_heads,
        ff_dim=flags_obj.ff_dim,
        num_layers=flags_obj.num_layers,
        dropout=flags_obj.dropout,
    )
    return text_classification.run(
        flags_obj, "transformer", model_kwargs, datasets_override, strategy_override
    )


if __name__ == "__main__":
    define_flags()
    recipe.app_run(run)
