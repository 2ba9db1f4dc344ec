"""Contact-based ground correction, smoothing, and blend-in/out to the robot's default pose.

Ground correction (PBHC §2.4, reworked): on contact frames the contact foot should touch z = 0,
which fixes both floating and penetration. For joint-only skeletons the lowest foot joint moves
within a stance (the toe is up at heel strike), so one offset is taken per stance run, a low
percentile of that foot's lowest joint over the run; with ``ground_points_w`` (a body mesh) the
sole touches on every contact frame, so the offset is the per-frame lowest ground point, as in
PBHC. Offsets are held through flight, smoothed with a Gaussian in seconds (PBHC uses an
exponential moving average with α = 0.3 at 30 fps, time constant ≈ 0.09 s), and subtracted from
every z. A final clamp raises any frame whose lowest canonical joint (or ground point) would be
below the ground.

Dimension names: ``T`` frames, ``K`` joints, ``J`` robot joints.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.ndimage import gaussian_filter1d, maximum_filter1d

from humimic.config.motion_schema import CorrectCfg
from humimic.geometry import quat_np
from humimic.motion.contact import foot_points_w, mask_runs
from humimic.motion.human import HumanMotion
from humimic.motion.normalize import shift

Array = NDArray[np.float64]


def contact_offsets(motion: HumanMotion, contact_mask: ArrayLike, percentile: float) -> Array:
    """Raw ground offset on contact frames (m), NaN where no foot is in contact.

    Args:
        motion: Motion (z-up).
        contact_mask: ``(T, 2)`` bool ``[left, right]``.
        percentile: Per-stance-run percentile for joint-only motions.

    Returns:
        ``(T,)`` height of the contact foot's sole estimate; the minimum over both feet in
        double support (so neither foot penetrates).
    """
    mask = np.asarray(contact_mask, dtype=bool)
    if mask.shape != (motion.num_frames, 2):
        raise ValueError(f"contact mask has shape {mask.shape}, expected ({motion.num_frames}, 2)")
    if motion.ground_points_w is not None:
        low = motion.ground_points_w[..., 2].min(axis=1)
        return np.where(mask.any(axis=1), low, np.nan)
    per_foot = np.full((motion.num_frames, 2), np.nan)
    for i, pts in enumerate(foot_points_w(motion).values()):
        low = pts[..., 2].min(axis=1)
        starts, lengths = mask_runs(mask[:, i])
        for s, n in zip(starts, lengths):
            if mask[s, i]:
                per_foot[s : s + n, i] = np.percentile(low[s : s + n], percentile)
    out = np.full(motion.num_frames, np.nan)
    any_contact = ~np.all(np.isnan(per_foot), axis=1)
    out[any_contact] = np.nanmin(per_foot[any_contact], axis=1)
    return out


def _hold(values: Array) -> Array:
    """Fill NaNs with the last valid value (the first valid one before it); zeros if none."""
    valid = np.flatnonzero(np.isfinite(values))
    if valid.size == 0:
        return np.zeros_like(values)
    idx = np.where(np.isfinite(values), np.arange(values.size), 0)
    idx = np.maximum.accumulate(idx)
    idx[: valid[0]] = valid[0]
    return values[idx]


def _smooth(values: Array, sigma_frames: float) -> Array:
    """Gaussian filter along axis 0 with edge values held; no-op for sigma 0."""
    if sigma_frames <= 0 or values.shape[0] < 2:
        return values.copy()
    return gaussian_filter1d(values, sigma_frames, axis=0, mode="nearest")


def _lowest_point(motion: HumanMotion) -> Array:
    """``(T,)`` lowest z over the canonical joints and ground points.

    Other joints (End Sites such as toe tips, fingers) are left out: they are not retargeted,
    and a toe tip pointing down would otherwise lift the whole body off its stance foot.
    """
    idx = sorted({motion.index(name) for name in motion.canonical.values()})
    low = motion.joint_pos_w[:, idx, 2].min(axis=1)
    if motion.ground_points_w is not None:
        low = np.minimum(low, motion.ground_points_w[..., 2].min(axis=1))
    return low


def correct_ground(
    motion: HumanMotion, contact_mask: ArrayLike, cfg: CorrectCfg
) -> tuple[HumanMotion, Array]:
    """Fix floating and penetration so contact feet touch z = 0.

    Args:
        motion: Motion at its final frame rate, ground roughly at z = 0.
        contact_mask: ``(T, 2)`` bool ``[left, right]`` from
            :func:`humimic.motion.contact.foot_contact_mask`.
        cfg: Options (``fix_ground``, ``smooth_ground_s``, ``stance_percentile``).

    Returns:
        The corrected motion and the ``(T,)`` offset (m) subtracted from every z; all zeros when
        ``fix_ground`` is False. When no frame has contact only the clamp acts.
    """
    if not cfg.fix_ground:
        return motion, np.zeros(motion.num_frames)
    sigma = cfg.smooth_ground_s * motion.fps
    offset = _smooth(_hold(contact_offsets(motion, contact_mask, cfg.stance_percentile)), sigma)
    need = np.maximum(0.0, -(_lowest_point(motion) - offset))
    if np.any(need > 0):
        # Spread each lift over neighbouring frames (no one-frame pop), never below what is needed.
        width = 2 * int(np.ceil(2.0 * sigma)) + 1
        need = np.maximum(need, _smooth(maximum_filter1d(need, size=width), sigma))
    offset = offset - need
    z_shift = np.zeros((motion.num_frames, 3))
    z_shift[:, 2] = -offset
    return shift(motion, z_shift), offset


def smooth_positions(motion: HumanMotion, sigma_s: float) -> HumanMotion:
    """Gaussian smoothing of positions over time; orientations by normalised averaging.

    Quaternions are first put on one hemisphere along time (q ≡ −q), then filtered component-wise
    and renormalised, which is accurate when neighbouring frames are close (small sigma).
    Positions and orientations are filtered independently, so they stay consistent only to the
    degree the motion is smooth.

    Args:
        motion: Source motion.
        sigma_s: Gaussian sigma in seconds (0 returns a copy).
    """
    sigma = sigma_s * motion.fps
    quat = motion.joint_quat_w
    if quat is not None:
        dots = np.sum(quat[1:] * quat[:-1], axis=-1)
        signs = np.concatenate([np.ones((1, quat.shape[1])), np.cumprod(np.sign(dots + 1e-300), 0)])
        quat = quat_np.normalize(_smooth(quat * signs[..., None], sigma))
    return dataclasses.replace(
        motion,
        joint_pos_w=_smooth(motion.joint_pos_w, sigma),
        joint_quat_w=quat,
        com_w=None if motion.com_w is None else _smooth(motion.com_w, sigma),
        ground_points_w=None
        if motion.ground_points_w is None
        else _smooth(motion.ground_points_w, sigma),
        meta=dict(motion.meta),
    )


def correct(
    motion: HumanMotion, contact_mask: ArrayLike, cfg: CorrectCfg
) -> tuple[HumanMotion, dict[str, object]]:
    """Ground correction then optional smoothing, with a report entry.

    Returns:
        The corrected motion and ``{"ground_offset_min_m", "ground_offset_max_m",
        "lowest_point_m", "smoothed_sigma_s"}``.
    """
    out, offset = correct_ground(motion, contact_mask, cfg)
    if cfg.smooth_joints and cfg.smooth_sigma_s > 0:
        out = smooth_positions(out, cfg.smooth_sigma_s)
    return out, {
        "ground_offset_min_m": round(float(offset.min()), 5),
        "ground_offset_max_m": round(float(offset.max()), 5),
        "lowest_point_m": round(float(_lowest_point(out).min()), 5),
        "smoothed_sigma_s": cfg.smooth_sigma_s if cfg.smooth_joints else 0.0,
    }


def smoothstep(s: ArrayLike) -> Array:
    """``3s² − 2s³`` on ``[0, 1]``: zero slope at both ends."""
    s = np.clip(np.asarray(s, dtype=np.float64), 0.0, 1.0)
    return s * s * (3.0 - 2.0 * s)


def blend_frame_count(seconds: float, fps: float) -> int:
    """Number of frames a blend of ``seconds`` adds at ``fps``."""
    return int(np.floor(seconds * fps + 0.5))


def _heading_aligned(default_quat: Array, target_quat: Array) -> Array:
    """``default_quat`` turned about world z to the heading of ``target_quat``."""
    dyaw = quat_np.yaw(target_quat) - quat_np.yaw(default_quat)
    return quat_np.normalize(
        quat_np.multiply(quat_np.from_axis_angle(np.array([0.0, 0.0, 1.0]), dyaw), default_quat)
    )


def _blend_segment(
    root: tuple[Array, Array, Array], default: tuple[Array, Array, Array], n: int, into: bool
) -> tuple[Array, Array, Array]:
    """``n`` frames between one motion frame ``root`` and the ``default`` pose.

    ``into=True`` goes default → frame (frames before the motion, frame excluded);
    ``into=False`` goes frame → default (frames after the motion, default included).
    """
    pos, quat, joints = root
    d_pos = np.array([pos[0], pos[1], default[0][2]])  # the default pose stands under the frame
    d_quat = _heading_aligned(default[1], quat)
    s = np.arange(n) / n if into else np.arange(1, n + 1) / n
    w = smoothstep(s if into else 1.0 - s)[:, None]  # weight of the motion frame
    out_pos = (1.0 - w) * d_pos + w * pos
    out_quat = quat_np.slerp(
        np.broadcast_to(d_quat, (n, 4)), np.broadcast_to(quat, (n, 4)), w[:, 0]
    )
    out_joints = (1.0 - w) * default[2] + w * joints
    return out_pos, out_quat, out_joints


def blend_with_pose(
    root_pos_w: ArrayLike,
    root_quat_w: ArrayLike,
    joint_pos: ArrayLike,
    default_root_pos: ArrayLike,
    default_root_quat: ArrayLike,
    default_joint_pos: ArrayLike,
    fps: float,
    blend_in_s: float,
    blend_out_s: float,
) -> tuple[Array, Array, Array]:
    """Prepend a blend from the robot's default pose and append a blend back to it.

    The default pose is placed under the first (last) motion frame: its root x, y and heading
    are those of that frame, so the robot does not slide or turn; only the root height, root
    tilt (slerp) and joint positions blend, with smoothstep weights. ``default_root_pos`` x, y
    are ignored.

    Args:
        root_pos_w: ``(T, 3)`` robot root positions (m).
        root_quat_w: ``(T, 4)`` robot root orientations, wxyz.
        joint_pos: ``(T, J)`` joint positions (rad).
        default_root_pos: ``(3,)`` default standing root position (its z is used).
        default_root_quat: ``(4,)`` default root orientation, wxyz.
        default_joint_pos: ``(J,)`` default joint positions (rad).
        fps: Frame rate in Hz.
        blend_in_s: Blend-in duration (s); adds ``round(blend_in_s · fps)`` frames before,
            the first of which is exactly the default pose.
        blend_out_s: Blend-out duration (s); adds ``round(blend_out_s · fps)`` frames after,
            the last of which is exactly the default pose.

    Returns:
        ``(T', 3)``, ``(T', 4)``, ``(T', J)`` with ``T' = T + n_in + n_out``.
    """
    pos = np.asarray(root_pos_w, np.float64)
    quat = quat_np.normalize(root_quat_w)
    joints = np.asarray(joint_pos, np.float64)
    default = (
        np.asarray(default_root_pos, np.float64),
        quat_np.normalize(default_root_quat),
        np.asarray(default_joint_pos, np.float64),
    )
    if default[2].shape != joints.shape[1:]:
        raise ValueError(f"default_joint_pos {default[2].shape} != joint_pos {joints.shape[1:]}")
    parts: list[tuple[Array, Array, Array]] = []
    n_in, n_out = blend_frame_count(blend_in_s, fps), blend_frame_count(blend_out_s, fps)
    if n_in > 0:
        parts.append(_blend_segment((pos[0], quat[0], joints[0]), default, n_in, into=True))
    parts.append((pos, quat, joints))
    if n_out > 0:
        parts.append(_blend_segment((pos[-1], quat[-1], joints[-1]), default, n_out, into=False))
    return tuple(np.concatenate([p[i] for p in parts], axis=0) for i in range(3))  # type: ignore[return-value]
