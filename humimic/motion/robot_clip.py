"""Build a :class:`~humimic.motion.clip.RobotClip` from a robot joint trajectory.

Body poses come from MuJoCo forward kinematics (``mj_kinematics``) of the variant's model, one
call per frame, in float64. Velocities are finite differences: central inside the clip and
one-sided at its ends; angular velocities use the quaternion log of the relative rotation
between frames and are expressed in the world frame. Like PBHC's motion library, velocities are
then smoothed along time with a Gaussian of ``velocity_sigma_frames`` frames.

Dimension names: ``T`` frames, ``J`` spec joints, ``B`` model bodies (all but the world),
``P`` sole points per foot.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mujoco
import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.ndimage import gaussian_filter1d

from humimic.errors import ConfigError, HumimicError
from humimic.files import file_sha256
from humimic.geometry import quat_np
from humimic.motion.clip import RobotClip
from humimic.motion.human import HumanMotion
from humimic.robot.lookup import (
    FEET,
    foot_body_id,
    free_joint_qposadr,
    joint_ids,
    joint_trajectory_to_qpos,
    robot_foot_sole_points_b,
)
from humimic.robot.spec import RobotSpec

F64 = NDArray[np.float64]

DEFAULT_VELOCITY_SIGMA_FRAMES = 2.0
"""PBHC's motion library smooths FK velocities with a Gaussian of σ = 2 frames."""


def forward_kinematics(model: mujoco.MjModel, qpos: ArrayLike) -> dict[str, F64]:
    """Body poses for every frame of ``qpos`` via ``mj_kinematics``.

    Returns:
        ``body_pos_w`` (T, nbody, 3) and ``body_quat_w`` (T, nbody, 4) wxyz; index 0 of the
        body axis is the world.
    """
    qpos = np.asarray(qpos, np.float64)
    t_len = qpos.shape[0]
    data = mujoco.MjData(model)
    out = {
        "body_pos_w": np.empty((t_len, model.nbody, 3)),
        "body_quat_w": np.empty((t_len, model.nbody, 4)),
    }
    for t in range(t_len):
        data.qpos[:] = qpos[t]
        mujoco.mj_kinematics(model, data)
        out["body_pos_w"][t] = data.xpos
        out["body_quat_w"][t] = data.xquat
    out["body_quat_w"] = quat_np.normalize(out["body_quat_w"])
    return out


def finite_difference(values: ArrayLike, fps: float) -> F64:
    """Time derivative of ``(T, ...)`` samples: central inside, one-sided at the ends.

    Returns:
        Same shape as ``values``, per second; zeros for a single frame.
    """
    values = np.asarray(values, np.float64)
    if values.shape[0] < 2:
        return np.zeros_like(values)
    return np.gradient(values, axis=0) * fps


def smooth_time(values: F64, sigma_frames: float) -> F64:
    """Gaussian smoothing along axis 0 (edges repeat the end value); ``sigma <= 0`` is a no-op."""
    if sigma_frames <= 0 or values.shape[0] < 2:
        return values
    return gaussian_filter1d(values, sigma_frames, axis=0, mode="nearest")


def sole_points_w(sole_points_b: F64, foot_pos_w: ArrayLike, foot_quat_w: ArrayLike) -> F64:
    """World positions, shape (T, P, 3), of body-frame sole points (P, 3) on a moving foot."""
    foot_pos_w = np.asarray(foot_pos_w, np.float64)
    rot = quat_np.to_matrix(foot_quat_w)  # (T, 3, 3)
    return foot_pos_w[:, None, :] + np.einsum("tij,pj->tpi", rot, sole_points_b)


def body_velocities(
    body_pos_w: F64, body_quat_w: F64, fps: float, sigma_frames: float
) -> tuple[F64, F64]:
    """Linear and angular (world frame) velocities of body trajectories (T, B, ·)."""
    lin = smooth_time(finite_difference(body_pos_w, fps), sigma_frames)
    ang = smooth_time(quat_np.angular_velocity_w(body_quat_w, fps), sigma_frames)
    return lin, ang


def make_robot_clip(
    spec: RobotSpec,
    model: mujoco.MjModel,
    root_pos_w: ArrayLike,
    root_quat_w: ArrayLike,
    joint_pos: ArrayLike,
    fps: float,
    *,
    contact_mask: ArrayLike | None = None,
    velocity_sigma_frames: float = DEFAULT_VELOCITY_SIGMA_FRAMES,
    source_file: str | Path = "",
    settings: dict[str, Any] | None = None,
    report: dict[str, Any] | None = None,
    human: HumanMotion | None = None,
) -> RobotClip:
    """Make a validated clip from a root trajectory and joint angles.

    Args:
        spec: The robot variant.
        model: The variant's MuJoCo model (e.g. ``humimic.robot.model.build_model(spec)``).
        root_pos_w: Shape (T, 3), pelvis position, m.
        root_quat_w: Shape (T, 4), pelvis orientation, wxyz.
        joint_pos: Shape (T, J), rad, columns in ``spec.joint_names`` order.
        fps: Frame rate, Hz.
        contact_mask: Shape (T, 2) ``[left, right]``; ``None`` derives it from the sole points
            with :func:`humimic.motion.contact.contact_mask_from_points` and default thresholds.
        velocity_sigma_frames: Gaussian smoothing of all velocities, in frames (0 = none).
        source_file: The file the motion came from; hashed when it exists.
        settings: Processing settings to store (copied; the smoothing is added).
        report: Quality report to store.
        human: The processed human motion the clip was fitted to (same ``T``), for views.

    Returns:
        The clip, with every model body except the world, validated.

    Raises:
        HumimicError: Inconsistent shapes or an invalid clip.
    """
    if not (np.isfinite(fps) and fps > 0):
        raise ConfigError(f"fps must be positive, got {fps}")
    if not (np.isfinite(velocity_sigma_frames) and velocity_sigma_frames >= 0):
        raise ConfigError(f"velocity_sigma_frames must be >= 0, got {velocity_sigma_frames}")
    qpos = joint_trajectory_to_qpos(model, spec, root_pos_w, root_quat_w, joint_pos)
    arrays, kin = _trajectory_arrays(model, spec, qpos, fps, velocity_sigma_frames)
    if contact_mask is None:
        contact_mask = robot_contact_mask(model, spec, kin["body_pos_w"], kin["body_quat_w"], fps)
    settings = dict(settings or {})
    settings.setdefault("velocity_sigma_frames", float(velocity_sigma_frames))
    clip = RobotClip(
        robot=spec.robot,
        variant=spec.variant,
        fps=float(fps),
        joint_names=list(spec.joint_names),
        body_names=[model.body(b).name for b in range(1, model.nbody)],
        **arrays,
        contact_mask=np.asarray(contact_mask, dtype=np.float64),
        source_file=str(source_file),
        source_sha256=_sha_if_file(source_file),
        settings=settings,
        report=dict(report or {}),
    )
    if human is not None:
        clip.human_joint_names = list(human.joint_names)
        clip.human_parents = np.asarray(human.parents, dtype=np.int64)
        clip.human_pos_w = np.asarray(human.joint_pos_w, dtype=np.float64)
    clip.validate(source_file or "<new clip>")
    return clip


def _trajectory_arrays(
    model: mujoco.MjModel, spec: RobotSpec, qpos: F64, fps: float, sigma_frames: float
) -> tuple[dict[str, Any], dict[str, F64]]:
    """The clip's trajectory fields from ``qpos`` (T, nq), and the raw kinematics (with world)."""
    adr = free_joint_qposadr(model)
    kin = forward_kinematics(model, qpos)
    body_pos, body_quat = kin["body_pos_w"][:, 1:], kin["body_quat_w"][:, 1:]
    lin_vel, ang_vel = body_velocities(body_pos, body_quat, fps, sigma_frames)
    joints = qpos[:, model.jnt_qposadr[joint_ids(model, spec.joint_names)]]
    arrays: dict[str, Any] = {
        "root_pos_w": qpos[:, adr : adr + 3].copy(),
        "root_quat_w": qpos[:, adr + 3 : adr + 7].copy(),
        "joint_pos": joints,
        "joint_vel": smooth_time(finite_difference(joints, fps), sigma_frames),
        "body_pos_w": body_pos,
        "body_quat_w": body_quat,
        "body_lin_vel_w": lin_vel,
        "body_ang_vel_w": ang_vel,
    }
    return arrays, kin


def robot_contact_mask(
    model: mujoco.MjModel, spec: RobotSpec, body_pos_w: F64, body_quat_w: F64, fps: float
) -> F64:
    """Foot contact mask (T, 2) from the robot's sole points (model body order, world included)."""
    from humimic.motion.contact import ContactCfg, contact_mask_from_points

    soles = robot_foot_sole_points_b(model, spec)
    feet = []
    for side in FEET:
        body = foot_body_id(model, spec, side)
        feet.append(sole_points_w(soles[side], body_pos_w[:, body], body_quat_w[:, body]))
    mask = contact_mask_from_points(feet[0], feet[1], fps, ContactCfg())
    return np.asarray(mask, dtype=np.float64)


GROUND_PERCENTILE = 5.0
"""Percentile over frames of the lowest sole point taken as the clip's ground clearance:
low enough to be the stance frames, high enough to ignore a few penetrating frames."""


def sole_clearance_m(
    model: mujoco.MjModel, spec: RobotSpec, body_pos_w: F64, body_quat_w: F64
) -> float:
    """How far (m) the clip's soles stay above z = 0 when they are lowest (negative: below).

    Args:
        model: The variant's model.
        spec: The variant.
        body_pos_w: Shape (T, nbody, 3), world included (as :func:`forward_kinematics` gives).
        body_quat_w: Shape (T, nbody, 4), wxyz.

    Returns:
        The :data:`GROUND_PERCENTILE` percentile over frames of the lowest sole point's z.
    """
    soles = robot_foot_sole_points_b(model, spec)
    lowest = np.full(body_pos_w.shape[0], np.inf)
    for side in FEET:
        body = foot_body_id(model, spec, side)
        z = sole_points_w(soles[side], body_pos_w[:, body], body_quat_w[:, body])[..., 2]
        lowest = np.minimum(lowest, z.min(axis=1))
    return float(np.percentile(lowest, GROUND_PERCENTILE))


def ground_root(
    model: mujoco.MjModel, spec: RobotSpec, root_pos_w: F64, root_quat_w: F64, joint_pos: F64
) -> tuple[F64, float]:
    """Root positions shifted in z so the soles stand on z = 0, and the shift (m).

    Clips from other tools often float (ASAP's stand 5-13 cm up) or sink: the feasibility
    checks and a tracker's reward both take z = 0 as the ground. One constant shift keeps the
    motion's own vertical movement.
    """
    qpos = joint_trajectory_to_qpos(model, spec, root_pos_w, root_quat_w, joint_pos)
    kin = forward_kinematics(model, qpos)
    shift = -sole_clearance_m(model, spec, kin["body_pos_w"], kin["body_quat_w"])
    return root_pos_w + np.array([0.0, 0.0, shift]), shift


def _sha_if_file(path: str | Path) -> str:
    """SHA-256 of ``path`` when it names a readable file, else ``""``."""
    if not str(path):
        return ""
    try:
        return file_sha256(path) if Path(path).is_file() else ""
    except OSError as err:
        raise HumimicError(f"{path}: cannot read source file ({err.strerror or err})") from err
