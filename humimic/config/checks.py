"""Value checks shared by the config schemas: one message format for every key."""

from __future__ import annotations

import math

from humimic.errors import ConfigError


def check_range(
    key: str,
    value: float,
    low: float = -math.inf,
    high: float = math.inf,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> None:
    """Require a finite ``value`` in the interval from ``low`` to ``high``.

    ``low_open``/``high_open`` exclude that end. NaN and ±inf are always refused.

    Raises:
        ConfigError: naming ``key``, the interval and the value.
    """
    ok = isinstance(value, (int, float)) and math.isfinite(value)
    ok = ok and (value > low if low_open else value >= low)
    ok = ok and (value < high if high_open else value <= high)
    if not ok:
        if high == math.inf and low == -math.inf:
            where = ""
        elif high == math.inf:
            where = f" {'>' if low_open else '>='} {low:g}"
        else:
            left, right = "(" if low_open else "[", ")" if high_open else "]"
            where = f" in {left}{low:g}, {high:g}{right}"
        raise ConfigError(f"{key} must be a finite number{where}, got {value}")
