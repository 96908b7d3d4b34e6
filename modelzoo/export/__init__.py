"""TF Serving SavedModel exports: write, verify in a fresh process, publish.

`export_*` write one SavedModel; `publish_*` export into a temporary sibling
of `<export_dir>/<name>/<version>`, verify it in a process that imports only
TensorFlow and TF Text (whose ops TF Serving links), and rename it into place. `publish` is the generic step they use.
"""

from modelzoo.export.generator import (
    export_text_generator,
    greedy_generate,
    make_generator,
    publish_text_generator,
)
from modelzoo.export.gpt_generator import (
    export_gpt_generator,
    greedy_generate_gpt,
    is_gpt,
    make_gpt_generator,
    publish_gpt_generator,
)
from modelzoo.export.image import export_image_classifier, publish_image_classifier
from modelzoo.export.image_bytes import (
    export_image_bytes_classifier,
    publish_image_bytes_classifier,
)
from modelzoo.export.qa import export_qa, publish_qa
from modelzoo.export.publish import check_target, existing_versions, next_version, publish
from modelzoo.export.text_classifier import export_text_classifier, publish_text_classifier

__all__ = [
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
