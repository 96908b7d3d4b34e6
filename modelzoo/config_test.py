import dataclasses
from typing import Optional

import pytest

from modelzoo.config import Config, field
from modelzoo.errors import UsageError


@dataclasses.dataclass
class Inner(Config):
    units: tuple[int, ...] = field((8,), "Widths.")
    rate: float = field(0.1, "A rate.", minimum=0, below=1)


@dataclasses.dataclass
class Outer(Config):
    steps: int = field(1, "Steps.", minimum=1)
    big: int = field(1, "An int64.", minimum=0, maximum=2**63 - 1)
    label: Optional[str] = field(None, "A label.", choices=("a", "b"))
    flag: bool = field(False, "A switch.")
    inner: Inner = dataclasses.field(default_factory=Inner)

    def check(self):
        if self.flag and self.steps < 2:
            raise UsageError("--flag needs --steps >= 2")


def test_leaves_are_the_plain_fields_of_every_section():
    config = Outer()
    assert config.names() == ["big", "flag", "label", "rate", "steps", "units"]
    assert config.flat() == dict(steps=1, big=1, label=None, flag=False, units=(8,), rate=0.1)
    assert config.as_dict() == dict(steps=1, big=1, label=None, flag=False,
                                    inner=dict(units=[8], rate=0.1))


def test_override_reaches_nested_sections_and_returns_a_checked_copy():
    config = Outer()
    other = config.override(rate=0.5, steps=3, units=[4, 2])
    assert (other.inner.rate, other.steps, other.inner.units) == (0.5, 3, (4, 2))
    assert (config.inner.rate, config.steps) == (0.1, 1)
    with pytest.raises(UsageError, match=r"--rate=1 must be in \[0, 1\)"):
        config.override(rate=1)
    with pytest.raises(UsageError, match="known fields: big, flag, label, rate, steps, units"):
        config.override(stepz=2)


@pytest.mark.parametrize("kwargs, message", [
    (dict(steps=0), "--steps=0 must be a positive integer"),
    (dict(steps=True), "--steps=True must be an integer"),
    (dict(steps=2.0), "--steps=2.0 must be an integer"),
    (dict(steps=2**31), "the largest is 2147483647"),
    (dict(big=2**63), "the largest is 9223372036854775807"),
    (dict(label="c"), "--label='c' is unknown; use one of: a, b"),
    (dict(flag="yes"), "--flag='yes' must be true or false"),
    (dict(flag=True), "--flag needs --steps >= 2"),
    (dict(steps=None), "--steps must be set"),
])
def test_bad_values_name_the_field_and_the_value(kwargs, message):
    with pytest.raises(UsageError, match=message):
        Outer(**kwargs)


def test_big_int64_values_within_bounds_are_kept():
    assert Outer(big=2**63 - 1).big == 2**63 - 1
    assert Outer(label="a").label == "a"
