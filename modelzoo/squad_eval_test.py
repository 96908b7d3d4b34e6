"""SQuAD v1.1 scoring (`modelzoo.squad_eval`) on hand-worked cases."""

import pytest

from modelzoo.squad_eval import exact_match, f1, normalize_answer, squad_scores
from modelzoo.tasks import question_answering


@pytest.mark.parametrize(
    "text, normalized",
    [
        ("The Denver Broncos", "denver broncos"),
        # Articles only as whole words: "Theatre", "anthem", "Ana" stay.
        ("A Theatre an anthem, the Ana", "theatre anthem ana"),
        # string.punctuation is removed, not replaced by a space.
        ("U.S.-based (1,000) co's!", "usbased 1000 cos"),
        ("  Several\tspaces\n here ", "several spaces here"),
        # Typographic quotes and dashes are not in string.punctuation.
        ("“Quoted”—dash", "“quoted”—dash"),
        ("the a an", ""),
        ("", ""),
    ],
)
def test_normalize_answer(text, normalized):
    assert normalize_answer(text) == normalized


def test_exact_match_ignores_case_articles_and_punctuation():
    assert exact_match("the Broncos!", "Broncos") == 1.0
    assert exact_match("Denver Broncos", "Broncos") == 0.0


def test_f1_is_bag_of_tokens_overlap():
    # 1 common token: precision 1/2, recall 1/3 -> F1 = 2 * (1/6) / (5/6) = 0.4.
    assert f1("Denver Broncos", "the Carolina Panthers Denver") == pytest.approx(0.4)
    # Repeated tokens count as often as both sides have them: common 2 of 3 and 2.
    assert f1("go go go", "go go") == pytest.approx(2 * (2 / 3) * 1 / (2 / 3 + 1))
    assert f1("Broncos", "Panthers") == 0.0


def test_empty_prediction():
    # v1.1: no shared token -> F1 0, even if both sides normalize to nothing;
    # exact match still compares the (empty) strings.
    assert f1("", "the") == 0.0
    assert exact_match("", "the") == 1.0
    assert f1("", "Broncos") == 0.0 and exact_match("", "Broncos") == 0.0


def test_max_over_gold_answers_then_mean():
    scores = squad_scores(
        ["Denver Broncos", "in 1995", ""],
        [
            ["Carolina Panthers", "the Denver Broncos", "Broncos"],  # EM 1, F1 1
            # EM 0; F1: "1995" 2/3, "in year 1995" P 2/2 R 2/3 -> 0.8.
            ["1994", "1995", "in the year 1995"],
            ["Super Bowl"],  # 0, 0
        ],
    )
    assert scores["exact_match"] == pytest.approx(1 / 3)
    assert scores["f1"] == pytest.approx((1 + 0.8 + 0) / 3)


def test_no_gold_answers_and_no_questions():
    assert squad_scores(["x"], [[]]) == {"exact_match": 0.0, "f1": 0.0}
    assert squad_scores([], []) == {"exact_match": 0.0, "f1": 0.0}
    with pytest.raises(ValueError):
        squad_scores(["a", "b"], [["a"]])


def test_recipe_scores_with_this_definition():
    # The QA recipe's EM/F1 (and its export's) come from this module.
    assert question_answering.squad_scores is squad_scores
