"""Operator stand-in for unattended runs against the simulated robot (never on hardware)."""

from __future__ import annotations

import time
from collections.abc import Iterable

LOOPBACK_INTERFACES = frozenset({"lo", "lo0"})
"""The only interfaces on which :class:`UnattendedOperator` may be used."""


class UnattendedOperator:
    """Presses ``start`` once, then ``A`` once the move to the default pose is done.

    Args:
        move_to_default_s: Duration of the runtime's move to the default pose, s.
        settle_s: Extra wait before each press, s.
    """

    def __init__(self, move_to_default_s: float, settle_s: float = 0.5) -> None:
        self._t0 = time.monotonic()
        self._schedule = [(settle_s, "start"), (2 * settle_s + move_to_default_s, "A")]

    def __call__(self) -> Iterable[str]:
        """Buttons held at this control step (each press lasts one step)."""
        elapsed = time.monotonic() - self._t0
        if self._schedule and elapsed >= self._schedule[0][0]:
            return (self._schedule.pop(0)[1],)
        return ()
