import re

import numpy as np
import pytest

from modelzoo.text.cloze import make_questions

PASSAGE = (
    "Super Bowl 50 was an American football game to determine the champion of the "
    "National Football League (NFL) for the 2015 season. The American Football Conference "
    "champion Denver Broncos defeated the Carolina Panthers 24–10 to earn their third title. "
    "The game was played on February 7, 2016, at Levi's Stadium in Santa Clara, California. "
    "Café owners in Zürich watched it live, and the broadcast drew 111.9 million viewers."
)


def test_answers_are_exact_substrings_of_the_context():
    rng = np.random.default_rng(0)
    found = []
    for _ in range(50):
        for question, context, start, answer in make_questions(PASSAGE, rng, drop_rate=0.2):
            assert context[start:start + len(answer)] == answer
            assert context in PASSAGE
            assert answer.strip() == answer and answer
            assert question.endswith("?")
            found.append(answer)
    assert len(set(found)) > 10


def test_question_leaves_the_answer_out_and_asks_by_type():
    rng = np.random.default_rng(1)
    by_answer = {}
    for _ in range(200):
        for question, _, _, answer in make_questions(PASSAGE, rng, drop_rate=0):
            by_answer.setdefault(answer, question)
    assert by_answer["2015"].startswith("when ")
    assert "2015" not in by_answer["2015"]
    assert by_answer["Denver Broncos"].split()[0] in ("who", "what")
    assert "Broncos" not in by_answer["Denver Broncos"]


def test_same_seed_same_questions():
    first = make_questions(PASSAGE, np.random.default_rng(7), per_passage=3)
    again = make_questions(PASSAGE, np.random.default_rng(7), per_passage=3)
    assert first == again and len(first) == 3


@pytest.mark.parametrize("passage", ["", "Too short.", "One two three four five six"])
def test_no_question_without_a_long_enough_sentence(passage):
    assert make_questions(passage, np.random.default_rng(0), min_words=7) == []


@pytest.mark.parametrize("kwargs, named", [
    (dict(per_passage=0), "per_passage=0"),
    (dict(drop_rate=1.0), "drop_rate=1.0"),
    (dict(context_sentences=-1), "context_sentences=-1"),
    (dict(keep_words=2.5), "keep_words=2.5"),
    (dict(passage=b"bytes"), "passage=b'bytes'"),
])
def test_bad_arguments_are_named(kwargs, named):
    args = dict(dict(passage=PASSAGE, rng=np.random.default_rng(0)), **kwargs)
    with pytest.raises(ValueError, match=re.escape(named)):
        make_questions(**args)
