"""Pre-train the QA encoder with BERT's masked-language objective on unlabelled text.

    python recipes/bert_pretrain.py --output_dir=CHECKPOINT
    python recipes/squad_qa.py --init_preset=bert_pretrain

Reads the IMDB reviews (labels unused; `--dataset=imdb_reviews,squad` adds
the SQuAD train contexts), learns a WordPiece vocabulary from them,
pre-trains `build_bert_backbone` with BERT's masked LM, then with span
selection on cloze questions made from the same text, and writes its
weights, sizes and vocabulary to --output_dir and as the preset
`$MODELZOO_HOME/presets/bert_pretrain/<version>`.

The defaults are the experiment `bert_pretrain` (modelzoo/configs/question_answering.py);
`--help` lists every flag.
"""

from modelzoo.recipe import main

if __name__ == "__main__":
    main("bert_pretrain")
