"""Argument checks shared by builders and layers.

Each raises a `ValueError` that names the argument and the value received,
so a bad configuration fails at construction time, not deep inside a graph.
"""


def positive_int(name, value):
    """Returns `value` if it is an int > 0, else raises `ValueError`."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(
            f"`{name}` must be a positive integer. Received: {name}={value!r}"
        )
    return value


def positive_ints(name, values):
    """Returns `values` as a tuple of positive ints; it must not be empty."""
    if isinstance(values, int):
        values = (values,)
    try:
        values = tuple(values)
    except TypeError:
        raise ValueError(
            f"`{name}` must be a sequence of positive integers. "
            f"Received: {name}={values!r}"
        ) from None
    if not values or any(
        isinstance(v, bool) or not isinstance(v, int) or v <= 0 for v in values
    ):
        raise ValueError(
            f"`{name}` must be a non-empty sequence of positive integers. "
            f"Received: {name}={values!r}"
        )
    return values


def rate(name, value):
    """Returns `value` if it is a float in [0, 1), else raises `ValueError`."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
        0.0 <= value < 1.0
    ):
        raise ValueError(
            f"`{name}` must be a float in [0, 1). Received: {name}={value!r}"
        )
    return float(value)


def divisible(name, value, divisor_name, divisor):
    """Raises `ValueError` unless `value` is divisible by `divisor`."""
    if value % divisor:
        raise ValueError(
            f"`{name}` must be divisible by `{divisor_name}`. "
            f"Received: {name}={value}, {divisor_name}={divisor}"
        )
