"""Train a small character GPT on Tiny Shakespeare and export a generator.

    python recipes/shakespeare_gpt.py
    python recipes/shakespeare_gpt.py --data_dir=data/tfds --download=false  # an imported corpus

The export's `serving_default` runs the whole sampling loop in the graph,
with a key/value cache and top-k sampling.
"""

from absl import flags

from modelzoo import recipe
from modelzoo.tasks import text_generation


def define_flags(flag_values=flags.FLAGS):
    fv = dict(flag_values=flag_values)
    recipe.define_common_flags(
        dataset="tiny_shakespeare",
        datasets=text_generation.DATASETS,
        # nanoGPT's CPU configuration for Tiny Shakespeare (block 64, no
        # dropout, tied embeddings, AdamW with warm-up and clipping) learns
        # far more per step than batch 16 x 128 with Adam: test loss 1.97
        # after one epoch, 1.62 after six at batch 12, against 2.08 after
        # four before. Batch 64 at a 3x peak rate (issue #14, `make bench`'s
        # gpt section, 2 shared cores, load 4-8): 26.6k chars/s against
        # 19.7k at batch 12 and held-out loss 1.85 after 100 s of training
        # against 1.91; it needs ~1.3x the characters of batch 12 to reach
        # 1.88 (1.8 M against 1.3 M) but steps through them faster, and 6
        # epochs are ~1,450 steps, ~4 min. Batch 32 at 2e-3 or 3e-3 was
        # slower than both (benchmarks/README.md has the table).
        epochs=6,
        batch_size=64,
        learning_rate=3e-3,
        flag_values=flag_values,
        steps_per_execution=10,
    )
    recipe.define_optimizer_flags(
        warmup_steps=100, final_learning_rate_ratio=0.1, weight_decay=0.1, beta_2=0.99,
        clipnorm=1.0, flag_values=flag_values,
    )
    flags.DEFINE_integer("sequence_length", 64, "Context window, in characters.", **fv)
    recipe.define_transformer_size_flags(
        128, 4, 512, 4, dropout=0.0, block="Decoder", flag_values=flag_values)
    flags.DEFINE_boolean("tie_embeddings", True, "Share the token table with the logits.", **fv)
    flags.DEFINE_string("sample_prompt", "ROMEO:", "Prompt of the sample in the summary.", **fv)
    flags.DEFINE_integer("sample_chars", 200, "Characters of the sample.", **fv)
    flags.DEFINE_float("sample_temperature", 0.8, "Sampling temperature; <= 0 is greedy.", **fv)
    flags.DEFINE_integer("sample_top_k", 10, "Sample among the k likeliest; 0 is all.", **fv)


def run(flags_obj, datasets_override=None, strategy_override=None):
    """Trains, evaluates and exports; returns the summary dict."""
    model_kwargs = dict(
        sequence_length=flags_obj.sequence_length,
        **recipe.transformer_size(flags_obj),
        tie_embeddings=flags_obj.tie_embeddings,
    )
    return text_generation.run(
        flags_obj, "gpt", model_kwargs, datasets_override, strategy_override
    )


if __name__ == "__main__":
    define_flags()
    recipe.app_run(run)
