"""Training curves from a run's TensorBoard log: reward up, tracking error down, at a glance."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from humimic.errors import HumimicError
from humimic.files import atomic_write
from humimic.runs import RunDir

CURVES: tuple[tuple[str, str], ...] = (
    ("Train/mean_reward", "episode reward"),
    ("/Progress/falls_per_s", "falls per robot-second"),
    ("/Progress/body_pos_error_m", "body position\nerror (m)"),
    ("/Progress/mpbpe_m", "body position error,\nroot-relative (m)"),
    ("Train/mean_episode_length", "episode length (steps)"),
    ("/Progress/reward_per_step", "reward per step"),
    ("/Progress/joint_pos_error_rad", "joint error (rad)"),
)
"""TensorBoard scalar tags plotted, with their axis labels."""


def read_scalars(run_dir: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Every scalar series of a run as ``tag -> (iterations, values)``."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    files = RunDir(run_dir).log_files()
    if not files:
        raise HumimicError(f"{run_dir}: no TensorBoard log (events.out.tfevents.*) found")
    series: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for path in files:  # a resumed run has several files; later ones extend earlier ones
        events = EventAccumulator(str(path), size_guidance={"scalars": 0})
        events.Reload()
        for tag in events.Tags()["scalars"]:
            steps = np.array([e.step for e in events.Scalars(tag)], float)
            values = np.array([e.value for e in events.Scalars(tag)], float)
            old_steps, old_values = series.get(tag, (np.zeros(0), np.zeros(0)))
            series[tag] = (np.concatenate([old_steps, steps]), np.concatenate([old_values, values]))
    return series


def smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Trailing moving average (the first points average what exists so far)."""
    sums = np.cumsum(np.insert(values, 0, 0.0))
    idx = np.arange(1, values.size + 1)
    start = np.maximum(idx - window, 0)
    return (sums[idx] - sums[start]) / (idx - start)


def plot_training_curves(run_dir: Path, out: Path | None = None) -> Path:
    """Write ``training_curves.png``: reward, episode length and tracking errors per
    iteration (faint: raw; bold: moving average over a tenth of the run)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = read_scalars(run_dir)
    shown = [(tag, label) for tag, label in CURVES if tag in series]
    if not shown:
        raise HumimicError(f"{run_dir}: the TensorBoard log has none of {[t for t, _ in CURVES]}")
    fig, axes = plt.subplots(len(shown), 1, figsize=(8, 2.0 * len(shown)), sharex=True)
    for ax, (tag, label) in zip(np.atleast_1d(axes), shown, strict=True):
        steps, values = series[tag]
        if values.size > 2:  # iteration 0 has seen only the shortest episodes: not shown
            steps, values = steps[1:], values[1:]
        ax.plot(steps, values, color="tab:blue", alpha=0.3, linewidth=0.8)
        ax.plot(steps, smooth(values, max(values.size // 10, 1)), color="tab:blue")
        ax.set_ylabel(label, fontsize=8)
        ax.grid(alpha=0.3)
    np.atleast_1d(axes)[-1].set_xlabel("PPO iteration")
    fig.suptitle(f"training: {run_dir.name}")
    fig.tight_layout()
    out = out or RunDir(run_dir).curves
    atomic_write(out, lambda tmp: fig.savefig(tmp, format="png", dpi=100))
    plt.close(fig)
    return out


def first_and_last(run_dir: Path, tag: str, fraction: float = 0.1) -> tuple[float, float]:
    """Mean of a run's series ``tag`` over its first and last ``fraction`` of iterations
    (see :func:`window_means`)."""
    return window_means(read_scalars(run_dir)[tag][1], fraction)


def window_means(values: np.ndarray, fraction: float = 0.1) -> tuple[float, float]:
    """Mean of a series over its first and last ``fraction`` of iterations.

    The first window starts after the first iterations' episodes have turned over once
    (skipping ``fraction / 2`` of the run, at least one point): the episodes that end in
    the very first iteration are only the short ones, a biased sample.
    """
    window = max(int(values.size * fraction), 1)
    skip = min(max(window // 2, 1), max(values.size - window, 0))
    return float(values[skip : skip + window].mean()), float(values[-window:].mean())
