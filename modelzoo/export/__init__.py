"""TF Serving SavedModel exports: write, verify in a fresh process, publish.

Each export kind is an `ExportModule` (`export.base`): `ImageClassifierExport`
(pixels or bytes), `TextClassifierExport`, `QaExport`, `TextGeneratorExport`
and `GptGeneratorExport`. `publish_module(module, Target(...), card)` writes
it into a temporary sibling of `<export_dir>/<name>/<version>`, verifies it
in a process that imports only TensorFlow and TF Text (whose ops TF Serving
links), and renames it into place. `publish` is the lower-level step it uses;
the `publish_*` functions are shorthands for `publish_module` of one kind.
"""

from modelzoo.export.base import ExportModule, Target
from modelzoo.export.base import publish as publish_module
from modelzoo.export.generator import (
    TextGeneratorExport,
    export_text_generator,
    greedy_generate,
    make_generator,
    publish_text_generator,
)
from modelzoo.export.gpt_generator import (
    GptGeneratorExport,
    export_gpt_generator,
    greedy_generate_gpt,
    is_gpt,
    make_gpt_generator,
    publish_gpt_generator,
)
from modelzoo.export.image import (
    ImageClassifierExport,
    export_image_bytes_classifier,
    export_image_classifier,
    publish_image_bytes_classifier,
    publish_image_classifier,
)
from modelzoo.export.publish import (
    check_target,
    existing_versions,
    next_version,
    publish,
)
from modelzoo.export.qa import QaExport, export_qa, publish_qa
from modelzoo.export.text_classifier import (
    TextClassifierExport,
    export_text_classifier,
    publish_text_classifier,
)

__all__ = [
    "ExportModule",
    "GptGeneratorExport",
    "ImageClassifierExport",
    "QaExport",
    "Target",
    "TextClassifierExport",
    "TextGeneratorExport",
    "publish_module",
    "check_target",
    "existing_versions",
    "export_gpt_generator",
    "export_image_bytes_classifier",
    "export_image_classifier",
    "export_qa",
    "export_text_classifier",
    "export_text_generator",
    "greedy_generate",
    "greedy_generate_gpt",
    "is_gpt",
    "make_generator",
    "make_gpt_generator",
    "next_version",
    "publish",
    "publish_gpt_generator",
    "publish_image_bytes_classifier",
    "publish_image_classifier",
    "publish_qa",
    "publish_text_classifier",
    "publish_text_generator",
]
