"""Import the official SQuAD v1.1 JSON files as TFDS `squad` (config v1.1).

Examples come from TFDS's own parser (`qa_utils.generate_squadlike_examples`),
so fields, keys and answer grouping are those of TFDS's builder. With both
`train-v1.1.json` and `dev-v1.1.json` the splits are TFDS's: train and
validation. With the dev file alone, its articles are split in two (article
i, from 0 in file order, goes to validation if i % 5 == 4, else to train) and
the dataset's description says the scores are not leaderboard scores.
"""

import json
from pathlib import Path

from tensorflow_datasets.question_answering import qa_utils

from modelzoo.data import importer
from modelzoo.errors import DataError, UsageError

NAME = "squad"
VALIDATION_EVERY = 5  # Article i goes to validation if i % 5 == 4.
SPLIT_NAME = f"squad (dev articles, i % {VALIDATION_EVERY} == {VALIDATION_EVERY - 1})"

DEV_ONLY_NOTE = (
    "Imported by modelzoo from dev-v1.1.json alone (train-v1.1.json was not "
    "given): 'train' holds the dev articles i (from 0, in file order) with "
    "i % 5 != 4 and 'validation' those with i % 5 == 4. Scores on this "
    "validation split are not comparable with the SQuAD leaderboard, which "
    "trains on train-v1.1.json and scores the whole dev set."
)


def import_squad(src_files, data_dir, force=False):
    """Imports SQuAD v1.1 JSON files as TFDS `squad/v1.1`.

    Args:
      src_files: `dev-v1.1.json`, and optionally `train-v1.1.json`; which is
        which is told by "train" or "dev" in the file name.
      data_dir: the TFDS data directory to import into.
      force: replace an already imported version.

    Returns:
      A dict with name, version, path, splits, status and, when only the dev
      file was given, a `note` saying how it was split.

    Raises:
      UsageError: no dev file, or a file named neither train nor dev.
      DataError: a missing file, invalid UTF-8 or JSON, or not SQuAD v1.1.
    """
    files = _assign_roles(src_files)

    def read(info):
        dev_articles = read_articles(files["dev"])
        if "train" not in files:
            description = f"{info.description}\n\n{DEV_ONLY_NOTE}"
            return split_dev(files["dev"], dev_articles), description
        read_articles(files["train"])
        return {
            "train": list(qa_utils.generate_squadlike_examples(files["train"])),
            "validation": list(qa_utils.generate_squadlike_examples(files["dev"])),
        }, None

    summary = importer.import_with(NAME, data_dir, read, force)
    if "train" not in files and summary["status"] != "already imported":
        summary["note"] = DEV_ONLY_NOTE
    return summary


def split_dev(path, articles):
    """Splits the dev file's examples into train/validation by article.

    Args:
      path: the dev JSON file.
      articles: its parsed `data` list.

    Returns:
      A dict split -> list of (id, example), as TFDS's parser yields them.
    """
    article_of = {
        qa["id"]: i
        for i, article in enumerate(articles)
        for paragraph in article["paragraphs"]
        for qa in paragraph["qas"]
    }
    splits = {"train": [], "validation": []}
    for key, example in qa_utils.generate_squadlike_examples(path):
        is_validation = article_of[key] % VALIDATION_EVERY == VALIDATION_EVERY - 1
        splits["validation" if is_validation else "train"].append((key, example))
    empty = [split for split, examples in splits.items() if not examples]
    if empty:
        raise DataError(
            f"{path}: its {len(articles)} articles leave the {empty[0]} split empty; a dev-only "
            f"import needs at least {VALIDATION_EVERY} articles with questions (article i goes "
            f"to validation if i % {VALIDATION_EVERY} == {VALIDATION_EVERY - 1}): pass the whole "
            "dev-v1.1.json"
        )
    return splits


def read_articles(path):
    """Reads and checks a SQuAD v1.1 JSON file; returns its `data` list.

    Raises:
      DataError: the file is missing, not UTF-8, not JSON (e.g. truncated),
        or lacks a field SQuAD v1.1 has.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise DataError(
            f"{path}: cannot read ({err.strerror}); expected a SQuAD v1.1 JSON file"
        ) from err
    text = importer.decode_utf8(raw, path)
    try:
        squad = json.loads(text)
    except json.JSONDecodeError as err:
        raise DataError(
            f"{path}: invalid JSON at line {err.lineno} column {err.colno} ({err.msg}); "
            "the file is truncated or not SQuAD; expected the original JSON file, copy it again"
        ) from err
    if not isinstance(squad, dict) or not isinstance(squad.get("data"), list):
        raise DataError(f"{path}: no 'data' list; expected a SQuAD v1.1 JSON file")
    if squad.get("version", "1.1") != "1.1":
        raise DataError(
            f"{path}: SQuAD version {squad['version']}; expected version 1.1"
        )
    for i, article in enumerate(squad["data"]):
        _check_article(path, i, article)
    return squad["data"]


def _check_article(path, i, article):
    where = f"{path}: article {i}"
    try:
        for p, paragraph in enumerate(article["paragraphs"]):
            if not isinstance(paragraph["context"], str):
                raise TypeError("context")
            for q, qa in enumerate(paragraph["qas"]):
                where = f"{path}: article {i} paragraph {p} question {q}"
                for field in ("id", "question"):
                    if not isinstance(qa[field], str):
                        raise TypeError(field)
                for answer in qa["answers"]:
                    if not isinstance(answer["text"], str):
                        raise TypeError("answers.text")
                    if not isinstance(answer["answer_start"], int):
                        raise TypeError("answers.answer_start")
    except (KeyError, TypeError, IndexError) as err:
        field = err.args[0] if err.args else "?"
        raise DataError(
            f"{where}: missing or invalid {field!r}; expected SQuAD v1.1 fields "
            "(paragraphs, context, qas, id, question, answers)"
        ) from None


def _assign_roles(src_files):
    files = {}
    for src in map(Path, src_files):
        role = "train" if "train" in src.name else "dev" if "dev" in src.name else None
        if role is None or role in files:
            reason = "named neither train nor dev" if role is None else f"a second {role} file"
            raise UsageError(
                f"--src {src}: {reason}; pass dev-v1.1.json and optionally train-v1.1.json"
            )
        files[role] = src
    if "dev" not in files:
        raise UsageError(
            "import-squad needs dev-v1.1.json (--src PATH/dev-v1.1.json), the validation split"
        )
    return files
