"""Presets on real IMDB reviews: fine-tuning beats from scratch; a fresh process
classifies raw test text with the export's accuracy."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import modelzoo
from modelzoo.data.loading import load_splits
from tests.recipe_helpers import ROOT, needs_shared

TEST_EXAMPLES = 1000
SIZES = dict(vocab_size=5000, sequence_length=128, embed_dim=32, num_heads=2, ff_dim=32,
             num_layers=1, batch_size=32, seed=0, download=False,
             max_eval_examples=TEST_EXAMPLES)

pytestmark = [pytest.mark.slow, needs_shared]


@pytest.fixture(scope="module")
def imdb(real_data):
    data_dir = real_data("imdb_reviews")
    (train, test), info = load_splits("imdb_reviews", ["train", "test"], str(data_dir), False)
    return data_dir, train, test, info


def test_fine_tuning_a_preset_beats_from_scratch_and_reloads_with_the_export_accuracy(
        imdb, tmp_path):
    data_dir, train, test, info = imdb
    common = dict(SIZES, data_dir=str(data_dir), export_dir=str(tmp_path / "exports"),
                  preset_dir=str(tmp_path / "presets"))
    # A preset trained on 3,000 real reviews; then 600 other reviews, 1 epoch each way.
    base = modelzoo.train("imdb_transformer", epochs=2, name="imdb_base",
                          datasets_override=((train.take(3000), test), info), **common)
    other = ((train.skip(3000).take(600), test), info)
    tuned = modelzoo.train("imdb_transformer", name="imdb_tuned", learning_rate=3e-4,
                           init_preset=base["preset_path"], datasets_override=other, **common)
    scratch = modelzoo.train("imdb_transformer", name="imdb_scratch", learning_rate=3e-4,
                             datasets_override=other, **common)
    print(json.dumps({k: s["metrics"]["accuracy"] for k, s in
                      (("base", base), ("tuned", tuned), ("scratch", scratch))}))
    assert tuned["metrics"]["accuracy"] > scratch["metrics"]["accuracy"] + 0.05
    assert tuned["metrics"]["accuracy"] > 0.6

    # A fresh process: from_preset(name) classifies the raw test reviews as the export did.
    texts, labels = zip(*[(t.decode("utf-8"), int(y)) for t, y in
                          test.take(TEST_EXAMPLES).as_numpy_iterator()])
    reviews = tmp_path / "reviews.json"
    reviews.write_text(json.dumps(texts))
    code = ("import json, sys, modelzoo; m = modelzoo.from_preset('imdb_tuned'); "
            "p = m.predict_texts(json.load(open(sys.argv[1]))); print(json.dumps(p.argmax(-1).tolist()))")
    env = dict(os.environ, MODELZOO_HOME=str(tmp_path), PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", code, str(reviews)], env=env, check=True,
                         capture_output=True, text=True)
    predicted = np.array(json.loads(out.stdout.strip().splitlines()[-1]))
    accuracy = float(np.mean(predicted == np.array(labels)))
    assert accuracy == pytest.approx(tuned["export_metrics"]["accuracy"], abs=1e-9)
