"""The sliding-window baseline of Rajpurkar et al. 2016 (SQuAD, Table 5).

    python benchmarks/squad_baseline.py --data_dir=data/real

Rajpurkar et al. score each candidate answer with Richardson et al.'s 2013
(MCTest) sliding window: with S = question words ∪ candidate words, the
score is the best, over windows of |S| consecutive passage words, of the sum
of IC(w) = log(1 + 1/C(w)) over the window's words that are in S, C(w) being
the count of w in the passage. The distance variant (SW+D) subtracts
d = min distance in words, over the passage, between a question word and a
candidate word that is not in the question (stop words left out of both),
divided by |P| - 1; d = 1 when either side has no such word. The best
candidate is the answer. Published on the official dev set: F1 20.2 (SW),
20.2 (SW+D).

Deviation: Rajpurkar et al. take the constituents of a parse tree as
candidates. No parser is available offline, so the candidates here are all
token n-grams of length 1..N inside one sentence whose words are not all
question words, with N = MAX_NGRAM = 3, chosen as the best SW+D F1 on the
(dev-article) train split among N = 1..8 (`--tune`: 0.134, 0.170, 0.171,
0.167, 0.160, 0.152, 0.147, 0.138). Tokens are maximal runs
of word characters, lowercased. Ties go to the earliest, then shortest,
candidate.

The scores are the official SQuAD v1.1 EM/F1 (`modelzoo.squad_eval`), on the
split `modelzoo data import-squad` makes from dev-v1.1.json alone, so they are
not comparable with the published numbers (see README, "Real data offline").
Measured on its validation split (1,975 questions): SW EM 0.039, F1 0.163;
SW+D EM 0.044, F1 0.170. Exact match is far below the published 13.2: an
n-gram rarely has a constituent's exact extent.
"""

import argparse
import json
import os
import re
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from modelzoo.squad_eval import squad_scores  # noqa: E402 - needs ROOT on sys.path

MAX_NGRAM = 3

_WORD = re.compile(r"\w+")
_SENTENCE_END = re.compile(r"[.!?]+[\"')\]]*\s+")
# A common English stop-word list (Richardson et al.'s U), used only by SW+D.
STOP_WORDS = frozenset(
    "a about above after again against all am an and any are as at be because been before "
    "being below between both but by can did do does doing down during each few for from "
    "further had has have having he her here hers herself him himself his how i if in into "
    "is it its itself just me more most my myself no nor not now of off on once only or "
    "other our ours ourselves out over own same she should so some such than that the their "
    "theirs them themselves then there these they this those through to too under until up "
    "very was we were what when where which while who whom why will with you your yours "
    "yourself yourselves s t".split()
)


def answer(question, context, max_ngram=MAX_NGRAM, distance=True):
    """The best-scoring candidate span of `context`, as a string ("" if none)."""
    spans, scores = candidate_scores(question, context, max_ngram, distance)
    if not spans:
        return ""
    start, end = spans[int(np.argmax(scores))]
    return context[start:end]


def candidate_scores(question, context, max_ngram=MAX_NGRAM, distance=True):
    """Every candidate's character span and score (SW, or SW+D if `distance`).

    Returns:
      (spans, scores): a list of (start, end) character offsets into
      `context`, earliest then shortest first, and a float array of their
      scores.
    """
    tokens = [(m.start(), m.end()) for m in _WORD.finditer(context)]
    words = [context[s:e].lower() for s, e in tokens]
    vocab = {w: i for i, w in enumerate(dict.fromkeys(words))}
    ids = np.array([vocab[w] for w in words], int)
    question_words = {w.lower() for w in _WORD.findall(question)}
    in_question = np.array([w in question_words for w in vocab], bool)
    starts, lengths = _candidates(context, tokens, in_question[ids], max_ngram)
    if not len(starts):
        return [], np.zeros(0)
    ic = np.log1p(1.0 / np.bincount(ids)[ids])
    # Candidate c's words outside the question, as a vocabulary mask [C, V].
    rows = np.repeat(np.arange(len(starts)), lengths)
    offsets = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    own = np.zeros((len(starts), len(vocab)), bool)
    own[rows, ids[np.repeat(starts, lengths) + offsets]] = True
    own &= ~in_question
    scores = _sliding_window(own, ids, ic, in_question, len(question_words))
    if distance:
        stop = np.array([w in STOP_WORDS for w in vocab], bool)
        scores = scores - _distance(own & ~stop, ids, in_question & ~stop)
    spans = [(tokens[i][0], tokens[i + n - 1][1]) for i, n in zip(starts, lengths)]
    return spans, scores


def _candidates(context, spans, question_at, max_ngram):
    """(start token, length) of every n-gram inside a sentence, not all question words."""
    ends = [m.end() for m in _SENTENCE_END.finditer(context)]
    sentence = np.searchsorted(ends, [s for s, _ in spans], side="right")
    starts, lengths = [], []
    for n in range(1, max_ngram + 1):
        for i in range(len(spans) - n + 1):
            if sentence[i] == sentence[i + n - 1] and not question_at[i : i + n].all():
                starts.append(i)
                lengths.append(n)
    order = np.lexsort((lengths, starts))
    return np.array(starts, int)[order], np.array(lengths, int)[order]


def _sliding_window(own, ids, ic, in_question, num_question_words):
    """Richardson's SW score of each candidate: [C]."""
    weights = np.where(in_question[ids], ic, 0.0)[None, :] + own[:, ids] * ic[None, :]
    sums = np.concatenate([np.zeros((len(own), 1)), np.cumsum(weights, axis=1)], axis=1)
    size = num_question_words + own.sum(axis=1)  # |Q ∪ A|.
    begin = np.arange(len(ids))
    end = np.minimum(begin[None, :] + size[:, None], len(ids))
    return (np.take_along_axis(sums, end, axis=1) - sums[:, begin]).max(axis=1)


def _distance(own, ids, question):
    """Richardson's d for each candidate: [C], 1 where a side has no word."""
    question_at = np.flatnonzero(question[ids])
    if not len(question_at) or len(ids) < 2:
        return np.ones(len(own))
    nearest = np.abs(np.arange(len(ids))[:, None] - question_at[None, :]).min(axis=1)
    found = np.where(own[:, ids], nearest[None, :], np.iinfo(int).max).min(axis=1)
    return np.where(found == np.iinfo(int).max, 1.0, found / (len(ids) - 1))


def baseline_scores(examples, max_ngram=MAX_NGRAM, distance=True):
    """Official SQuAD v1.1 EM/F1 of the baseline on `examples`.

    Args:
      examples: a list of (question, context, gold answers) strings.
      max_ngram: the longest candidate, in tokens.
      distance: SW+D if true, else SW.

    Returns:
      {"exact_match": float, "f1": float}, fractions in [0, 1].
    """
    predictions = [answer(q, c, max_ngram, distance) for q, c, _ in examples]
    return squad_scores(predictions, [golds for _, _, golds in examples])


def load_examples(data_dir, split):
    """(question, context, answers) of a TFDS `squad` split in `data_dir`."""
    import tensorflow_datasets as tfds

    ds = tfds.load("squad", split=split, data_dir=data_dir, download=False)
    return [
        (
            ex["question"].decode("utf-8"),
            ex["context"].decode("utf-8"),
            [a.decode("utf-8") for a in ex["answers"]["text"]],
        )
        for ex in tfds.as_numpy(ds)
    ]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data_dir", required=True, help="holds TFDS squad (modelzoo data import-squad)")
    parser.add_argument("--split", default="validation")
    parser.add_argument("--max_ngram", type=int, default=MAX_NGRAM)
    parser.add_argument("--tune", action="store_true", help="F1 on train for N = 1..8 first")
    args = parser.parse_args(argv)
    results = {}
    if args.tune:
        train = load_examples(args.data_dir, "train")
        results["tune_train_f1"] = {
            n: round(baseline_scores(train, n)["f1"], 4) for n in range(1, 9)
        }
    examples = load_examples(args.data_dir, args.split)
    for name, distance in (("sliding_window", False), ("sliding_window_distance", True)):
        start = time.time()
        scores = baseline_scores(examples, args.max_ngram, distance)
        results[name] = dict(
            {k: round(v, 4) for k, v in scores.items()},
            seconds=round(time.time() - start, 1),
        )
    results.update(split=args.split, questions=len(examples), max_ngram=args.max_ngram)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
