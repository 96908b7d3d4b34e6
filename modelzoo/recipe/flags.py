"""A recipe's flags, generated from its experiment's config.

Every plain config field is a flag of the same name, with the field's help
text and the experiment's default; only this command-line layer sees absl.
`config_from_flags` turns the parsed flags back into a checked config, so
a bad value gets the config's own one-line message.
"""

import typing

from absl import flags

from modelzoo.config import base_type
from modelzoo.errors import UsageError

COMMAND_FLAGS = ("verbose",)


def _is_list(annotation):
    return typing.get_origin(base_type(annotation)[0]) is tuple


def define_flags(config, flag_values=flags.FLAGS):
    """Defines one flag per field of `config`, defaulting to its value, and --verbose.

    Args:
        config: an `ExperimentConfig`.
        flag_values: the `FlagValues` to define them in; tests pass a fresh
            one so several recipes can live in one process.
    """
    fv = dict(flag_values=flag_values)
    for section, f, annotation in config.leaves():
        value, help_text = getattr(section, f.name), f.metadata["help"]
        kind = base_type(annotation)[0]
        if _is_list(annotation):
            flags.DEFINE_list(f.name, [str(v) for v in value], help_text, **fv)
        elif kind is bool:
            flags.DEFINE_boolean(f.name, value, help_text, **fv)
        elif kind is int:
            flags.DEFINE_integer(f.name, value, help_text, **fv)
        elif kind is float:
            flags.DEFINE_float(f.name, value, help_text, **fv)
        else:
            flags.DEFINE_string(f.name, value, help_text, **fv)
    flags.DEFINE_boolean("verbose", False, "Show tracebacks and Keras progress bars.", **fv)


def config_from_flags(config, flag_values=flags.FLAGS):
    """`config` with every flag given on the command line applied, checked.

    Raises:
        UsageError: a bad value, named as its flag.
    """
    annotations = {f.name: annotation for _, f, annotation in config.leaves()}
    overrides = {}
    for name, annotation in annotations.items():
        if not flag_values[name].present:
            continue
        value = flag_values[name].value
        if _is_list(annotation):
            try:
                value = tuple(int(v) for v in value)
            except ValueError:
                raise UsageError(
                    f"--{name}={','.join(value)} must be comma-separated integers") from None
        overrides[name] = value
    return config.override(**overrides)


def as_flags(overrides):
    """Command-line flags for a dict of config fields (`{"epochs": 1}` → `["--epochs=1"]`)."""
    out = []
    for name, value in overrides.items():
        if isinstance(value, bool):
            out.append(f"--{name}" if value else f"--no{name}")
        elif isinstance(value, (tuple, list)):
            out.append(f"--{name}={','.join(map(str, value))}")
        else:
            out.append(f"--{name}={value}")
    return out


def help_text(name, config):
    """The recipe's `--help`: its flags by section, with defaults and help."""
    lines = [f"usage: python recipes/{name}.py [--flag=value ...]", "",
             (type(config).__doc__ or "").strip().splitlines()[0], ""]
    for section_name, section in _sections(config):
        lines.append(f"{section_name}:")
        for _, f, annotation in section.leaves():
            value = getattr(section, f.name)
            shown = ",".join(map(str, value)) if isinstance(value, tuple) else value
            lines.append(f"  --{f.name}={'' if shown is None else shown}")
            lines.append(f"      {f.metadata['help']}")
        lines.append("")
    lines += ["command:", "  --verbose", "      Show tracebacks and Keras progress bars.",
              "  --help", "      Show this help and exit."]
    return "\n".join(lines)


def _sections(config):
    import dataclasses

    for f in dataclasses.fields(config):
        yield f.name, getattr(config, f.name)
