"""Look-ups in a robot variant's compiled MuJoCo model: joint ids and ``qpos`` addresses,
the feet and their sole points, and a joint trajectory laid out as ``qpos``.

Joints and feet are found by the names in the :class:`~humimic.robot.spec.RobotSpec`; a name
the model lacks is a :class:`~humimic.errors.ConfigError` listing it. Dimension names:
``T`` frames, ``J`` spec joints, ``P`` sole points per foot.
"""

from __future__ import annotations

import mujoco
import numpy as np
from numpy.typing import ArrayLike, NDArray

from humimic.errors import ConfigError
from humimic.geometry import quat_np
from humimic.robot.spec import RobotSpec

F64 = NDArray[np.float64]

FEET = ("left", "right")
"""The feet, in the order of a clip's contact-mask columns."""


def free_joint_qposadr(model: mujoco.MjModel) -> int:
    """``qpos`` address of the model's single free joint (the robot root)."""
    free = np.flatnonzero(model.jnt_type == mujoco.mjtJoint.mjJNT_FREE)
    if free.size != 1:
        raise ConfigError(f"robot model needs exactly one free joint, found {free.size}")
    return int(model.jnt_qposadr[free[0]])


def joint_ids(model: mujoco.MjModel, names: list[str]) -> NDArray[np.int64]:
    """Model joint ids of ``names``; raises :class:`ConfigError` listing any missing."""
    ids = [mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, n) for n in names]
    missing = [n for n, i in zip(names, ids) if i < 0]
    if missing:
        raise ConfigError(f"robot model has no joints {missing}")
    return np.asarray(ids, dtype=np.int64)


def joint_trajectory_to_qpos(
    model: mujoco.MjModel,
    spec: RobotSpec,
    root_pos_w: ArrayLike,
    root_quat_w: ArrayLike,
    joint_pos: ArrayLike,
) -> F64:
    """Generalised positions of a trajectory, joints placed by name.

    Args:
        model: The variant's MuJoCo model.
        spec: The robot variant; ``joint_pos`` columns follow ``spec.joint_names``.
        root_pos_w: Shape (T, 3), pelvis position, m.
        root_quat_w: Shape (T, 4), pelvis orientation, wxyz (normalised here).
        joint_pos: Shape (T, J), joint angles, rad.

    Returns:
        Shape (T, nq); coordinates the spec does not name keep ``model.qpos0``.
    """
    root_pos_w = np.asarray(root_pos_w, np.float64)
    joint_pos = np.asarray(joint_pos, np.float64)
    t_len = joint_pos.shape[0]
    if root_pos_w.shape != (t_len, 3) or np.shape(root_quat_w) != (t_len, 4):
        raise ConfigError(
            f"root_pos_w {root_pos_w.shape} / root_quat_w {np.shape(root_quat_w)} do not match "
            f"{t_len} frames"
        )
    if joint_pos.shape != (t_len, len(spec.joint_names)):
        raise ConfigError(
            f"joint_pos has shape {joint_pos.shape}, expected ({t_len}, {len(spec.joint_names)})"
        )
    qpos = np.tile(model.qpos0.astype(np.float64), (t_len, 1))
    adr = free_joint_qposadr(model)
    qpos[:, adr : adr + 3] = root_pos_w
    qpos[:, adr + 3 : adr + 7] = quat_np.normalize(root_quat_w)
    qpos[:, model.jnt_qposadr[joint_ids(model, spec.joint_names)]] = joint_pos
    return qpos


def robot_foot_sole_points_b(model: mujoco.MjModel, spec: RobotSpec) -> dict[str, F64]:
    """Lowest points of each foot's collision geoms, in the frame of the foot body.

    The foot body is the one carrying the geoms listed in ``spec.foot_geoms`` (the ankle-roll
    link on the G1). "Lowest" is along the body's -z, i.e. with the foot flat on the ground.
    Spheres give one point, capsules two (one per end cap), boxes their four bottom corners.

    Returns:
        ``{"left": (P, 3), "right": (P, 3)}`` in metres.
    """
    points: dict[str, F64] = {}
    for side in FEET:
        body = foot_body_id(model, spec, side)
        rows = []
        for name in spec.foot_geoms[side]:
            gid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, name)
            if model.geom_bodyid[gid] != body:
                raise ConfigError(f"foot geoms of the {side} foot are on different bodies")
            rows.extend(_geom_bottom_points_b(model, gid))
        points[side] = np.asarray(rows, np.float64)
    return points


def foot_body_id(model: mujoco.MjModel, spec: RobotSpec, side: str) -> int:
    """Body id carrying the ``side`` foot's sole geoms (``spec.foot_geoms[side]``)."""
    names = spec.foot_geoms.get(side, [])
    if not names:
        raise ConfigError(f"robot variant {spec.variant}: no foot_geoms for the {side} foot")
    gid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, names[0])
    if gid < 0:
        raise ConfigError(f"robot model has no geom {names[0]!r}")
    return int(model.geom_bodyid[gid])


def _geom_bottom_points_b(model: mujoco.MjModel, gid: int) -> list[F64]:
    """Body-frame points of geom ``gid`` that touch a plane under the flat foot."""
    pos = model.geom_pos[gid].astype(np.float64)
    rot = quat_np.to_matrix(model.geom_quat[gid])
    size = model.geom_size[gid]
    kind = model.geom_type[gid]
    down = np.array([0.0, 0.0, 1.0])
    if kind == mujoco.mjtGeom.mjGEOM_SPHERE:
        return [pos - size[0] * down]
    if kind == mujoco.mjtGeom.mjGEOM_CAPSULE:
        tip = rot @ np.array([0.0, 0.0, size[1]])
        return [pos + tip - size[0] * down, pos - tip - size[0] * down]
    if kind == mujoco.mjtGeom.mjGEOM_BOX:
        corners = [
            rot @ (size * np.array([sx, sy, sz]))
            for sx in (-1, 1)
            for sy in (-1, 1)
            for sz in (-1, 1)
        ]
        lowest = min(c[2] for c in corners)
        return [pos + c for c in corners if c[2] <= lowest + 1e-9]
    raise ConfigError(f"foot geom {model.geom(gid).name!r}: type {kind} not supported")
