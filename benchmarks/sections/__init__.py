"""The measurements, one module per section; each section returns a JSON-able dict.

Every section runs in its own process (see `run.py`), starts with a short
warm-up so the first contender does not pay for TensorFlow's lazy start-up,
and times the peer first, then modelzoo. `shared.py` holds what they share
(data, FLOP counts, timed fits, the recipes' own models); the timing and
statistics code is `benchmarks/common.py`.
"""

from benchmarks.sections.e2e import e2e_section
from benchmarks.sections.gpt import gpt_long_section, gpt_section
from benchmarks.sections.image import cnn_section, mlp_section
from benchmarks.sections.serving import serving_section
from benchmarks.sections.shared import (  # noqa: F401 - the probes' and tune's entry points
    TEXT_CHUNK_CHARS,
    corpus_text,
    dense_train_flops,
    fit_timed,
    image_splits,
    layer_train_flops,
    modelzoo_image,
    roofline,
    warm_up,
)
from benchmarks.sections.text import TRANSFORMER_SIZE, lstm_section, transformer_section  # noqa: F401

SECTIONS = {
    "mlp": mlp_section,
    "cnn": cnn_section,
    "transformer": transformer_section,
    "lstm": lstm_section,
    "gpt": gpt_section,
    "serving": serving_section,
    "gpt_long": gpt_long_section,
    "e2e": e2e_section,
}
