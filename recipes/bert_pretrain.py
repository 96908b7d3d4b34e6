"""Pre-train the QA encoder with BERT's masked-language objective on unlabelled text.

    python recipes/bert_pretrain.py --output_dir=checkpoints/bert
    python recipes/squad_qa.py --init_checkpoint=checkpoints/bert

Reads the IMDB reviews (labels unused; `--dataset=imdb_reviews,squad` adds
the SQuAD train contexts), learns a WordPiece vocabulary from them,
pre-trains `build_bert_backbone` with BERT's masked LM, then with span
selection on cloze questions made from the same text, and writes its
weights, sizes and vocabulary to --output_dir.
"""

from absl import flags

from modelzoo import recipe
from modelzoo.tasks import masked_lm


# Rows of `make reproduce` (benchmarks/reproduce.py): the flags beyond
# --data_dir/--seed, the summary metric, the published reference and a floor.
REPRODUCE = [
    dict(run="bert_pretrain", dataset="imdb_reviews train (labels unused)",
         split="1 % of the rows held out", flags=["--output_dir={checkpoint}"],
         metric="loss", lower_is_better=True,
         reference="masked-LM loss; BERT's objective (Devlin et al. 2019)",
         source="recipes/bert_pretrain.py"),
]


def define_flags(flag_values=flags.FLAGS):
    fv = dict(flag_values=flag_values)
    recipe.define_common_flags(
        # IMDB alone: adding the SQuAD train contexts lowered the fine-tuned
        # F1 (0.077 against 0.112, README "SQuAD notes").
        dataset="imdb_reviews",
        datasets=masked_lm.DATASETS,
        epochs=3,
        batch_size=32,
        learning_rate=1e-3,
        flag_values=flag_values,
        steps_per_execution=10,
    )
    recipe.define_optimizer_flags(
        warmup_steps=200, weight_decay=0.01, beta_2=0.98, clipnorm=1.0, flag_values=flag_values
    )
    flags.DEFINE_string(
        "output_dir", "checkpoints/bert_pretrain",
        "Checkpoint folder to write (a new one: it is never overwritten).", **fv)
    flags.DEFINE_integer("vocab_size", 8000, "WordPiece vocabulary size, learned from the text.", **fv)
    flags.DEFINE_integer("sequence_length", 256, "WordPiece pieces per row.", **fv)
    flags.DEFINE_float("mask_selection_rate", 0.15, "Fraction of pieces predicted (BERT: 0.15).", **fv)
    flags.DEFINE_float("validation_fraction", 0.01, "Rows held out to score the masked LM.", **fv)
    # Two questions per review rather than one lifted a prototype's
    # fine-tuned F1 at epoch 2 from 0.138 to 0.200 (README "SQuAD notes").
    flags.DEFINE_integer(
        "span_questions", 60000, "Cloze questions made from the text for span-selection "
        "pre-training after the masked LM; 0 skips it.", **fv)
    flags.DEFINE_integer(
        "span_questions_per_text", 2, "Most cloze questions made from one document.", **fv)
    flags.DEFINE_integer("span_epochs", 1, "Epochs over the cloze questions.", **fv)
    flags.DEFINE_float("span_learning_rate", 5e-4, "Peak learning rate of span selection.", **fv)
    recipe.define_transformer_size_flags(128, 4, 512, 4, flag_values=flag_values)
    flags.DEFINE_boolean(
        "token_match", True, "Give the encoder DrQA's exact-match feature (whether each "
        "token also occurs in the other segment), for squad_qa.py to fine-tune.", **fv)


def run(flags_obj, datasets_override=None, strategy_override=None):
    """Pre-trains and writes the checkpoint; returns the summary dict."""
    return masked_lm.run(flags_obj, datasets_override, strategy_override)


if __name__ == "__main__":
    define_flags()
    recipe.app_run(run)
