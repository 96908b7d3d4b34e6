"""One export contract: an `ExportModule` per export kind and one `publish`.

In the spirit of TF Model Garden's `ExportModule`, each kind owns its
serving function and input signature (`write`), its `serving_default`
contract, the outputs the in-memory model gives for its examples
(`expected`), its warm-up examples (`example`) and the name of its
`modelzoo predict` client (`kind`, a key of `modelzoo.clients.CLIENTS`).
`publish` does the rest: staging, write, verify in a fresh process, warm-up,
model card (which records `kind`), commit.
"""

import dataclasses

from modelzoo.export import publish as publishing


@dataclasses.dataclass(frozen=True)
class Target:
    """Where a version lands: `<export_dir>/<name>/<version>`.

    Args:
        export_dir: str. The root holding one folder per model name.
        name: str. Model name, a single path component.
        version: positive int, or None for the next free version.
    """

    export_dir: str
    name: str
    version: int = None


class ExportModule:
    """One export kind: what it serves and how it is checked.

    Subclasses set `kind` (the client's name in `modelzoo.clients.CLIENTS`)
    and implement `write`, `contract`, `example` and `expected`.

    Attributes:
        model: the `keras.Model` being exported.
        rtol, atol: float tolerances for the float outputs.
    """

    kind = None
    rtol = 1e-5
    atol = 1e-6

    def __init__(self, model, rtol=None, atol=None):
        self.model = model
        if rtol is not None:
            self.rtol = rtol
        if atol is not None:
            self.atol = atol

    def write(self, path):
        """Writes the SavedModel (every signature) into `path`; returns `path`."""
        raise NotImplementedError

    def contract(self):
        """The `serving_default` inputs and outputs, for `verify.check_signature`."""
        raise NotImplementedError

    def example(self):
        """dict input name → array: the check's request and the warm-up records."""
        raise NotImplementedError

    def expected(self, example):
        """dict output name → array the in-memory model gives for `example`."""
        raise NotImplementedError

    def prefixes(self, example):
        """dict string output → byte counts compared per row, or None for all."""
        return None


def publish(module, target, card=None, timeout=600):
    """Writes, verifies in a fresh process and publishes `module`'s export.

    Args:
        module: an `ExportModule`.
        target: a `Target`.
        card: dict of model card facts (see `model_card.build_card`) or None;
            the card also records `module.kind`.
        timeout: float. Seconds allowed for the verification process.

    Returns:
        The path of the new version directory.

    Example:
        >>> publish(ImageClassifierExport(model, ["cat", "dog"]),
        ...         Target("saved_models", "pets"))  # doctest: +SKIP
        'saved_models/pets/1'
    """
    example = module.example()
    return publishing.publish(
        module.write, target.export_dir, target.name, version=target.version,
        contract=module.contract(), example=example, expected=module.expected(example),
        rtol=module.rtol, atol=module.atol, timeout=timeout, model=module.model,
        card={**(card or {}), "kind": module.kind}, prefixes=module.prefixes(example),
    )
