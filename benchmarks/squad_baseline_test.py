"""The sliding-window SQuAD baseline (`benchmarks/squad_baseline.py`) against
a direct transcription of Richardson et al. 2013's algorithms."""

import math
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks import squad_baseline as sw


def reference_scores(question, context, max_ngram, distance):
    """Algorithms 1 and 2 of Richardson et al., loop by loop, for each candidate."""
    tokens = [(m.start(), m.end(), m.group().lower()) for m in re.finditer(r"\w+", context)]
    passage = [w for _, _, w in tokens]
    q = {w.lower() for w in re.findall(r"\w+", question)}
    ends = [m.end() for m in re.finditer(r"[.!?]+[\"')\]]*\s+", context)]
    sentence = [sum(e <= s for e in ends) for s, _, _ in tokens]
    out = {}
    for n in range(1, max_ngram + 1):
        for i in range(len(tokens) - n + 1):
            a = passage[i : i + n]
            if sentence[i] != sentence[i + n - 1] or all(w in q for w in a):
                continue
            s = q | set(a)
            score = max(
                sum(
                    math.log(1 + 1 / passage.count(passage[j + w]))
                    for w in range(len(s))
                    if j + w < len(passage) and passage[j + w] in s
                )
                for j in range(len(passage))
            )
            if distance:
                s_q = {w for w in q if w in passage} - sw.STOP_WORDS
                s_a = set(a) - q - sw.STOP_WORDS
                if not s_q or not s_a:
                    d = 1.0
                else:
                    d = min(
                        abs(x - y)
                        for x, wx in enumerate(passage) if wx in s_q
                        for y, wy in enumerate(passage) if wy in s_a
                    ) / (len(passage) - 1)
                score -= d
            out[(tokens[i][0], tokens[i + n - 1][1])] = score
    return out


CONTEXT = (
    "Super Bowl 50 was an American football game. The Denver Broncos defeated the "
    "Carolina Panthers 24–10 to earn their third Super Bowl title. The game was played "
    "on February 7, 2016, at Levi's Stadium."
)


@pytest.mark.parametrize("distance", [False, True])
@pytest.mark.parametrize(
    "question", ["Which team won Super Bowl 50?", "Where was the game played?", "Who lost?"]
)
def test_scores_match_the_algorithm(question, distance):
    spans, scores = sw.candidate_scores(question, CONTEXT, 3, distance)
    expected = reference_scores(question, CONTEXT, 3, distance)
    assert spans == list(sorted(expected, key=lambda s: (s[0], s[1])))
    assert scores.tolist() == pytest.approx([expected[s] for s in spans])


_WORDS = st.sampled_from("the a game bowl won team denver 50 played panthers . ? ,".split())


@settings(max_examples=40, deadline=None)
@given(st.lists(_WORDS, min_size=1, max_size=25), st.lists(_WORDS, max_size=6), st.booleans())
def test_scores_match_the_algorithm_on_random_text(context, question, distance):
    context, question = " ".join(context), " ".join(question)
    spans, scores = sw.candidate_scores(question, context, 4, distance)
    expected = reference_scores(question, context, 4, distance)
    assert set(spans) == set(expected)
    assert scores.tolist() == pytest.approx([expected[s] for s in spans])


def test_answer_is_the_best_candidate_and_scored_officially():
    # "February 7, 2016" sits beside the question's rare words "game played".
    assert sw.answer("When was the game played?", CONTEXT, 4) == "on February 7, 2016"
    assert sw.answer("What?", "") == ""
    scores = sw.baseline_scores(
        [("When was the game played?", CONTEXT, ["February 7, 2016"])], 4
    )
    # Prediction "on February 7, 2016" vs gold: 3 of 4 tokens -> F1 6/7.
    assert scores == {"exact_match": 0.0, "f1": pytest.approx(6 / 7)}
