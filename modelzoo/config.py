"""Typed configs: dataclass sections, checked when created.

A config is a dataclass whose fields are plain values or nested sections
(themselves `Config`s). Each plain field is declared with `field`, which
carries its help text and its checks; `Config.__post_init__` runs them, so
a config that exists is valid. A field's name is its command-line flag
(`--epochs`), so leaf names are unique across an experiment's sections and
messages name the field as the flag: `--epochs=0 must be a positive integer`.

Example:
>>> @dataclasses.dataclass
... class Sizes(Config):
...     units: int = field(128, "Hidden units.", minimum=1)
>>> Sizes(units=0)
Traceback (most recent call last):
...
modelzoo.errors.UsageError: --units=0 must be a positive integer
"""

import dataclasses
import math
import typing

from modelzoo.errors import UsageError

INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1


def field(default, help, *, minimum=None, maximum=None, below=None, above=None,
          choices=None):
    """A config field with its help text and checks.

    Args:
        default: the default value (a tuple for sequences).
        help: str. The flag's help text.
        minimum, maximum: inclusive bounds of a number. An int field is also
            bounded to int32 unless `maximum` says otherwise, since numbers
            end up in int32 tensors.
        above: exclusive lower bound of a number.
        below: exclusive upper bound of a number.
        choices: None, or the allowed values.

    Returns:
        A `dataclasses.field`.
    """
    return dataclasses.field(default=default, metadata=dict(
        help=help, minimum=minimum, maximum=maximum, below=below, above=above,
        choices=choices))


def base_type(annotation):
    """`(type, optional)` of an annotation: `Optional[int]` gives `(int, True)`."""
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) is typing.Union and type(None) in args:
        (inner,) = [a for a in args if a is not type(None)]
        return inner, True
    return annotation, False


def _describe_bounds(meta, kind):
    lo, hi, above, below = meta["minimum"], meta["maximum"], meta["above"], meta["below"]
    if kind is int and hi in (INT32_MAX, INT64_MAX):
        hi = None  # the storage type's bound has its own message
    if kind is int and lo == 1 and hi is None and above is None and below is None:
        return "a positive integer"
    if kind is int and hi is None and above is None and below is None and lo is not None:
        return f"an integer >= {lo}"
    left = f"[{lo}" if lo is not None else (f"({above}" if above is not None else None)
    right = f"{hi}]" if hi is not None else (f"{below})" if below is not None else None)
    if left and right:
        return f"in {left}, {right}"
    if left:
        return f">= {lo}" if lo is not None else f"> {above}"
    return f"<= {hi}" if hi is not None else f"< {below}"


def check_value(name, value, annotation, meta):
    """Raises `UsageError` naming `--name` unless `value` fits its type and checks."""
    kind, optional = base_type(annotation)
    if value is None:
        if optional:
            return
        raise UsageError(f"--{name} must be set")
    shown = ",".join(map(str, value)) if isinstance(value, (tuple, list)) else value
    if typing.get_origin(kind) is tuple:
        if not isinstance(value, (tuple, list)) or not all(
                isinstance(v, int) and not isinstance(v, bool) for v in value):
            raise UsageError(f"--{name}={shown} must be comma-separated integers")
        for v in value:
            if v < 1 or v > INT32_MAX:
                raise UsageError(f"--{name}={shown} must be positive integers")
        return
    if kind is bool:
        if not isinstance(value, bool):
            raise UsageError(f"--{name}={value!r} must be true or false")
        return
    if kind is str:
        if not isinstance(value, str):
            raise UsageError(f"--{name}={value!r} must be a string")
        if meta["choices"] is not None and value not in meta["choices"]:
            raise UsageError(
                f"--{name}={value!r} is unknown; use one of: {', '.join(meta['choices'])}")
        return
    if kind is int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise UsageError(f"--{name}={value!r} must be an integer")
        top = INT32_MAX if meta["maximum"] is None else meta["maximum"]
        if value > top:
            raise UsageError(f"--{name}={value} is too large; the largest is {top}")
    elif kind is float:
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise UsageError(f"--{name}={value!r} must be a number")
        if not math.isfinite(value):
            raise UsageError(f"--{name}={value} must be a finite number")
    lo, hi, above, below = meta["minimum"], meta["maximum"], meta["above"], meta["below"]
    if ((lo is not None and value < lo) or (hi is not None and value > hi)
            or (above is not None and not value > above)
            or (below is not None and not value < below)):
        raise UsageError(f"--{name}={value} must be {_describe_bounds(meta, kind)}")


@dataclasses.dataclass
class Config:
    """A section of fields; checked when created (`check` adds cross-field rules)."""

    def __post_init__(self):
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, list) and typing.get_origin(
                    base_type(hints[f.name])[0]) is tuple:
                value = tuple(value)
                object.__setattr__(self, f.name, value)
            if isinstance(value, Config):
                continue
            check_value(f.name, value, hints[f.name], f.metadata)
        self.check()

    def check(self):
        """Cross-field checks of subclasses; raises `UsageError`."""

    # === Leaves: the flat view the command line and overrides use ===

    def leaves(self):
        """Yields `(section, dataclasses.Field, type)` for every plain field."""
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Config):
                yield from value.leaves()
            else:
                yield self, f, hints[f.name]

    def names(self):
        """Sorted names of every plain field, the flags of this config."""
        return sorted(f.name for _, f, _ in self.leaves())

    def flat(self):
        """Dict of every plain field's name → value."""
        return {f.name: getattr(section, f.name) for section, f, _ in self.leaves()}

    def override(self, **values):
        """A new, checked config with the named fields replaced (in any section).

        Raises:
            UsageError: a name that is no field of this config; the message
                lists the known ones.
        """
        unknown = sorted(set(values) - set(self.names()))
        if unknown:
            raise UsageError(
                f"unknown config field(s) {', '.join(unknown)} for {type(self).__name__}; "
                f"known fields: {', '.join(self.names())}")
        return self._replace(values)

    def _replace(self, values):
        changes = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Config):
                if set(values) & set(value.names()):
                    changes[f.name] = value._replace(values)
            elif f.name in values:
                changes[f.name] = values[f.name]
        return dataclasses.replace(self, **changes) if changes else self

    def checked(self):
        """A copy checked again, every section (after fields were edited in place)."""
        sections = {f.name: getattr(self, f.name).checked() for f in dataclasses.fields(self)
                    if isinstance(getattr(self, f.name), Config)}
        return dataclasses.replace(self, **sections)

    def as_dict(self):
        """Nested dict of the sections and fields, JSON-ready (tuples as lists)."""
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Config):
                out[f.name] = value.as_dict()
            else:
                out[f.name] = list(value) if isinstance(value, tuple) else value
        return out
