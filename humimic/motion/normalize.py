"""Put a human motion on the ground plane, centre it, and resample it to the target frame rate.

Dimension names: ``T`` frames, ``K`` joints, ``P`` ground points.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from numpy.typing import ArrayLike, NDArray

from humimic.config.motion_schema import NormalizeCfg
from humimic.errors import ConfigError
from humimic.geometry import quat_np
from humimic.motion.contact import foot_points_w
from humimic.motion.human import HumanMotion


def select_window(motion: HumanMotion, start_s: float, end_s: float | None) -> HumanMotion:
    """The source frames whose times lie in ``[start_s, end_s]`` (s from the first frame).

    Raises:
        ConfigError: The window keeps fewer than two frames of the motion.
    """
    if start_s == 0.0 and end_s is None:
        return motion
    times = np.arange(motion.num_frames) / motion.fps
    keep = times >= start_s - 1e-9
    if end_s is not None:
        keep &= times <= end_s + 1e-9
    if int(keep.sum()) < 2:
        raise ConfigError(
            f"normalize.start_s/end_s: the window [{start_s}, {end_s}] s keeps fewer than two "
            f"frames of {motion.source or 'the motion'} ({motion.duration_s:.3f} s long)"
        )

    def cut(a: NDArray[np.float64] | None) -> NDArray[np.float64] | None:
        return None if a is None else a[keep]

    return dataclasses.replace(
        motion,
        joint_pos_w=motion.joint_pos_w[keep],
        joint_quat_w=cut(motion.joint_quat_w),
        com_w=cut(motion.com_w),
        ground_points_w=cut(motion.ground_points_w),
        meta=dict(motion.meta),
    )


def frame_weights(x: ArrayLike, num_frames: int) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Linear-interpolation weights for fractional frame positions ``x`` (clamped to the clip).

    Returns:
        ``i0`` (N,): the frame before each position (``<= num_frames - 2``); ``frac`` (N,):
        the weight of frame ``i0 + 1``, in [0, 1]. Needs ``num_frames >= 2``.
    """
    x = np.clip(np.asarray(x, dtype=np.float64), 0.0, num_frames - 1)
    i0 = np.minimum(np.floor(x).astype(np.int64), num_frames - 2)
    return i0, x - i0


def resample(motion: HumanMotion, fps: float, *, exact_fps: bool = False) -> HumanMotion:
    """Resample a motion in time: linear for positions, slerp for ``joint_quat_w``.

    Args:
        motion: Source motion.
        fps: Requested frame rate in Hz.
        exact_fps: See :class:`NormalizeCfg`. By default the first and last frame times are
            kept (duration preserved) with ``n = round(duration · fps) + 1`` frames, so the
            result's ``fps`` is ``(n − 1) / duration``.

    Returns:
        A new motion; ``com_w`` and ``ground_points_w`` are resampled too.
    """
    if not (np.isfinite(fps) and fps > 0):
        raise ConfigError(f"resample fps must be positive, got {fps}")
    duration = motion.duration_s
    if motion.num_frames < 2 or duration <= 0:
        return dataclasses.replace(motion, fps=float(fps), meta=dict(motion.meta))
    if exact_fps:
        n = int(np.floor(duration * fps + 1e-9)) + 1
        t_dst, fps_out = np.arange(n) / fps, float(fps)
    else:
        n = max(int(np.floor(duration * fps + 0.5)) + 1, 2)
        t_dst, fps_out = np.linspace(0.0, duration, n), (n - 1) / duration
    i0, frac = frame_weights(t_dst * motion.fps, motion.num_frames)

    def lerp(a: NDArray[np.float64] | None) -> NDArray[np.float64] | None:
        if a is None:
            return None
        f = frac.reshape(-1, *([1] * (a.ndim - 1)))
        return (1.0 - f) * a[i0] + f * a[i0 + 1]

    quat = None
    if motion.joint_quat_w is not None:
        q = motion.joint_quat_w
        quat = quat_np.slerp(q[i0], q[i0 + 1], np.broadcast_to(frac[:, None], q[i0].shape[:-1]))

    def lerp_required(a: NDArray[np.float64]) -> NDArray[np.float64]:
        out = lerp(a)
        assert out is not None  # lerp maps an array to an array
        return out

    return dataclasses.replace(
        motion,
        fps=fps_out,
        joint_pos_w=lerp_required(motion.joint_pos_w),
        joint_quat_w=quat,
        com_w=lerp(motion.com_w),
        ground_points_w=lerp(motion.ground_points_w),
        meta=dict(motion.meta),
    )


def shift(motion: HumanMotion, offset_w: NDArray[np.float64]) -> HumanMotion:
    """Translate every position (joints, ``com_w``, ground points) by ``offset_w``.

    Args:
        motion: Source motion.
        offset_w: ``(3,)`` constant or ``(T, 3)`` per-frame translation in metres.
    """
    off = np.asarray(offset_w, dtype=np.float64)
    per_frame = off.reshape(-1, 1, 3) if off.ndim == 2 else off
    return dataclasses.replace(
        motion,
        joint_pos_w=motion.joint_pos_w + per_frame,
        com_w=None if motion.com_w is None else motion.com_w + off,
        ground_points_w=None
        if motion.ground_points_w is None
        else motion.ground_points_w + per_frame,
        meta=dict(motion.meta),
    )


def lowest_foot_height(motion: HumanMotion) -> NDArray[np.float64]:
    """``(T,)`` height (m) of the lowest foot joint or ground point on each frame."""
    feet = foot_points_w(motion)
    z = np.concatenate([feet["left"][..., 2], feet["right"][..., 2]], axis=1)
    if motion.ground_points_w is not None:
        z = np.concatenate([z, motion.ground_points_w[..., 2]], axis=1)
    return z.min(axis=1)


def place_on_ground(motion: HumanMotion, percentile: float = 5.0) -> tuple[HumanMotion, float]:
    """Move the motion vertically so the ground is at z = 0.

    The ground height is the ``percentile`` of the per-frame lowest foot point (ankles, toes and
    ``ground_points_w`` when present). For joint-only skeletons z = 0 is therefore the level of
    the lowest foot joint in stance (the toe joint), not the sole, which lies a few cm lower.

    Args:
        motion: Source motion (z-up).
        percentile: Percentile in [0, 50].

    Returns:
        The moved motion and the ground height that was subtracted from every z (m).
    """
    ground = float(np.percentile(lowest_foot_height(motion), percentile))
    return shift(motion, np.array([0.0, 0.0, -ground])), ground


def center_xy(motion: HumanMotion) -> tuple[HumanMotion, NDArray[np.float64]]:
    """Shift x and y so the pelvis of frame 0 is at x = y = 0.

    Returns:
        The moved motion and the ``(2,)`` x, y offset that was subtracted (m).
    """
    xy = motion.canonical_pos_w("pelvis")[0, :2].copy()
    return shift(motion, np.array([-xy[0], -xy[1], 0.0])), xy


def normalize(motion: HumanMotion, cfg: NormalizeCfg) -> tuple[HumanMotion, dict[str, object]]:
    """Ground, centre and resample a motion.

    The ground is estimated on the source frames (before resampling) so glitch frames keep
    their weight of one frame each.

    Args:
        motion: Validated source motion.
        cfg: Options.

    Returns:
        The normalised motion and a report entry (offsets in metres, rates in Hz).
    """
    frames_in = motion.num_frames
    motion = select_window(motion, cfg.start_s, cfg.end_s)
    out, ground = place_on_ground(motion, cfg.ground_percentile)
    xy = np.zeros(2)
    if cfg.center_xy:
        out, xy = center_xy(out)
    out = resample(out, cfg.target_fps, exact_fps=cfg.exact_fps)
    report: dict[str, object] = {
        "ground_offset_m": round(ground, 5),
        "xy_offset_m": [round(float(v), 5) for v in xy],
        "source_fps": float(motion.fps),
        "fps": round(float(out.fps), 6),
        "frames_in": frames_in,
        "window_s": [cfg.start_s, cfg.end_s],
        "frames_out": out.num_frames,
        "duration_s": round(out.duration_s, 6),
    }
    return out, report
