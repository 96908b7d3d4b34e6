"""Runs the Python session of docs/presets.md and writes it into the doc.

The transcript between `<!-- transcript:begin -->` and `<!-- transcript:end
-->` is generated, not hand-copied: each statement is run in one namespace
and shown with the repr of its value, as the interpreter would; Keras's
progress lines go to a buffer that is dropped.

    PYTHONPATH=. python benchmarks/presets_transcript.py [--doc docs/presets.md]

It loads `shakespeare_gpt` from `$MODELZOO_HOME/presets`; without one there
it first trains a tiny one on the real Tiny Shakespeare text (a few steps:
the doc says which was loaded, with its metric). Then it trains a small
IMDB classifier preset on 1,000 real reviews and fine-tunes it on 4,000.
Data: ../shared/data beside the repository (`--shared`). `make presets-session` runs it.
"""

import argparse
import contextlib
import io
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BEGIN, END = "<!-- transcript:begin -->", "<!-- transcript:end -->"

SESSION = [
    "import modelzoo",
    "gpt = modelzoo.from_preset('shakespeare_gpt')",
    "gpt.preset['name'], gpt.preset['version'], round(gpt.preset['metrics']['loss'], 4)",
    "text = gpt.generate(['ROMEO:'], max_length=80, sampler='top_p', top_p=0.9, seed=1)",
    "text == gpt.generate(['ROMEO:'], max_length=80, sampler='top_p', top_p=0.9, seed=1)",
    "print(text[0])",
    "base = modelzoo.train('imdb_transformer', name='imdb_small', data_dir=DIR, download=False, "
    "seed=0, epochs=1, max_train_examples=1000, max_eval_examples=300, vocab_size=2000, "
    "sequence_length=64, embed_dim=16, num_heads=2, ff_dim=16, num_layers=1)",
    "base['metrics']['accuracy'], base['preset_path']",
    "tuned = modelzoo.train('imdb_transformer', name='imdb_small_tuned', init_preset='imdb_small', "
    "data_dir=DIR, download=False, seed=1, epochs=1, max_train_examples=4000, "
    "max_eval_examples=300)",
    "tuned['metrics']['accuracy'], tuned['preset_path']",
    "clf = modelzoo.from_preset('imdb_small_tuned')",
    "clf.predict_texts(['A wonderful, moving film.', 'Boring and awful.']).argmax(-1)",
]


def run(statements, namespace, hide):
    """The transcript lines of `statements` run in `namespace`; `hide` paths shown as `$MODELZOO_HOME`.

    A `print(...)` statement shows what it printed; any other statement's
    output (Keras's progress) is dropped.
    """
    lines = []
    for statement in statements:
        lines.append(">>> " + statement)
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            try:
                value = eval(compile(statement, "<session>", "eval"), namespace)
            except SyntaxError:
                exec(compile(statement, "<session>", "exec"), namespace)
                value = None
        if value is not None:
            lines.append(repr(value))
        if statement.startswith("print(") and printed.getvalue():
            lines.append(printed.getvalue().rstrip("\n"))
    return "\n".join(lines).replace(hide, "$MODELZOO_HOME")


def cli(*args):
    subprocess.run([sys.executable, "-m", "modelzoo", *args], check=True, capture_output=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--doc", default="docs/presets.md")
    parser.add_argument("--shared", default=os.path.join(ROOT, "..", "shared", "data"))
    args = parser.parse_args(argv)
    args.doc = os.path.abspath(args.doc)
    with open(args.doc, encoding="utf-8") as f:
        doc = f.read()
    if BEGIN not in doc or END not in doc:
        sys.exit(f"{args.doc} has no {BEGIN} ... {END} markers; add them where the session goes")
    home = os.environ.setdefault("MODELZOO_HOME", tempfile.mkdtemp(prefix="modelzoo-home-"))
    work = tempfile.mkdtemp(prefix="transcript-")
    data_dir = os.path.join(work, "tfds")
    cli("data", "import-imdb", "--src",
        os.path.join(args.shared, "imdb_reviews", "aclImdb_labelled.tar.gz"), "--data_dir", data_dir)
    os.chdir(work)  # exports land in a scratch saved_models/
    import modelzoo

    trained = ""
    if not any(p["name"] == "shakespeare_gpt" and p["complete"] for p in modelzoo.list_presets()):
        cli("data", "import-text", "--name", "tiny_shakespeare", "--src",
            os.path.join(args.shared, "tfds_manual", "input.txt"), "--data_dir", data_dir)
        with contextlib.redirect_stdout(io.StringIO()):
            modelzoo.train("shakespeare_gpt", data_dir=data_dir, download=False, seed=0,
                           epochs=1, max_train_examples=20000, embed_dim=32, num_heads=2,
                           ff_dim=64, num_layers=1)
        trained = (" No trained `shakespeare_gpt` preset was there, so the script first "
                   "trained a tiny one (1 layer, width 32, one epoch on 20,000 windows of "
                   "the real text): its text is barely English.")
    text = run(SESSION, {"DIR": data_dir}, home)
    block = (f"{BEGIN}\nGenerated by `benchmarks/presets_transcript.py` (real data, 2 CPU "
             f"cores; `MODELZOO_HOME` shown as `$MODELZOO_HOME`).{trained}\n\n```python\n"
             f">>> DIR = 'tfds'  # modelzoo data import-imdb --src aclImdb_labelled.tar.gz "
             f"--data_dir tfds\n{text}\n```\n{END}")
    doc = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda _: block, doc, flags=re.S)
    with open(args.doc, "w", encoding="utf-8") as f:
        f.write(doc)


if __name__ == "__main__":
    main()
