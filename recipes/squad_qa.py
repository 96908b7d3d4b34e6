"""Fine-tune a BERT-style span extractor on SQuAD and export a QA service.

    python recipes/squad_qa.py                                  # from scratch
    python recipes/bert_pretrain.py --output_dir=CHECKPOINT     # optional, ~40 min
    python recipes/squad_qa.py --init_preset=bert_pretrain      # from its preset

The export takes a raw question and context: tokenizing, windowing long
contexts and picking the best answer span all happen in the graph.

The defaults are the experiment `squad_qa` (modelzoo/configs/question_answering.py);
`--help` lists every flag.
"""

from modelzoo.recipe import main

if __name__ == "__main__":
    main("squad_qa")
