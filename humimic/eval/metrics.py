"""PBHC's tracking metrics, computed per episode then summarised as mean ± std over episodes.

Definitions follow PBHC's ``measure_traj.eval_accuracy`` (docs: shared reference pbhc.md §5):

* ``E_g_mpbpe``: mean over frames and bodies of ``‖p_robot − p_ref‖``, world frame, mm.
* ``E_mpbpe``: the same after subtracting each trajectory's own pelvis position (no rotation
  alignment), mm.
* ``E_mpjpe``: mean over frames of the **L2 norm over joints** ``‖q_robot − q_ref‖₂`` (PBHC's
  convention, which grows with the number of joints), 10⁻³ rad.
* ``E_mpjpe_per_joint``: mean over frames and joints of ``|q_robot − q_ref|`` (the usual
  per-joint convention), 10⁻³ rad.
* ``E_mpjve`` / ``E_mpbve`` / ``E_mpbae``: the same norms on first / second per-frame
  differences. PBHC records at 50 fps and reports per 50-fps frame; a recording at another
  ``fps`` is scaled by ``fps / 50`` (velocity) or ``(fps / 50)²`` (acceleration) so the numbers
  stay comparable.
* ``success_rate`` (not in PBHC): an episode succeeds when it covers the whole clip
  (``length ≥ clip_frames``) and no body's world-frame error exceeds ``fail_distance_m`` on any
  valid frame.
* ``upright_rate`` (not in PBHC): an episode is upright when it covers the whole clip and the
  pelvis height (world z) is at least ``fall_height_m`` on every valid frame, so an episode
  that stayed up but drifted (not a success) can be told from one that fell.
* ``episode_length_ratio``: ``min(length, clip_frames) / clip_frames`` per episode.

Each episode counts once (episodes are not weighted by length); ``std`` is the population
standard deviation (``ddof=0``). Frames at or beyond an episode's length are ignored. A metric
that needs more frames than an episode has (velocity: 2, acceleration: 3) is NaN for that
episode and left out of the mean; it is NaN when no episode qualifies.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from humimic.errors import HumimicError
from humimic.eval.plots import compare_runs_plot, plot_errors
from humimic.eval.report import METRIC_KEYS, PerEpisode, PerFrame, Summary, TrackingMetrics

FAIL_DISTANCE_M = 0.5
"""World-frame body error that fails an episode, m (``humimic eval``, sim2sim, PD replay)."""
FALL_HEIGHT_M = 0.3
"""Pelvis height below which an episode counts as a fall, m (``humimic eval``, sim2sim)."""

__all__ = [
    "FALL_HEIGHT_M",
    "PBHC_FPS",
    "UNITS",
    "body_pos_error_global",
    "body_pos_error_local",
    "compare_runs_plot",
    "compute_metrics",
    "episode_length_ratio",
    "episode_success",
    "episode_upright",
    "joint_abs_error",
    "mpbae",
    "mpbpe_global",
    "mpbpe_local",
    "mpbve",
    "mpjpe",
    "mpjpe_per_joint",
    "mpjve",
    "plot_errors",
]

PBHC_FPS = 50.0
"""Frame rate that PBHC's per-frame velocity and acceleration units refer to."""

UNITS = {
    "E_g_mpbpe": "mm",
    "E_mpbpe": "mm",
    "E_mpjpe": "1e-3 rad (L2 over joints)",
    "E_mpjpe_per_joint": "1e-3 rad (mean |error| per joint)",
    "E_mpjve": "1e-3 rad/frame (50 fps)",
    "E_mpbve": "mm/frame (50 fps)",
    "E_mpbae": "mm/frame^2 (50 fps)",
    "success_rate": "fraction of episodes",
    "upright_rate": "fraction of episodes",
    "episode_length_ratio": "fraction of clip frames",
}

_SCALE = 1000.0  # m -> mm and rad -> 10⁻³ rad


class MetricsInputError(HumimicError):
    """Arrays given to the metrics have wrong shapes or values."""


def body_pos_error_global(robot_body_pos_w: ArrayLike, ref_body_pos_w: ArrayLike) -> NDArray:
    """World-frame distance of each body from its reference.

    Args:
        robot_body_pos_w: Shape (T, B, 3), m.
        ref_body_pos_w: Shape (T, B, 3), m.

    Returns:
        Shape (T, B), m.
    """
    return np.linalg.norm(np.asarray(robot_body_pos_w) - np.asarray(ref_body_pos_w), axis=-1)


def body_pos_error_local(
    robot_body_pos_w: ArrayLike, ref_body_pos_w: ArrayLike, pelvis_index: int = 0
) -> NDArray:
    """Body distance after subtracting each trajectory's own pelvis position (no rotation).

    Args:
        robot_body_pos_w: Shape (T, B, 3), m.
        ref_body_pos_w: Shape (T, B, 3), m.
        pelvis_index: Index of the pelvis along B.

    Returns:
        Shape (T, B), m (zero for the pelvis itself).
    """
    robot = np.asarray(robot_body_pos_w, dtype=np.float64)
    ref = np.asarray(ref_body_pos_w, dtype=np.float64)
    robot_local = robot - robot[:, pelvis_index : pelvis_index + 1]
    ref_local = ref - ref[:, pelvis_index : pelvis_index + 1]
    return np.linalg.norm(robot_local - ref_local, axis=-1)


def mpbpe_global(robot_body_pos_w: ArrayLike, ref_body_pos_w: ArrayLike) -> float:
    """E_g-mpbpe of one episode: mean world-frame body error over frames and bodies, mm."""
    return float(body_pos_error_global(robot_body_pos_w, ref_body_pos_w).mean() * _SCALE)


def mpbpe_local(
    robot_body_pos_w: ArrayLike, ref_body_pos_w: ArrayLike, pelvis_index: int = 0
) -> float:
    """E_mpbpe of one episode: mean pelvis-relative body error over frames and bodies, mm."""
    err = body_pos_error_local(robot_body_pos_w, ref_body_pos_w, pelvis_index)
    return float(err.mean() * _SCALE)


def mpjpe(robot_joint_pos: ArrayLike, ref_joint_pos: ArrayLike) -> float:
    """E_mpjpe of one episode (PBHC): mean over frames of the L2 norm over joints, 10⁻³ rad.

    Args:
        robot_joint_pos: Shape (T, J), rad.
        ref_joint_pos: Shape (T, J), rad.
    """
    diff = np.asarray(robot_joint_pos) - np.asarray(ref_joint_pos)
    return float(np.linalg.norm(diff, axis=-1).mean() * _SCALE)


def joint_abs_error(robot_joint_pos: ArrayLike, ref_joint_pos: ArrayLike) -> NDArray:
    """Mean absolute error of each joint over frames, shape (J,), 10⁻³ rad."""
    diff = np.asarray(robot_joint_pos) - np.asarray(ref_joint_pos)
    return np.abs(diff).mean(axis=0) * _SCALE


def mpjpe_per_joint(robot_joint_pos: ArrayLike, ref_joint_pos: ArrayLike) -> float:
    """Mean absolute joint error over frames and joints (per-joint convention), 10⁻³ rad."""
    return float(joint_abs_error(robot_joint_pos, ref_joint_pos).mean())


def _diff_error(robot: ArrayLike, ref: ArrayLike, order: int, fps: float) -> NDArray:
    """Norm over the last axis of the ``order``-th per-frame difference error, in 50-fps frames.

    Returns:
        Shape (T - order, ...) with the last axis reduced; empty when T <= order.
    """
    diff = np.diff(np.asarray(robot, np.float64) - np.asarray(ref, np.float64), n=order, axis=0)
    return np.linalg.norm(diff, axis=-1) * (fps / PBHC_FPS) ** order


def mpjve(robot_joint_pos: ArrayLike, ref_joint_pos: ArrayLike, fps: float = PBHC_FPS) -> float:
    """E_mpjve of one episode: mean over frames of ``‖Δq_robot − Δq_ref‖₂``, 10⁻³ rad/frame.

    Args:
        robot_joint_pos: Shape (T, J), rad, sampled at ``fps``.
        ref_joint_pos: Shape (T, J), rad.
        fps: Sampling rate, Hz; differences are expressed per 50-fps frame.
    """
    return _nan_mean(_diff_error(robot_joint_pos, ref_joint_pos, 1, fps)) * _SCALE


def mpbve(robot_body_pos_w: ArrayLike, ref_body_pos_w: ArrayLike, fps: float = PBHC_FPS) -> float:
    """E_mpbve of one episode: mean over frames and bodies of ``‖Δp_robot − Δp_ref‖``, mm/frame.

    Args:
        robot_body_pos_w: Shape (T, B, 3), m, sampled at ``fps``.
        ref_body_pos_w: Shape (T, B, 3), m.
        fps: Sampling rate, Hz; differences are expressed per 50-fps frame.
    """
    return _nan_mean(_diff_error(robot_body_pos_w, ref_body_pos_w, 1, fps)) * _SCALE


def mpbae(robot_body_pos_w: ArrayLike, ref_body_pos_w: ArrayLike, fps: float = PBHC_FPS) -> float:
    """E_mpbae of one episode: as :func:`mpbve` with second differences, mm/frame²."""
    return _nan_mean(_diff_error(robot_body_pos_w, ref_body_pos_w, 2, fps)) * _SCALE


def episode_success(
    robot_body_pos_w: ArrayLike,
    ref_body_pos_w: ArrayLike,
    length: int,
    clip_frames: int,
    fail_distance_m: float = FAIL_DISTANCE_M,
) -> bool:
    """True when the episode reaches the clip end with every body within ``fail_distance_m``.

    Args:
        robot_body_pos_w: Shape (T, B, 3), m; only the first ``length`` frames are read.
        ref_body_pos_w: Shape (T, B, 3), m.
        length: Number of valid frames of the episode.
        clip_frames: Number of frames of the clip.
        fail_distance_m: Largest allowed world-frame body error, m.
    """
    if length < clip_frames:
        return False
    robot, ref = np.asarray(robot_body_pos_w), np.asarray(ref_body_pos_w)
    err = body_pos_error_global(robot[:length], ref[:length])
    return bool(err.max(initial=0.0) <= fail_distance_m)


def episode_upright(
    robot_body_pos_w: ArrayLike,
    length: int,
    clip_frames: int,
    pelvis_index: int = 0,
    fall_height_m: float = FALL_HEIGHT_M,
) -> bool:
    """True when the episode reaches the clip end with the pelvis never below ``fall_height_m``.

    Args:
        robot_body_pos_w: Shape (T, B, 3), m, world frame (z up); only the first ``length``
            frames are read.
        length: Number of valid frames of the episode.
        clip_frames: Number of frames of the clip.
        pelvis_index: Index of the pelvis along B.
        fall_height_m: Lowest pelvis height that still counts as upright, m (inclusive).
    """
    if length < clip_frames:
        return False
    pelvis_z = np.asarray(robot_body_pos_w)[:length, pelvis_index, 2]
    return bool(pelvis_z.min(initial=np.inf) >= fall_height_m)  # a NaN height fails too


def episode_length_ratio(lengths: ArrayLike, clip_frames: int) -> NDArray:
    """``min(length, clip_frames) / clip_frames`` per episode, shape (E,)."""
    return np.minimum(np.asarray(lengths, np.float64), clip_frames) / float(clip_frames)


def compute_metrics(
    robot_body_pos_w: ArrayLike,
    ref_body_pos_w: ArrayLike,
    robot_joint_pos: ArrayLike,
    ref_joint_pos: ArrayLike,
    fps: float,
    *,
    joint_names: list[str],
    pelvis_index: int = 0,
    lengths: ArrayLike | None = None,
    clip_frames: int | None = None,
    fail_distance_m: float = FAIL_DISTANCE_M,
    fall_height_m: float = FALL_HEIGHT_M,
) -> TrackingMetrics:
    """All metrics of a batch of episodes (see the module docstring for definitions).

    Args:
        robot_body_pos_w: Shape (E, T, B, 3), m, recorded at ``fps``.
        ref_body_pos_w: Shape (E, T, B, 3), m, the reference at the same timestamps.
        robot_joint_pos: Shape (E, T, J), rad.
        ref_joint_pos: Shape (E, T, J), rad.
        fps: Recording rate, Hz.
        joint_names: J names, in the order of the joint axis.
        pelvis_index: Index of the pelvis along B.
        lengths: Shape (E,), valid frames per episode; all T when None.
        clip_frames: Frames of the full clip (success, upright, length ratio); T when None.
        fail_distance_m: Body error that counts as a failure, m.
        fall_height_m: Pelvis height below which an episode counts as a fall, m.

    Returns:
        A summary (mean, std) for every key of :data:`UNITS`, the units, ``per_joint``
        (name -> mean |error|, 10⁻³ rad), ``num_episodes``, ``per_episode`` (success,
        E_mpbpe, E_g_mpbpe, length ratio, upright of each episode) and ``per_frame`` (see
        :func:`_per_frame`); ``.to_json()`` gives the ``metrics.json`` entries.

    Raises:
        MetricsInputError: Mismatched shapes, bad lengths, names or fps.
    """
    robot_p, ref_p, robot_q, ref_q = (
        np.asarray(a, np.float64)
        for a in (robot_body_pos_w, ref_body_pos_w, robot_joint_pos, ref_joint_pos)
    )
    _check_shapes(robot_p, ref_p, robot_q, ref_q, joint_names, pelvis_index, fps)
    num_ep, num_t = robot_p.shape[:2]
    lens = _check_lengths(lengths, num_ep, num_t)
    clip_frames = num_t if clip_frames is None else int(clip_frames)
    if clip_frames < 1:
        raise MetricsInputError(f"clip_frames: must be at least 1, got {clip_frames}")

    per_ep: dict[str, list[float]] = {key: [] for key in UNITS}
    per_joint = []
    for e, n in enumerate(lens):
        p, pr, q, qr = robot_p[e, :n], ref_p[e, :n], robot_q[e, :n], ref_q[e, :n]
        per_ep["E_g_mpbpe"].append(mpbpe_global(p, pr))
        per_ep["E_mpbpe"].append(mpbpe_local(p, pr, pelvis_index))
        per_ep["E_mpjpe"].append(mpjpe(q, qr))
        per_ep["E_mpjpe_per_joint"].append(mpjpe_per_joint(q, qr))
        per_ep["E_mpjve"].append(mpjve(q, qr, fps))
        per_ep["E_mpbve"].append(mpbve(p, pr, fps))
        per_ep["E_mpbae"].append(mpbae(p, pr, fps))
        ok = episode_success(p, pr, int(n), clip_frames, fail_distance_m)
        per_ep["success_rate"].append(float(ok))
        up = episode_upright(p, int(n), clip_frames, pelvis_index, fall_height_m)
        per_ep["upright_rate"].append(float(up))
        per_joint.append(joint_abs_error(q, qr))
    per_ep["episode_length_ratio"] = list(episode_length_ratio(lens, clip_frames))

    joint_mean = np.mean(per_joint, axis=0)
    return TrackingMetrics.build(
        {key: _summary(per_ep[key]) for key in METRIC_KEYS},
        per_joint={name: float(v) for name, v in zip(joint_names, joint_mean)},
        units=dict(UNITS),
        num_episodes=num_ep,
        # what each episode did, so one bad episode is not averaged away
        per_episode=PerEpisode(*(tuple(float(v) for v in per_ep[k]) for k in
                                 ("success_rate", "E_mpbpe", "E_g_mpbpe", "episode_length_ratio",
                                  "upright_rate"))),
        per_frame=_per_frame(robot_p, ref_p, robot_q, ref_q, lens, fps, pelvis_index),
    )  # fmt: skip


def _per_frame(
    robot_p: NDArray,
    ref_p: NDArray,
    robot_q: NDArray,
    ref_q: NDArray,
    lens: NDArray,
    fps: float,
    pelvis_index: int,
) -> PerFrame:
    """Per-frame errors averaged over the episodes still valid at each frame.

    Returns:
        ``time_s`` (T,), ``body_pos_global_mm``, ``body_pos_local_mm`` (mean over bodies),
        ``joint_pos_l2_mrad`` and ``num_episodes`` (T,); errors are NaN where no episode is
        valid.
    """
    num_t = robot_p.shape[1]
    valid = np.arange(num_t)[None, :] < lens[:, None]  # (E, T)
    glob = np.linalg.norm(robot_p - ref_p, axis=-1).mean(axis=-1)
    rel = lambda x: x - x[:, :, pelvis_index : pelvis_index + 1]  # noqa: E731
    loc = np.linalg.norm(rel(robot_p) - rel(ref_p), axis=-1).mean(axis=-1)
    joint = np.linalg.norm(robot_q - ref_q, axis=-1)
    count = valid.sum(axis=0)

    def masked_mean(x: NDArray) -> tuple[float, ...]:
        total = np.where(valid, x, 0.0).sum(axis=0)
        mean = np.divide(total, count, out=np.full(num_t, np.nan), where=count > 0)
        return tuple((mean * _SCALE).tolist())

    return PerFrame(
        time_s=tuple((np.arange(num_t) / fps).tolist()),
        body_pos_global_mm=masked_mean(glob),
        body_pos_local_mm=masked_mean(loc),
        joint_pos_l2_mrad=masked_mean(joint),
        num_episodes=tuple(int(c) for c in count.tolist()),
    )


def _summary(values: list[float]) -> Summary:
    """Mean and population std over episodes, NaN entries left out."""
    arr = np.asarray(values, np.float64)
    arr = arr[np.isfinite(arr)]
    if arr.size == 0:
        return Summary(float("nan"), float("nan"))
    return Summary(float(arr.mean()), float(arr.std()))


def _nan_mean(x: NDArray) -> float:
    """Mean of ``x``, NaN (without a warning) when empty."""
    return float(x.mean()) if x.size else float("nan")


def _check_shapes(
    robot_p: NDArray,
    ref_p: NDArray,
    robot_q: NDArray,
    ref_q: NDArray,
    joint_names: list[str],
    pelvis_index: int,
    fps: float,
) -> None:
    if robot_p.ndim != 4 or robot_p.shape[-1] != 3 or robot_p.shape[1] < 1:
        raise MetricsInputError(f"robot_body_pos_w: expected (E, T, B, 3), got {robot_p.shape}")
    if ref_p.shape != robot_p.shape:
        raise MetricsInputError(f"ref_body_pos_w: shape {ref_p.shape} != robot {robot_p.shape}")
    if robot_q.ndim != 3 or robot_q.shape[:2] != robot_p.shape[:2]:
        raise MetricsInputError(
            f"robot_joint_pos: expected (E, T, J) with (E, T) = {robot_p.shape[:2]}, "
            f"got {robot_q.shape}"
        )
    if ref_q.shape != robot_q.shape:
        raise MetricsInputError(f"ref_joint_pos: shape {ref_q.shape} != robot {robot_q.shape}")
    if len(joint_names) != robot_q.shape[2]:
        raise MetricsInputError(
            f"joint_names: {len(joint_names)} names for {robot_q.shape[2]} joints"
        )
    if not 0 <= pelvis_index < robot_p.shape[2]:
        raise MetricsInputError(f"pelvis_index: {pelvis_index} outside 0..{robot_p.shape[2] - 1}")
    if not (np.isfinite(fps) and fps > 0):
        raise MetricsInputError(f"fps: must be positive, got {fps}")


def _check_lengths(lengths: ArrayLike | None, num_ep: int, num_t: int) -> NDArray:
    if lengths is None:
        return np.full(num_ep, num_t, dtype=np.int64)
    lens = np.asarray(lengths)
    if lens.shape != (num_ep,) or not np.issubdtype(lens.dtype, np.integer):
        raise MetricsInputError(
            f"lengths: expected {num_ep} integers, got {lens.shape} {lens.dtype}"
        )
    if lens.min(initial=1) < 1 or lens.max(initial=1) > num_t:
        raise MetricsInputError(f"lengths: must be within 1..{num_t}, got {lens.tolist()}")
    return lens.astype(np.int64)
