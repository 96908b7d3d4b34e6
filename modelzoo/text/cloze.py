"""Cloze questions made from unlabelled passages, for span-selection pre-training.

A sentence of a passage becomes a question: a span of it (a name, a number
or a few words) is taken out as the answer, a wh-word is put in front of
what is left, and some words are dropped (Lewis et al. 2019, "Unsupervised
Question Answering by Cloze Translation": noisy clozes with wh-movement).
The passage around the sentence is the context, so the model learns what
SQuAD asks of it: find where the question's words occur and point at the
span they leave out (Glass et al. 2020, span-selection pre-training).
"""

import re


from modelzoo import checks

_WORD = re.compile(r"\w+(?:[-'.,]\w+)*")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+")
_YEAR = re.compile(r"1[0-9]{3}|20[0-9]{2}")
_NUMBER = re.compile(r"[0-9][0-9,.]*")
STOP_WORDS = frozenset(
    "a an and are as at be but by for from had has have he her his i i'll i'm i've in is it "
    "its of on or she that the their them they this to was we were which who with you".split()
)


def _candidates(words, passage):
    """`(first, last)` word spans of names and numbers: runs of capitalized
    words or numbers joined by single spaces, at most four words."""
    named = []
    i = 0
    while i < len(words):
        text = words[i][0]
        if _NUMBER.fullmatch(text) or (
            text[:1].isupper() and i > 0 and text.lower() not in STOP_WORDS
        ):
            j = i
            while j + 1 < len(words) and j - i < 3 and (
                words[j + 1][0][:1].isupper() or _NUMBER.fullmatch(words[j + 1][0])
            ) and passage[words[j][2]:words[j + 1][1]] == " ":
                j += 1
            named.append((i, j))
            i = j + 1
        else:
            i += 1
    return named


def make_questions(passage, rng, per_passage=2, context_sentences=3, min_words=6,
                   keep_words=10, drop_rate=0.15):
    """Cloze question/context/answer triples from one passage.

    Args:
        passage: str.
        rng: a `numpy.random.Generator`; the same one gives the same questions.
        per_passage: int. Most questions made from the passage.
        context_sentences: int. Sentences kept on each side of the question's.
        min_words: int. Shortest sentence asked about, in words.
        keep_words: int. Words kept on each side of the answer.
        drop_rate: float in [0, 1). Chance that each kept word is dropped.

    Returns:
        A list of `(question, context, answer_start, answer)`, `answer_start`
        a character offset into `context`, `context[answer_start:][:len(answer)]
        == answer`.

    Raises:
        ValueError: an argument is out of range.

    Example:
    >>> rng = np.random.default_rng(0)
    >>> q, c, start, a = make_questions(
    ...     "Denver won the title. The Broncos beat Carolina in 2016 at Santa Clara.",
    ...     rng, drop_rate=0)[0]
    >>> c[start:start + len(a)] == a
    True
    """
    if not isinstance(passage, str):
        raise ValueError(f"`passage` must be a str. Received: passage={passage!r:.80}")
    checks.positive_int("per_passage", per_passage)
    checks.non_negative_int("context_sentences", context_sentences)
    checks.positive_int("min_words", min_words)
    checks.positive_int("keep_words", keep_words)
    checks.rate("drop_rate", drop_rate)
    bounds = [0] + [m.end() for m in _SENTENCE_END.finditer(passage)] + [len(passage)]
    sentences = [(s, e) for s, e in zip(bounds, bounds[1:]) if e > s]
    order = rng.permutation(len(sentences))
    out = []
    for index in order:
        if len(out) >= per_passage:
            break
        start, end = sentences[index]
        words = [(m.group(), m.start(), m.end())
                 for m in _WORD.finditer(passage, start, end)]
        if len(words) < min_words:
            continue
        named = _candidates(words, passage)
        if named and rng.random() < 0.8:
            first, last = named[rng.integers(len(named))]
        else:
            length = int(rng.integers(1, 4))
            first = int(rng.integers(0, len(words) - length + 1))
            last = first + length - 1
            if {words[first][0].lower(), words[last][0].lower()} & STOP_WORDS:
                continue
        answer = passage[words[first][1]:words[last][2]]
        rest = words[max(0, first - keep_words):first] + words[last + 1:last + 1 + keep_words]
        kept = [w for w, _, _ in rest if rng.random() >= drop_rate]
        if len(kept) < 3:
            continue
        if _YEAR.fullmatch(answer):
            wh = "when"
        elif _NUMBER.fullmatch(answer.split()[0]):
            wh = "how many"
        elif answer[:1].isupper():
            wh = "who" if rng.random() < 0.3 else "what"
        else:
            wh = "what"
        lo = sentences[max(0, index - context_sentences)][0]
        hi = sentences[min(len(sentences) - 1, index + context_sentences)][1]
        context = passage[lo:hi].strip()
        shift = lo + (len(passage[lo:hi]) - len(passage[lo:hi].lstrip()))
        out.append((f"{wh} {' '.join(kept)}?", context, words[first][1] - shift, answer))
    return out
