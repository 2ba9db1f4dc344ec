"""Can the robot physically perform a clip? Kinematic and dynamic checks with verdicts.

:func:`assess_clip` runs one pass over the frames with MuJoCo and returns the report's
feasibility section (:class:`~humimic.motion.report.FeasibilityReport`): joint-limit
violations, joint speeds, foot skating, ground penetration, self-collision, the support
wrench the feet cannot provide, and the actuator torques the motion needs.

Torques: ``mj_inverse`` (constraints off) gives the generalised forces ``qfrc`` of the motion,
with ``qvel``/``qacc`` from finite differences of the clip. The root's 6-D wrench must come from
the ground; it is distributed over the sole points of the feet in contact by non-negative least
squares on a linearised friction cone (4 edges per point, small ridge term so the load spreads).
What the feet cannot supply is the *unsupported* wrench (hands-on-ground motions show a large
one); the actuator torques are ``τ = qfrc − J_cᵀ f`` on the spec joints.

Dimension names: ``T`` frames, ``J`` spec joints, ``P`` active sole points, ``G`` geoms.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import mujoco
import numpy as np
from numpy.typing import NDArray

from humimic.config.motion_schema import FeasibilityCfg
from humimic.errors import ConfigError
from humimic.geometry import quat_np
from humimic.motion.clip import RobotClip
from humimic.motion.feasibility_checks import (
    check_joint_limits,
    check_joint_speed,
    check_penetration,
    check_root_speed,
    check_self_collision,
    check_skating,
    check_support,
    check_torque,
)
from humimic.motion.feasibility_report import CheckResult, FeasibilityReport, RobotContact
from humimic.motion.nonneg_lsq import nonneg_ridge_lsq
from humimic.motion.robot_clip import finite_difference, smooth_time
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


def assess_clip(
    clip: RobotClip, spec: RobotSpec, model: mujoco.MjModel, cfg: FeasibilityCfg | None = None
) -> FeasibilityReport:
    """Check whether the robot can perform ``clip``.

    Args:
        clip: The clip; joints are matched to ``spec`` by name.
        spec: The robot variant.
        model: The variant's model; self-collision is only seen when it was built with
            ``self_collision=True``. Its options are restored on return.
        cfg: Thresholds (defaults when ``None``).

    Returns:
        The verdict (worst check), reasons (one line per warn/fail), one
        :class:`~humimic.motion.report.CheckResult` per check, the robot's own contact mask
        (``(T, 2)`` 0/1 from its sole points, and its agreement with the clip's mask) and the
        thresholds.

    Raises:
        ConfigError: The clip lacks joints of the spec or the model lacks spec joints.
    """
    cfg = cfg or FeasibilityCfg()
    joint_pos = _clip_joints(clip, spec, clip.joint_pos)
    qpos = joint_trajectory_to_qpos(model, spec, clip.root_pos_w, clip.root_quat_w, joint_pos)
    sigma_frames = cfg.accel_sigma_s * clip.fps
    qvel, qacc = _generalised_motion(model, spec, qpos, clip.fps, sigma_frames)
    mask = np.asarray(clip.contact_mask) > 0.5
    frames = _frame_pass(model, spec, qpos, qvel, qacc, mask, cfg)
    # A sole on the ground can push whatever the mask says: the support check asks whether
    # the robot can do the motion, not whether the labels are right (skating uses the labels).
    can_push = mask | (frames["soles_w"][..., 2].min(axis=2) <= cfg.ground_touch_m)
    frames["residual"], frames["tau"], frames["normal"] = _support(
        model, spec, frames, can_push, cfg
    )
    weight = float(mujoco.mj_getTotalmass(model) * np.linalg.norm(model.opt.gravity))
    names = list(spec.joint_names)
    checks = {
        "joint_limits": check_joint_limits(model, names, joint_pos, cfg),
        "joint_speed": check_joint_speed(
            spec, _clip_joints(clip, spec, clip.joint_vel), joint_pos, clip.fps, cfg
        ),
        "root_speed": check_root_speed(np.asarray(clip.root_pos_w), clip.fps, cfg),
        "foot_skating": check_skating(frames["soles_w"], mask, clip.fps, cfg),
        "ground_penetration": check_penetration(model, frames, cfg),
        "self_collision": check_self_collision(model, frames, cfg),
        "support": check_support(frames, can_push, weight, clip.fps, cfg),
        "torque": check_torque(spec, frames["tau"], cfg),
    }
    typed = {
        name: CheckResult.from_json(name, entry, "assess_clip", f"checks.{name}.")
        for name, entry in checks.items()
    }
    contact = _robot_contact(frames["soles_w"], mask, clip.fps)
    return FeasibilityReport.from_checks(typed, contact, asdict(cfg))


def _robot_contact(soles_w: F64, mask: NDArray[np.bool_], fps: float) -> RobotContact:
    """Contact mask of the robot's own sole points and its agreement with the clip's mask."""
    from humimic.motion.contact import ContactCfg, contact_mask_from_points

    robot = contact_mask_from_points(soles_w[:, 0], soles_w[:, 1], fps, ContactCfg())
    rows = tuple((int(a), int(b)) for a, b in robot.astype(int))
    return RobotContact(rows, float(np.mean(robot == mask)))


def _clip_joints(clip: RobotClip, spec: RobotSpec, values: F64) -> F64:
    """Columns of a clip's (T, J) joint array in ``spec.joint_names`` order, by name."""
    missing = [n for n in spec.joint_names if n not in clip.joint_names]
    if missing:
        raise ConfigError(f"clip for {clip.variant} lacks joints {missing} of {spec.variant}")
    return np.asarray(values, np.float64)[:, [clip.joint_index(n) for n in spec.joint_names]]


def _generalised_motion(
    model: mujoco.MjModel, spec: RobotSpec, qpos: F64, fps: float, sigma: float
) -> tuple[F64, F64]:
    """``qvel`` and ``qacc`` (T, nv) by finite differences, in MuJoCo's coordinates.

    The free joint's angular velocity is in the root (body) frame, as MuJoCo stores it.
    """
    adr = free_joint_qposadr(model)
    free = int(np.flatnonzero(model.jnt_type == mujoco.mjtJoint.mjJNT_FREE)[0])
    dof = int(model.jnt_dofadr[free])
    quat = qpos[:, adr + 3 : adr + 7]
    qvel = np.zeros((qpos.shape[0], model.nv))
    qvel[:, dof : dof + 3] = finite_difference(qpos[:, adr : adr + 3], fps)
    omega_w = quat_np.angular_velocity_w(quat, fps)
    qvel[:, dof + 3 : dof + 6] = quat_np.rotate(quat_np.conjugate(quat), omega_w)
    ids = joint_ids(model, spec.joint_names)
    qvel[:, model.jnt_dofadr[ids]] = finite_difference(qpos[:, model.jnt_qposadr[ids]], fps)
    qvel = smooth_time(qvel, sigma)
    return qvel, finite_difference(qvel, fps)


def _frame_pass(
    model: mujoco.MjModel,
    spec: RobotSpec,
    qpos: F64,
    qvel: F64,
    qacc: F64,
    mask: NDArray[np.bool_],
    cfg: FeasibilityCfg,
) -> dict[str, Any]:
    """One MuJoCo pass: inverse dynamics, foot Jacobians, poses and self-contacts per frame."""
    data = mujoco.MjData(model)
    feet = [foot_body_id(model, spec, s) for s in FEET]
    out = _frame_buffers(model, qpos.shape[0])
    flags = model.opt.disableflags
    bits = mujoco.mjtDisableBit
    no_constraint = flags | bits.mjDSBL_CONSTRAINT
    contacts_on = flags & ~(bits.mjDSBL_CONTACT | bits.mjDSBL_CONSTRAINT)
    try:
        for t in range(qpos.shape[0]):
            data.qpos[:], data.qvel[:], data.qacc[:] = qpos[t], qvel[t], qacc[t]
            model.opt.disableflags = no_constraint
            mujoco.mj_inverse(model, data)
            out["qfrc"][t] = data.qfrc_inverse
            for i, body in enumerate(feet):
                mujoco.mj_jacBody(model, data, out["jacp"][t, i], out["jacr"][t, i], body)
            out["feet_pos"][t] = data.xpos[feet]
            out["feet_mat"][t] = data.xmat[feet].reshape(2, 3, 3)
            out["geom_pos"][t] = data.geom_xpos
            out["geom_mat"][t] = data.geom_xmat.reshape(-1, 3, 3)
            model.opt.disableflags = contacts_on
            mujoco.mj_collision(model, data)
            out["self_contacts"].extend(_self_contacts(model, data, t, cfg.self_collision_depth_m))
    finally:
        model.opt.disableflags = flags
    soles = robot_foot_sole_points_b(model, spec)
    out["soles_w"] = np.stack(
        [
            out["feet_pos"][:, i, None] + np.einsum("tij,pj->tpi", out["feet_mat"][:, i], soles[s])
            for i, s in enumerate(FEET)
        ],
        axis=1,
    )  # (T, 2, P, 3)
    return out


def _frame_buffers(model: mujoco.MjModel, t_len: int) -> dict[str, Any]:
    """Per-frame outputs of :func:`_frame_pass` (``feet`` axis: left, right)."""
    nv, ngeom = model.nv, model.ngeom
    return {
        "qfrc": np.empty((t_len, nv)),
        "jacp": np.empty((t_len, 2, 3, nv)),
        "jacr": np.empty((t_len, 2, 3, nv)),
        "feet_pos": np.empty((t_len, 2, 3)),
        "feet_mat": np.empty((t_len, 2, 3, 3)),
        "geom_pos": np.empty((t_len, ngeom, 3)),
        "geom_mat": np.empty((t_len, ngeom, 3, 3)),
        "self_contacts": [],
    }


def _support(
    model: mujoco.MjModel,
    spec: RobotSpec,
    frames: dict[str, Any],
    mask: NDArray[np.bool_],
    cfg: FeasibilityCfg,
    chunk: int = 1024,
) -> tuple[F64, F64, F64]:
    """Residual root wrench (T, 6), actuator torques (T, J) and total normal force (T,), N.

    Frames are solved ``chunk`` at a time to bound memory on long clips.
    """
    free = int(np.flatnonzero(model.jnt_type == mujoco.mjtJoint.mjJNT_FREE)[0])
    root = slice(int(model.jnt_dofadr[free]), int(model.jnt_dofadr[free]) + 6)
    dofs = model.jnt_dofadr[joint_ids(model, spec.joint_names)]
    edges = np.array([[1, 0, -1, 0], [0, 1, 0, -1], [0, 0, 0, 0.0]]) * cfg.friction
    edges[2] = 1.0  # (3, K) cone edges, unit normal part so Σλ is the normal force
    parts = []
    for start in range(0, len(mask), chunk):
        part = slice(start, start + chunk)
        gen = _contact_generators(frames, mask, edges, cfg, part)
        qfrc = frames["qfrc"][part]
        lam = nonneg_ridge_lsq(gen[:, root], qfrc[:, root], cfg.ridge)
        left = qfrc - np.einsum("tnm,tm->tn", gen, lam)
        parts.append((left[:, root], left[:, dofs], lam.sum(axis=1)))
    return tuple(np.concatenate(p) for p in zip(*parts))  # type: ignore[return-value]


def _contact_generators(
    frames: dict[str, Any], mask: NDArray[np.bool_], edges: F64, cfg: FeasibilityCfg, part: slice
) -> F64:
    """(t, nv, 2·P·K) generalised forces of unit cone-edge forces at the sole points.

    Columns are zero for feet not in contact, sole points more than ``sole_contact_band_m``
    above the foot's lowest point (or the ground), and points above ``contact_max_height_m``.
    """
    points = frames["soles_w"][part]
    z = points[..., 2]
    lowest = np.maximum(z.min(axis=2, keepdims=True), 0.0)
    active = mask[part, :, None] & (z <= lowest + cfg.sole_contact_band_m)  # (t, 2, P)
    active &= z <= cfg.contact_max_height_m
    arm = points - frames["feet_pos"][part, :, None]  # (t, 2, P, 3)
    arm_x_edge = np.cross(arm[:, :, :, None, :], edges.T)  # (t, 2, P, K, 3)
    # Generalised force of a unit edge force e at point p: Jpᵀ e + Jrᵀ (r × e).
    gen = np.einsum("tfcn,ck->tnfk", frames["jacp"][part], edges)[:, :, :, None, :]
    gen = gen + np.einsum("tfcn,tfpkc->tnfpk", frames["jacr"][part], arm_x_edge)
    return (gen * active[:, None, :, :, None]).reshape(len(z), gen.shape[1], -1)


def _self_contacts(
    model: mujoco.MjModel, data: mujoco.MjData, t: int, depth_m: float
) -> list[tuple[int, int, int, float]]:
    """Robot-robot contacts of frame ``t`` deeper than ``depth_m``: (t, geom1, geom2, depth)."""
    if data.ncon == 0:
        return []
    con = data.contact
    g1, g2, depth = con.geom1[: data.ncon], con.geom2[: data.ncon], -con.dist[: data.ncon]
    keep = (model.geom_bodyid[g1] != 0) & (model.geom_bodyid[g2] != 0) & (depth > depth_m)
    return [(t, int(a), int(b), float(d)) for a, b, d in zip(g1[keep], g2[keep], depth[keep])]
