"""PNG figures of a clip's quality report: contacts, CoM–CoP distance, joint margins, torques.

Figures are drawn on standalone :class:`matplotlib.figure.Figure` objects (Agg canvas, no
pyplot state, safe in worker processes) and written atomically. A figure whose data is not in
the report is skipped, so the function works for clips converted from other tools too.

Report parts read (all optional): the filter's ``distance_m`` (T,) with the threshold from
``clip.settings["filter"]["stability_threshold_m"]`` or the filter's figures; the
feasibility section's ``robot_contact.mask``, the ``joint_limits`` check's
``min_margin_rad`` and the ``torque`` check's ``peak_fraction`` and ``series``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from humimic.files import atomic_write
from humimic.motion.clip import RobotClip
from humimic.motion.report import ClipReport, FilterSummary

PBHC_STABILITY_THRESHOLD_M = 0.1
"""PBHC's ε_stab, used when neither the settings nor the report give the threshold."""


def plot_clip_report(
    clip: RobotClip, report: ClipReport | None, out_dir: str | Path, stem: str
) -> list[Path]:
    """Write the report figures of ``clip`` as ``<out_dir>/<stem>_<figure>.png``.

    Args:
        clip: The clip (contact mask, frame rate, settings).
        report: The clip's report (see the module docstring for the parts used); None
            draws only what the clip itself holds.
        out_dir: Output folder (created if missing).
        stem: File-name prefix, usually the clip's file stem.

    Returns:
        Paths of the files written, in the order contacts, com_cop, joint_margins, torque.
    """
    out_dir = Path(out_dir)
    feas = report.feasibility if report is not None else None
    robot_mask = feas.robot_contact.mask if feas and feas.robot_contact else None
    limits = report.check("joint_limits") if report is not None else None
    torque = report.check("torque") if report is not None else None
    figures = {
        "contacts": _contacts_figure(clip, robot_mask),
        "com_cop": _com_cop_figure(clip, report.filter if report is not None else None),
        "joint_margins": _margins_figure(limits.figures.get("min_margin_rad") if limits else None),
        "torque": _torque_figure(torque.figures if torque else {}, clip.fps),
    }
    written = []
    for name, fig in figures.items():
        if fig is None:
            continue
        path = out_dir / f"{stem}_{name}.png"
        atomic_write(path, _png_writer(fig))
        written.append(path)
    return written


def _png_writer(fig: Figure) -> Callable[[Path], None]:
    """A writer for :func:`atomic_write` that saves ``fig`` as a 100-dpi PNG."""

    def write(tmp: Path) -> None:
        fig.savefig(tmp, format="png", dpi=100)

    return write


def _contacts_figure(clip: RobotClip, robot_mask: Any) -> Figure:
    """Clip contact mask per foot, with the robot's own sole-point mask when available."""
    time = np.arange(clip.num_frames) / clip.fps
    fig = Figure(figsize=(9, 3.6), layout="constrained")
    axes = fig.subplots(2, 1, sharex=True)
    robot = np.asarray(robot_mask, float) if robot_mask is not None else None
    for i, (ax, side) in enumerate(zip(axes, ("left", "right"))):
        ax.step(time, clip.contact_mask[:, i], where="mid", label="clip mask (from human)")
        if robot is not None and robot.shape == clip.contact_mask.shape:
            ax.step(time, 0.9 * robot[:, i] + 0.05, where="mid", ls="--", label="robot soles")
        ax.set_ylabel(f"{side} foot")
        ax.set_yticks([0, 1], ["air", "contact"])
        ax.set_ylim(-0.15, 1.15)
    axes[0].legend(loc="upper right", fontsize=8)
    axes[-1].set_xlabel("time (s)")
    fig.suptitle("Foot contact")
    return fig


def _com_cop_figure(clip: RobotClip, summary: FilterSummary | None) -> Figure | None:
    """Horizontal CoM–CoP distance of the human motion against the stability threshold."""
    if summary is None or not summary.distance_m:
        return None
    distance = np.array(summary.distance_m, dtype=float)  # NaN: feet off the ground
    threshold = clip.settings.get("filter", {}).get("stability_threshold_m")
    threshold = threshold or summary.figures.get(
        "stability_threshold_m", PBHC_STABILITY_THRESHOLD_M
    )
    time = np.arange(distance.size) / clip.fps
    fig = Figure(figsize=(9, 3), layout="constrained")
    ax = fig.subplots()
    ax.plot(time, distance, lw=1, label="CoM–CoP distance (gaps: feet off the ground)")
    ax.axhline(threshold, color="tab:red", ls="--", label=f"threshold {threshold:g} m")
    top = np.nanmax(distance) if np.any(np.isfinite(distance)) else threshold
    ax.set_ylim(0.0, 1.15 * max(threshold, top))
    ax.set_xlabel("time (s)")
    ax.set_ylabel("distance (m)")
    ax.legend(loc="upper right", fontsize=8)
    ax.set_title("Physics filter: balance")
    return fig


def _margins_figure(margins: dict[str, float | None] | None) -> Figure | None:
    """Smallest distance to a joint limit per joint (negative: the limit is exceeded)."""
    if not margins:
        return None
    names = list(margins)
    values = np.array([np.nan if margins[n] is None else margins[n] for n in names])
    fig = Figure(figsize=(8, 0.22 * len(names) + 1.2), layout="constrained")
    ax = fig.subplots()
    colors = ["tab:red" if v < 0 else "tab:blue" for v in np.nan_to_num(values)]
    ax.barh(names, values, color=colors)
    ax.axvline(0.0, color="black", lw=0.8)
    ax.invert_yaxis()
    ax.tick_params(axis="y", labelsize=7)
    ax.set_xlabel("minimum margin to joint limit (rad); red = outside the range")
    ax.set_title("Joint-limit margins")
    return fig


def _torque_figure(torque: Mapping[str, Any], fps: float) -> Figure | None:
    """Peak |τ| / effort limit per joint, and the ratio over time for the worst joints."""
    peak = torque.get("peak_fraction")
    if not peak:
        return None
    names = list(peak)
    series = torque.get("series", {})
    fig = Figure(figsize=(9, 0.22 * len(names) + 4), layout="constrained")
    bar_ax, time_ax = fig.subplots(2, 1, height_ratios=[0.22 * len(names) + 1, 2.5])
    values = np.array([peak[n] for n in names])
    bar_ax.barh(names, values, color=["tab:red" if v > 1 else "tab:blue" for v in values])
    bar_ax.axvline(1.0, color="black", ls="--", lw=0.8)
    bar_ax.invert_yaxis()
    bar_ax.tick_params(axis="y", labelsize=7)
    bar_ax.set_xlabel("peak |torque| / effort limit")
    for name, ratio in series.items():
        time_ax.plot(np.arange(len(ratio)) / fps, ratio, lw=1, label=name)
    time_ax.axhline(1.0, color="black", ls="--", lw=0.8)
    time_ax.set_xlabel("time (s)")
    time_ax.set_ylabel("|torque| / limit")
    if series:
        time_ax.legend(loc="upper right", fontsize=8)
    fig.suptitle("Torque the motion needs (inverse dynamics)")
    return fig
