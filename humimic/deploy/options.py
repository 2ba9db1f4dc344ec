"""Range checks for numeric command-line options, shared by deploy, simrobot and sim2sim.

argparse's ``type=float`` accepts ``nan`` and ``inf``; a NaN threshold compares false with
everything and so silently disables the check it configures. Every numeric option goes
through :func:`check_number` before anything starts.
"""

from __future__ import annotations

import math

from humimic.errors import ConfigError


def check_number(
    option: str, value: float | None, low: float, high: float, *, optional: bool = False
) -> None:
    """Raise a one-line ConfigError unless ``low <= value <= high`` and ``value`` is finite.

    Args:
        option: the option as the user typed it, e.g. "--stale-state-ms".
        value: the parsed value (None allowed when ``optional``).
        low, high: inclusive bounds.
        optional: None means "not given" and passes.
    """
    if value is None and optional:
        return
    if value is None or not math.isfinite(value) or not low <= value <= high:
        raise ConfigError(f"{option}: {value} is not a finite number in [{low:g}, {high:g}]")
