"""PNG figures of tracking metrics: errors over time, per-joint errors, and runs side by side.

Input is the dict returned by :func:`humimic.eval.metrics.compute_metrics` (or its JSON).
Figures are standalone :class:`matplotlib.figure.Figure` objects (Agg canvas, no pyplot
state) and are written atomically. matplotlib is imported on first use, so importing the
metrics stays cheap.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from humimic.errors import HumimicError
from humimic.files import atomic_write

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["COMPARE_KEYS", "compare_runs_plot", "plot_errors"]

COMPARE_KEYS = ("E_g_mpbpe", "E_mpbpe", "E_mpjpe", "E_mpbve", "E_mpbae", "E_mpjve")
"""Metrics shown by :func:`compare_runs_plot` by default (PBHC's Table 1 columns)."""


def plot_errors(
    metrics: Mapping[str, Any], out_dir: str | Path, stem: str = "tracking"
) -> list[Path]:
    """Write ``<stem>_errors_over_time.png`` and, with per-joint errors, ``<stem>_per_joint.png``.

    Args:
        metrics: Output of ``compute_metrics``; reads ``"per_frame"`` and ``"per_joint"``.
        out_dir: Output folder (created if missing).
        stem: File-name prefix.

    Returns:
        Paths written, in the order above.

    Raises:
        HumimicError: ``metrics`` has neither per-frame nor per-joint errors.
    """
    out_dir = Path(out_dir)
    figures: dict[str, Figure] = {}
    if metrics.get("per_frame"):
        figures["errors_over_time"] = _time_figure(metrics["per_frame"])
    if metrics.get("per_joint"):
        figures["per_joint"] = _per_joint_figure(metrics["per_joint"])
    if not figures:
        raise HumimicError("plot_errors: metrics have no 'per_frame' or 'per_joint' entries")
    return [_save(fig, out_dir / f"{stem}_{name}.png") for name, fig in figures.items()]


def compare_runs_plot(
    runs: Mapping[str, Mapping[str, Any]],
    path: str | Path,
    keys: Sequence[str] = COMPARE_KEYS,
) -> Path:
    """Bar chart of mean ± std of each metric, one bar per run, one panel per metric.

    Args:
        runs: Run label -> ``compute_metrics`` output (only ``{key: {"mean", "std"}}`` and
            ``"units"`` are read).
        path: PNG file to write.
        keys: Metrics to show; a run lacking one shows no bar there.

    Returns:
        ``path``.

    Raises:
        HumimicError: ``runs`` or ``keys`` is empty.
    """
    from matplotlib.figure import Figure

    if not runs or not keys:
        raise HumimicError("compare_runs_plot: need at least one run and one metric")
    labels = list(runs)
    fig = Figure(figsize=(3.2 * len(keys), 3.6), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(keys)))
    for ax, key in zip(axes, keys):
        means = [runs[r].get(key, {}).get("mean", np.nan) for r in labels]
        stds = [runs[r].get(key, {}).get("std", 0.0) for r in labels]
        ax.bar(range(len(labels)), means, yerr=stds, capsize=3, color=_colours(len(labels)))
        ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right", fontsize=8)
        unit = next((run["units"][key] for run in runs.values() if key in run.get("units", {})), "")
        ax.set_title(f"{key}\n({unit})" if unit else key, fontsize=9)
    fig.suptitle("Tracking metrics by run (mean ± std over episodes)")
    return _save(fig, Path(path))


def _time_figure(per_frame: Mapping[str, Sequence[float]]) -> Figure:
    """Body position error (global and pelvis-relative) and joint L2 error against time."""
    from matplotlib.figure import Figure

    time = np.asarray(per_frame["time_s"], np.float64)
    fig = Figure(figsize=(9, 5), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True)
    top.plot(time, np.asarray(per_frame["body_pos_global_mm"], float), label="global (world)")
    top.plot(time, np.asarray(per_frame["body_pos_local_mm"], float), label="pelvis-relative")
    top.set_ylabel("body position error (mm)")
    top.legend(loc="upper left", fontsize=8)
    bottom.plot(time, np.asarray(per_frame["joint_pos_l2_mrad"], float), color="tab:red")
    bottom.set_ylabel("joint error, L2 (1e-3 rad)")
    bottom.set_xlabel("time (s)")
    for ax in (top, bottom):
        ax.grid(alpha=0.3)
        ax.set_ylim(bottom=0.0)
    fig.suptitle("Tracking error over time (mean over episodes)")
    return fig


def _per_joint_figure(per_joint: Mapping[str, float]) -> Figure:
    """Horizontal bars of the mean absolute error of each joint."""
    from matplotlib.figure import Figure

    names = list(per_joint)
    fig = Figure(figsize=(7, 0.25 * len(names) + 1.2), layout="constrained")
    ax = fig.subplots()
    ax.barh(range(len(names)), [per_joint[n] for n in names], color="tab:blue")
    ax.set_yticks(range(len(names)), names, fontsize=7)
    ax.invert_yaxis()  # first joint on top
    ax.set_xlabel("mean |joint error| (1e-3 rad)")
    ax.grid(axis="x", alpha=0.3)
    fig.suptitle("Per-joint error")
    return fig


def _colours(n: int) -> list[Any]:
    from matplotlib import colormaps

    cmap = colormaps["tab10"]
    return [cmap(i % 10) for i in range(n)]


def _save(fig: Figure, path: Path) -> Path:
    return atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=100))
