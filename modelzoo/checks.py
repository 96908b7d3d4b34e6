"""Argument checks shared by builders and layers.

Each raises a `ValueError` that names the argument and the value received,
so a bad configuration fails at construction time, not deep inside a graph.
"""


def positive_int(name, value):
    """Returns `value` if it is an int > 0, else raises `ValueError`."""
    return _int_at_least(name, value, 1, "a positive integer")


def non_negative_int(name, value):
    """Returns `value` if it is an int >= 0, else raises `ValueError`."""
    return _int_at_least(name, value, 0, "a non-negative integer")


def _int_at_least(name, value, minimum, description):
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"`{name}` must be {description}. Received: {name}={value!r}")
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


def image_shape(name, value):
    """Returns `value` as a `(height, width, channels)` tuple of positive ints."""
    value = positive_ints(name, value)
    if len(value) != 3:
        raise ValueError(
            f"`{name}` must be (height, width, channels). Received: {name}={value!r}"
        )
    return value


def transformer_sizes(
    embed_dim, num_heads, ff_dim, num_layers, dropout, embed_name="embed_dim", ff_name="ff_dim"
):
    """Checks the sizes of a stack of Transformer blocks.

    `embed_dim` (the hidden size), `num_heads`, `ff_dim` (the feed-forward
    width) and `num_layers` must be positive ints, `embed_dim` divisible by
    `num_heads`, and `dropout` a rate. The errors name the two widths
    `embed_name` and `ff_name`, as the builder's arguments are named (a ViT's
    are `hidden_dim` and `mlp_dim`).
    """
    positive_int(embed_name, embed_dim)
    positive_int("num_heads", num_heads)
    divisible(embed_name, embed_dim, "num_heads", num_heads)
    positive_int(ff_name, ff_dim)
    positive_int("num_layers", num_layers)
    rate("dropout", dropout)
