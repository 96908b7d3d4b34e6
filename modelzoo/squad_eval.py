"""SQuAD v1.1 scoring, as the official `evaluate-v1.1.py` defines it.

Answers are normalized (lowercase; characters of `string.punctuation`
removed; the whole words a, an and the removed; whitespace collapsed).
Exact match compares the normalized strings; F1 compares their tokens as
bags. Each question scores its best over its gold answers, and the scores
are averaged over questions.

One definition detail differs from SQuAD 2.0's script and is kept on
purpose: in v1.1, F1 is 0 whenever prediction and gold share no token, even
when both normalize to nothing.
"""

import collections
import re
import string

_PUNCTUATION = frozenset(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize_answer(text):
    """Lowercases and removes punctuation, articles and extra whitespace."""
    text = "".join(c for c in text.lower() if c not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction, gold):
    """1.0 if the normalized strings are equal, else 0.0."""
    return float(normalize_answer(prediction) == normalize_answer(gold))


def f1(prediction, gold):
    """Token F1 of the normalized strings (0.0 when no token is shared)."""
    predicted = normalize_answer(prediction).split()
    expected = normalize_answer(gold).split()
    common = sum((collections.Counter(predicted) & collections.Counter(expected)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(predicted), common / len(expected)
    return 2 * precision * recall / (precision + recall)


def squad_scores(predictions, gold_answers):
    """Mean exact match and F1, as fractions in [0, 1].

    Args:
      predictions: one answer string per question.
      gold_answers: one list of gold answer strings per question. A question
        with no gold answer scores 0 (the official script has none).

    Returns:
      {"exact_match": float, "f1": float}; 0.0 for both if there are no
      questions.
    """
    exact, overlap = [], []
    for prediction, golds in zip(predictions, gold_answers, strict=True):
        exact.append(max((exact_match(prediction, g) for g in golds), default=0.0))
        overlap.append(max((f1(prediction, g) for g in golds), default=0.0))
    count = max(len(exact), 1)
    return {"exact_match": sum(exact) / count, "f1": sum(overlap) / count}
