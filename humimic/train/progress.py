"""What humimic adds to rsl-rl's training loop, as rsl-rl's own extension point: its
``Logger``, which the loop calls once per finished iteration.

:class:`TrainingLogger` keeps rsl-rl's TensorBoard scalars and console table and adds a
quiet mode (a progress bar instead of the table) and an ``on_iteration`` callback, through
which the runner counts iterations, saves checkpoints, updates the bar and stops at a time
limit (rsl-rl 5.5 has no callbacks of its own).
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable
from typing import Any

from rsl_rl.utils.logger import Logger

IterationCallback = Callable[[int, float, float], None]
"""``(iteration index, collection time s, learning time s)`` after each iteration."""


class TrainingLogger(Logger):
    """rsl-rl's ``Logger`` with a quiet console and a per-iteration callback."""

    quiet: bool = False
    """Swallow rsl-rl's per-iteration console table (a progress bar shows instead)."""
    on_iteration: IterationCallback | None = None

    def init_logging_writer(self) -> None:
        """rsl-rl's writer set-up, once per runner: rsl-rl calls it at every ``learn()``,
        and a runner may learn in several calls (tools/bench_learning.py) into one log."""
        if self.writer is None:
            super().init_logging_writer()

    def log(self, *args: Any, **kwargs: Any) -> None:
        """rsl-rl's scalars and table (table muted when :attr:`quiet`), then the callback."""
        sink = io.StringIO() if self.quiet else None
        with contextlib.redirect_stdout(sink) if sink else contextlib.nullcontext():
            super().log(*args, **kwargs)
        if self.on_iteration is not None:
            self.on_iteration(kwargs["it"], kwargs["collect_time"], kwargs["learn_time"])


class ProgressBar:
    """A tqdm bar of PPO iterations with the sampling rate, or nothing when disabled."""

    def __init__(self, total: int, enabled: bool) -> None:
        """Open the bar (on stderr) when ``enabled``."""
        self._bar: Any = None
        if enabled:
            from tqdm import tqdm

            self._bar = tqdm(total=total, unit="it", desc="train", dynamic_ncols=True)

    def update(self, steps_per_s: float) -> None:
        """One more iteration done, at ``steps_per_s`` env steps per second."""
        if self._bar is not None:
            self._bar.update(1)
            self._bar.set_postfix_str(f"{steps_per_s:.0f} steps/s", refresh=False)

    def close(self) -> None:
        """Close the bar (idempotent)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
