"""Foot contact masks from foot-point speed and height above the ground (z = 0).

A foot is in contact on a frame when any of its points (ankle or toe for human joints) is both
slow and low, as in PBHC's ``foot_detect``. The raw mask is then cleaned so that contact runs
and gaps shorter than ``min_duration_s`` are removed, so masks do not flicker.

Dimension names: ``T`` frames, ``P`` points per foot. Masks are ``(T, 2)`` bool, ``[left, right]``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from humimic.config.motion_schema import ContactCfg
from humimic.errors import ConfigError
from humimic.motion.human import HumanMotion

FOOT_JOINTS: dict[str, tuple[str, str]] = {
    "left": ("left_ankle", "left_toe"),
    "right": ("right_ankle", "right_toe"),
}
"""Canonical joints per foot, ankle first; the toe is optional."""


def foot_points_w(motion: HumanMotion) -> dict[str, NDArray[np.float64]]:
    """Canonical foot joints per foot.

    Args:
        motion: Motion whose ``canonical`` map names at least both ankles.

    Returns:
        ``{"left": (T, P, 3), "right": (T, P, 3)}`` world positions in metres; point 0 is the
        ankle and point 1 the toe when the skeleton has one (``P`` is 1 or 2).
    """
    out: dict[str, NDArray[np.float64]] = {}
    for side, names in FOOT_JOINTS.items():
        present = [n for n in names if n in motion.canonical]
        if names[0] not in present:
            raise ConfigError(f"motion {motion.source or '<motion>'} has no canonical {names[0]}")
        out[side] = np.stack([motion.canonical_pos_w(n) for n in present], axis=1)
    return out


def point_speed_mps(points_w: ArrayLike, fps: float, window_s: float) -> NDArray[np.float64]:
    """Speed of points by a centred difference over a fixed time span.

    Args:
        points_w: ``(T, P, 3)`` positions in metres.
        fps: Frame rate in Hz.
        window_s: Total span of the difference in seconds; ``k = round(window_s * fps / 2)``
            frames each side (at least 1), one-sided (shorter) near the clip ends.

    Returns:
        ``(T, P)`` speeds in m/s (zeros for a single frame).
    """
    p = np.asarray(points_w, dtype=np.float64)
    t = p.shape[0]
    if t < 2:
        return np.zeros(p.shape[:2])
    k = max(1, int(np.floor(window_s * fps / 2.0 + 0.5)))
    idx = np.arange(t)
    hi = np.minimum(idx + k, t - 1)
    lo = np.maximum(idx - k, 0)
    span_s = (hi - lo) / fps
    return np.linalg.norm(p[hi] - p[lo], axis=-1) / span_s[:, None]


def remove_short_runs(mask: ArrayLike, min_frames: float) -> NDArray[np.bool_]:
    """Flip interior runs (of either value) shorter than ``min_frames`` frames.

    The shortest offending run is flipped first, merging it into its neighbours, until none is
    left, so a flickering stretch becomes one run. Runs that touch the first or last frame stay.

    Args:
        mask: ``(T,)`` booleans.
        min_frames: Minimum run length in frames (may be fractional: a run of ``n`` frames is
            short when ``n < min_frames``).

    Returns:
        ``(T,)`` cleaned copy.
    """
    out = np.asarray(mask, dtype=bool).copy()
    while True:
        starts, lengths = mask_runs(out)
        interior = np.arange(1, len(starts) - 1)
        if interior.size == 0:
            return out
        short = interior[lengths[interior] < min_frames - 1e-9]
        if short.size == 0:
            return out
        r = short[np.argmin(lengths[short])]
        out[starts[r] : starts[r] + lengths[r]] = ~out[starts[r]]


def mask_runs(mask: NDArray[np.bool_]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Start index and length of each run of equal values in a ``(T,)`` mask."""
    if mask.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    change = np.flatnonzero(mask[1:] != mask[:-1]) + 1
    starts = np.concatenate([[0], change])
    lengths = np.diff(np.concatenate([starts, [mask.size]]))
    return starts.astype(np.int64), lengths.astype(np.int64)


def contact_mask_from_points(
    left_points_w: ArrayLike,
    right_points_w: ArrayLike,
    fps: float,
    cfg: ContactCfg,
    max_height_m: ArrayLike | None = None,
) -> NDArray[np.bool_]:
    """Foot contact mask from arbitrary foot points (human joints or robot foot frames).

    Args:
        left_points_w: ``(T, P, 3)`` left-foot points in the world frame, metres, ground z = 0.
        right_points_w: ``(T, P, 3)`` right-foot points, same ``P`` ordering.
        fps: Frame rate in Hz.
        cfg: Thresholds.
        max_height_m: ``(P,)`` height limit per point; ``None`` uses ``cfg.toe_height_m`` for
            every point (sole points).

    Returns:
        ``(T, 2)`` bool mask, ``[left, right]``.
    """
    feet = [np.asarray(left_points_w, np.float64), np.asarray(right_points_w, np.float64)]
    if feet[0].ndim != 3 or feet[0].shape != feet[1].shape or feet[0].shape[-1] != 3:
        raise ValueError(
            f"foot points must both be (T, P, 3), got {feet[0].shape}, {feet[1].shape}"
        )
    p = feet[0].shape[1]
    limit = np.full(p, cfg.toe_height_m) if max_height_m is None else np.asarray(max_height_m)
    if limit.shape != (p,):
        raise ValueError(f"max_height_m must have shape ({p},), got {limit.shape}")
    columns = []
    for pts in feet:
        speed = point_speed_mps(pts, fps, cfg.speed_window_s)
        raw = np.any((speed < cfg.max_speed_mps) & (pts[..., 2] < limit), axis=1)
        columns.append(remove_short_runs(raw, cfg.min_duration_s * fps))
    return np.stack(columns, axis=1)


def foot_contact_mask(motion: HumanMotion, cfg: ContactCfg) -> NDArray[np.bool_]:
    """Foot contact mask of a human motion from its canonical ankle and toe joints.

    Args:
        motion: Motion with the ground at z = 0 (see :func:`humimic.motion.normalize.normalize`).
        cfg: Thresholds; ankles use ``ankle_height_m``, toes ``toe_height_m``.

    Returns:
        ``(T, 2)`` bool mask, ``[left, right]``; a foot is in contact when its ankle OR toe is.
    """
    feet = foot_points_w(motion)
    limits = [cfg.ankle_height_m, cfg.toe_height_m][: feet["left"].shape[1]]
    return contact_mask_from_points(feet["left"], feet["right"], motion.fps, cfg, limits)


def contact_summary(mask: ArrayLike, fps: float) -> dict[str, object]:
    """Report entry for a contact mask.

    Args:
        mask: ``(T, 2)`` bool ``[left, right]``.
        fps: Frame rate in Hz.

    Returns:
        Contact fraction and number of contact runs per foot, and the fraction of frames with
        neither foot in contact.
    """
    m = np.asarray(mask, dtype=bool)
    runs = [_count_true_runs(m[:, i]) for i in (0, 1)]
    return {
        "contact_fraction": [round(float(m[:, 0].mean()), 4), round(float(m[:, 1].mean()), 4)],
        "contact_runs": runs,
        "no_contact_fraction": round(float((~m.any(axis=1)).mean()), 4),
        "fps": float(fps),
    }


def _count_true_runs(column: NDArray[np.bool_]) -> int:
    """Number of runs of ``True`` in a ``(T,)`` mask."""
    return int(np.sum(column[1:] & ~column[:-1]) + column[0]) if column.size else 0
