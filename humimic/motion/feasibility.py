"""Can the robot physically perform a clip? Kinematic and dynamic checks with verdicts.

:func:`assess_clip` runs one pass over the frames with MuJoCo and returns a JSON-able report
section: joint-limit violations, joint speeds, foot skating, ground penetration, self-collision,
the support wrench the feet cannot provide, and the actuator torques the motion needs.

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
from humimic.motion.nonneg_lsq import nonneg_ridge_lsq
from humimic.motion.robot_clip import (
    FEET,
    finite_difference,
    foot_body_id,
    free_joint_qposadr,
    joint_ids,
    joint_trajectory_to_qpos,
    robot_foot_sole_points_b,
    smooth_time,
)
from humimic.robot.spec import RobotSpec

F64 = NDArray[np.float64]
VERDICTS = ("pass", "warn", "fail")


def assess_clip(
    clip: RobotClip, spec: RobotSpec, model: mujoco.MjModel, cfg: FeasibilityCfg | None = None
) -> dict[str, Any]:
    """Check whether the robot can perform ``clip``.

    Args:
        clip: The clip; joints are matched to ``spec`` by name.
        spec: The robot variant.
        model: The variant's model; self-collision is only seen when it was built with
            ``self_collision=True``. Its options are restored on return.
        cfg: Thresholds (defaults when ``None``).

    Returns:
        JSON-able dict: ``verdict`` (worst check), ``reasons`` (one line per warn/fail),
        ``checks`` (one entry per check, each with ``verdict`` and ``reasons``),
        ``robot_contact`` (``mask`` (T, 2) 0/1 from the robot's sole points and its
        ``agreement`` with the clip's mask) and ``settings``.

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
        "joint_limits": _check_joint_limits(model, names, joint_pos, cfg),
        "joint_speed": _check_joint_speed(
            spec, _clip_joints(clip, spec, clip.joint_vel), joint_pos, clip.fps, cfg
        ),
        "root_speed": _check_root_speed(np.asarray(clip.root_pos_w), clip.fps, cfg),
        "foot_skating": _check_skating(frames["soles_w"], mask, clip.fps, cfg),
        "ground_penetration": _check_penetration(model, frames, cfg),
        "self_collision": _check_self_collision(model, frames, cfg),
        "support": _check_support(frames, can_push, weight, clip.fps, cfg),
        "torque": _check_torque(spec, frames["tau"], cfg),
    }
    verdict = max((c["verdict"] for c in checks.values()), key=VERDICTS.index)
    reasons = [f"{name}: {r}" for name, c in checks.items() for r in c["reasons"]]
    return {
        "verdict": verdict,
        "reasons": reasons,
        "checks": checks,
        "robot_contact": _robot_contact(frames["soles_w"], mask, clip.fps),
        "settings": asdict(cfg),
    }


def _robot_contact(soles_w: F64, mask: NDArray[np.bool_], fps: float) -> dict[str, Any]:
    """Contact mask of the robot's own sole points and its agreement with the clip's mask."""
    from humimic.motion.contact import ContactCfg, contact_mask_from_points

    robot = contact_mask_from_points(soles_w[:, 0], soles_w[:, 1], fps, ContactCfg())
    return {"mask": robot.astype(int).tolist(), "agreement": float(np.mean(robot == mask))}


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


def exceeds(value: float, limit: float, digits: int = 3) -> bool:
    """``value > limit`` at the precision reports print (``digits`` decimals).

    A value that prints as its limit is at the limit, not over it: no "0.10 > 0.10".
    """
    return round(float(value), digits) > round(float(limit), digits)


def _grade(value: float, warn: float, fail: float, digits: int = 3) -> str:
    """``fail`` above ``fail``, ``warn`` above ``warn`` (at ``digits`` decimals), else ``pass``."""
    return (
        "fail"
        if exceeds(value, fail, digits)
        else "warn"
        if exceeds(value, warn, digits)
        else "pass"
    )


def _worst(*verdicts: str) -> str:
    return max(verdicts, key=VERDICTS.index)


def _result(verdict: str, reason: str, **values: Any) -> dict[str, Any]:
    """A check entry; the reason is kept only when the check did not pass."""
    return {"verdict": verdict, "reasons": [] if verdict == "pass" else [reason], **values}


def _check_joint_limits(
    model: mujoco.MjModel, names: list[str], joint_pos: F64, cfg: FeasibilityCfg
) -> dict[str, Any]:
    ids = joint_ids(model, names)
    limited = model.jnt_limited[ids].astype(bool)
    low = np.where(limited, model.jnt_range[ids, 0], -np.inf)
    high = np.where(limited, model.jnt_range[ids, 1], np.inf)
    margin = np.minimum(joint_pos - low, high - joint_pos)  # (T, J), negative = outside
    min_margin = margin.min(axis=0)
    worst = int(np.argmin(min_margin))
    excess = max(0.0, -float(min_margin[worst]))
    verdict = _grade(excess, cfg.joint_limit_warn_rad, cfg.joint_limit_fail_rad)
    reason = (
        f"{names[worst]} leaves its range by {excess:.3f} rad "
        f"(warn > {cfg.joint_limit_warn_rad}, fail > {cfg.joint_limit_fail_rad})"
    )
    return _result(
        verdict,
        reason,
        violation_frames=int(np.sum(np.any(margin < -1e-6, axis=1))),
        worst_joint=names[worst],
        worst_excess_rad=excess,
        min_margin_rad={n: _finite_or_none(m) for n, m in zip(names, min_margin)},
    )


def _check_joint_speed(
    spec: RobotSpec, joint_vel: F64, joint_pos: F64, fps: float, cfg: FeasibilityCfg
) -> dict[str, Any]:
    """Smoothed peak speed (warns) and raw frame-to-frame jumps (fail), per joint."""
    names = list(spec.joint_names)
    limit = np.asarray(spec.velocity_limit, np.float64)
    peak = np.abs(joint_vel).max(axis=0) / limit
    worst = int(np.argmax(peak))
    step = np.abs(np.diff(joint_pos, axis=0)) * fps  # (T-1, J) rad/s between frames
    raw = step.max(axis=0) / limit if len(step) else np.zeros(len(names))
    jumper = int(np.argmax(raw))
    at = int(np.argmax(step[:, jumper])) if len(step) else 0
    reasons = []
    if exceeds(raw[jumper], cfg.joint_jump_fail_fraction, 2):
        reasons.append(
            f"{names[jumper]} jumps {step[at, jumper] / fps:.2f} rad between frames {at} and "
            f"{at + 1} ({step[at, jumper]:.0f} rad/s, {raw[jumper]:.1f}x its "
            f"{limit[jumper]:g} rad/s limit; fail > {cfg.joint_jump_fail_fraction:g}x)"
        )
    if exceeds(peak[worst], cfg.joint_speed_warn_fraction, 2):
        reasons.append(
            f"{names[worst]} reaches {peak[worst]:.2f}x its speed limit "
            f"({limit[worst]:g} rad/s; warn > {cfg.joint_speed_warn_fraction:g}x)"
        )
    verdict = _worst(
        "fail" if exceeds(raw[jumper], cfg.joint_jump_fail_fraction, 2) else "pass",
        "warn" if reasons else "pass",
    )
    return {
        "verdict": verdict,
        "reasons": reasons,
        "worst_joint": names[worst],
        "worst_fraction": float(peak[worst]),
        "peak_fraction": {n: float(p) for n, p in zip(names, peak)},
        "frame_to_frame_max_rad_s": float(step[at, jumper]) if len(step) else 0.0,
        "frame_to_frame_joint": names[jumper],
        "frame_to_frame_frame": at,
        "frame_to_frame_fraction": float(raw[jumper]),
    }


def _check_root_speed(root_pos_w: F64, fps: float, cfg: FeasibilityCfg) -> dict[str, Any]:
    """Root horizontal speed (99th percentile warns) and frame-to-frame steps (fail)."""
    step = np.linalg.norm(np.diff(root_pos_w, axis=0), axis=1) * fps  # (T-1,) m/s, 3-D
    if step.size == 0:
        return _result("pass", "", p99_mps=0.0, max_mps=0.0, max_frame=0)
    horizontal = np.linalg.norm(np.diff(root_pos_w[:, :2], axis=0), axis=1) * fps
    p99, at = float(np.percentile(horizontal, 99)), int(np.argmax(step))
    reasons = []
    if exceeds(step[at], cfg.root_jump_fail_mps, 2):
        reasons.append(
            f"root jumps {step[at] / fps:.3f} m between frames {at} and {at + 1} "
            f"({step[at]:.1f} m/s; fail > {cfg.root_jump_fail_mps:g} m/s)"
        )
    if exceeds(p99, cfg.root_speed_warn_mps, 2):
        reasons.append(
            f"root moves at {p99:.2f} m/s (99th percentile; warn > {cfg.root_speed_warn_mps:g})"
        )
    verdict = _worst(
        "fail" if exceeds(step[at], cfg.root_jump_fail_mps, 2) else "pass",
        "warn" if reasons else "pass",
    )
    return {
        "verdict": verdict,
        "reasons": reasons,
        "p99_mps": p99,
        "max_mps": float(step[at]),
        "max_frame": at,
    }


def _check_skating(
    soles_w: F64, mask: NDArray[np.bool_], fps: float, cfg: FeasibilityCfg
) -> dict[str, Any]:
    # Sliding is what a foot does between two frames that are both in contact: a central
    # difference at touchdown or lift-off would mix in the swing and count it as skating.
    step = np.linalg.norm(np.diff(soles_w[..., :2], axis=0), axis=-1) * fps  # (T-1, 2, P)
    stance = mask[1:] & mask[:-1]  # (T-1, 2)
    speed = step.min(axis=2)[stance]  # slowest sole point: pivoting on heel or toe is fine
    if speed.size == 0:
        return _result("pass", "", contact_frames=0, mean_mps=0.0, p95_mps=0.0, max_mps=0.0)
    mean, p95, peak = float(speed.mean()), float(np.percentile(speed, 95)), float(speed.max())
    verdict = _worst(
        _grade(mean, cfg.skating_warn_mps, cfg.skating_fail_mps),
        "warn" if exceeds(p95, cfg.skating_p95_warn_mps) else "pass",
        "warn" if exceeds(peak, cfg.skating_peak_warn_mps) else "pass",
    )
    reason = (
        f"contact feet slide at {mean:.3f} m/s on average, {p95:.3f} m/s at the 95th "
        f"percentile, {peak:.3f} m/s at most (warn: mean > {cfg.skating_warn_mps:g}, "
        f"p95 > {cfg.skating_p95_warn_mps:g}, max > {cfg.skating_peak_warn_mps:g}; "
        f"fail: mean > {cfg.skating_fail_mps:g})"
    )
    return _result(
        verdict, reason, contact_frames=int(speed.size), mean_mps=mean, p95_mps=p95, max_mps=peak
    )


def _check_penetration(
    model: mujoco.MjModel, frames: dict[str, Any], cfg: FeasibilityCfg
) -> dict[str, Any]:
    geoms = np.flatnonzero(
        (model.geom_bodyid != 0) & ((model.geom_contype | model.geom_conaffinity) != 0)
    )
    if geoms.size == 0:
        return _result("pass", "", max_depth_m=0.0, worst_geom="", worst_frame=-1)
    lowest = _lowest_z(model, geoms, frames["geom_pos"][:, geoms], frames["geom_mat"][:, geoms])
    t, g = np.unravel_index(int(np.argmin(lowest)), lowest.shape)
    depth = max(0.0, -float(lowest[t, g]))
    name = model.geom(int(geoms[g])).name
    verdict = _grade(depth, cfg.penetration_warn_m, cfg.penetration_fail_m)
    reason = f"geom {name!r} is {depth:.3f} m below the ground at frame {t}"
    return _result(verdict, reason, max_depth_m=depth, worst_geom=name, worst_frame=int(t))


def _lowest_z(model: mujoco.MjModel, geoms: NDArray[np.int64], pos: F64, mat: F64) -> F64:
    """(T, G) lowest world z of each geom: centre z minus its extent along world z."""
    size = model.geom_size[geoms]
    kind = model.geom_type[geoms]
    row = mat[..., 2, :]  # (T, G, 3): world-z row of each geom rotation
    box = np.sum(np.abs(row) * size, axis=-1)
    sphere = np.broadcast_to(size[:, 0], box.shape)
    capsule = np.abs(row[..., 2]) * size[:, 1] + size[:, 0]
    # clip: a unit rotation row can exceed 1 in z by rounding, and sqrt would give NaN.
    tilt = np.sqrt(np.clip(1.0 - row[..., 2] ** 2, 0.0, None))
    cylinder = np.abs(row[..., 2]) * size[:, 1] + size[:, 0] * tilt
    ellipsoid = np.sqrt(np.sum((row * size) ** 2, axis=-1))
    gt = mujoco.mjtGeom
    extent = np.select(
        [
            kind == gt.mjGEOM_SPHERE,
            kind == gt.mjGEOM_CAPSULE,
            kind == gt.mjGEOM_CYLINDER,
            kind == gt.mjGEOM_ELLIPSOID,
            kind == gt.mjGEOM_BOX,
        ],
        [sphere, capsule, cylinder, ellipsoid, box],
        default=np.broadcast_to(model.geom_rbound[geoms], box.shape),
    )
    return pos[..., 2] - extent


def _check_self_collision(
    model: mujoco.MjModel, frames: dict[str, Any], cfg: FeasibilityCfg
) -> dict[str, Any]:
    t_len = frames["residual"].shape[0]
    robot = (model.geom_bodyid != 0) & ((model.geom_contype | model.geom_conaffinity) != 0)
    enabled = bool(np.any(model.geom_contype[robot] & model.geom_conaffinity[robot]))
    records = frames["self_contacts"]
    hit_frames = {t for t, *_ in records}
    fraction = len(hit_frames) / t_len
    pairs: dict[tuple[str, str], list[float]] = {}
    for _, g1, g2, depth in records:
        key = tuple(sorted((model.geom(g1).name, model.geom(g2).name)))
        stats = pairs.setdefault(key, [0.0, 0.0])
        stats[0], stats[1] = max(stats[0], depth), stats[1] + 1
    ranked = sorted(pairs.items(), key=lambda kv: -kv[1][0])[: cfg.worst_pairs]
    worst = [{"geoms": list(k), "max_depth_m": v[0], "frames": int(v[1])} for k, v in ranked]
    verdict = _grade(fraction, cfg.self_collision_warn_fraction, cfg.self_collision_fail_fraction)
    pair_text = f"; worst {worst[0]['geoms']} {worst[0]['max_depth_m']:.3f} m" if worst else ""
    reason = f"{len(hit_frames)} frames ({100 * fraction:.1f} %) self-collide{pair_text}"
    result = _result(verdict, reason, frames=len(hit_frames), fraction=fraction, worst_pairs=worst)
    result["checked"] = enabled
    if not enabled:
        result["note"] = "model built without self-collision; not checked"
    return result


def _check_support(
    frames: dict[str, Any],
    can_push: NDArray[np.bool_],
    weight: float,
    fps: float,
    cfg: FeasibilityCfg,
) -> dict[str, Any]:
    """Wrench the feet cannot supply: on stance frames (lean beyond the feet, hands needed)
    and on frames where no foot can push (held up by nothing: a non-ballistic flight)."""
    residual = frames["residual"]
    force = np.linalg.norm(residual[:, :3], axis=1) / weight
    cop = np.linalg.norm(residual[:, 3:], axis=1) / weight
    heights = frames["soles_w"][..., 2].min(axis=2)  # (T, 2) lowest sole point per foot
    supported = np.any(can_push & (heights <= cfg.contact_max_height_m), axis=1)
    q = cfg.unsupported_percentile
    stance_force, stance_cop = force[supported], cop[supported]
    force_p = float(np.percentile(stance_force, q)) if stance_force.size else 0.0
    cop_p = float(np.percentile(stance_cop, q)) if stance_cop.size else 0.0
    grades = (
        _grade(force_p, cfg.unsupported_force_warn_fraction, cfg.unsupported_force_fail_fraction),
        _grade(cop_p, cfg.unsupported_cop_warn_m, cfg.unsupported_cop_fail_m),
    )
    parts = [f"{100 * force_p:.0f} % of body weight in force", f"torque worth {cop_p:.3f} m of CoP"]
    failing = [part for part, grade in zip(parts, grades) if grade != "pass"]
    reasons = []
    if failing:
        cause = (
            "hands or other supports needed"
            if "fail" in grades
            else "the motion leans beyond what the robot's feet can hold; a tracker will "
            "shift its weight or step"
        )
        limits = (
            f"warn > {100 * cfg.unsupported_force_warn_fraction:.0f} % / "
            f"{cfg.unsupported_cop_warn_m:g} m, fail > "
            f"{100 * cfg.unsupported_force_fail_fraction:.0f} % / {cfg.unsupported_cop_fail_m:g} m"
        )
        reasons.append(
            f"on the {int(supported.sum())} stance frames the feet cannot supply "
            f"{' and '.join(failing)} ({q:g}th percentile; {limits}): {cause}"
        )
    hover = ~supported & (force > cfg.hover_force_fraction)
    hover_s, hover_start = _longest_true_run(hover, fps)
    hover_grade = "pass"
    if hover.any():
        hover_grade = "fail" if exceeds(hover_s, cfg.max_hover_s, 2) else "warn"
        reasons.append(
            f"{int(hover.sum())} frames with no foot able to push still need "
            f"> {100 * cfg.hover_force_fraction:.0f} % of the weight (the flight is not "
            f"ballistic); longest {hover_s:.2f} s from {hover_start:.2f} s "
            f"(fail > {cfg.max_hover_s:g} s)"
        )
    normal = frames["normal"][supported]
    return {
        "verdict": _worst(*grades, hover_grade),
        "reasons": reasons,
        "weight_n": weight,
        "unsupported_force_fraction": _stats(stance_force, force_p),
        "unsupported_cop_m": _stats(stance_cop, cop_p),
        "unsupported_force_max_n": float(force.max() * weight),
        "normal_force_mean_n": float(normal.mean()) if normal.size else 0.0,
        "contact_frames": int(supported.sum()),
        "hover_frames": int(hover.sum()),
        "longest_hover_s": hover_s,
    }


def _longest_true_run(flags: NDArray[np.bool_], fps: float) -> tuple[float, float]:
    """Duration and start (s) of the longest run of True frames, or (0, 0)."""
    from humimic.motion.contact import mask_runs

    starts, lengths = mask_runs(flags)
    runs = [(int(n), int(s0)) for s0, n in zip(starts, lengths) if flags[s0]]
    if not runs:
        return 0.0, 0.0
    n, s0 = max(runs, key=lambda r: (r[0], -r[1]))
    return n / fps, s0 / fps


def _check_torque(spec: RobotSpec, tau: F64, cfg: FeasibilityCfg) -> dict[str, Any]:
    names = list(spec.joint_names)
    limit = np.asarray(spec.effort_limit, np.float64)
    ratio = np.abs(tau) / limit  # (T, J)
    peak = ratio.max(axis=0)
    high = np.percentile(ratio, cfg.torque_percentile, axis=0)
    worst = int(np.argmax(high))
    verdict = _grade(float(high[worst]), cfg.torque_warn_fraction, cfg.torque_fail_fraction, 2)
    reason = (
        f"{names[worst]} needs {high[worst]:.2f}x its effort limit at the "
        f"{cfg.torque_percentile:g}th percentile of frames ({high[worst] * limit[worst]:.0f} of "
        f"{limit[worst]:g} N·m; peak {peak[worst]:.2f}x; warn > {cfg.torque_warn_fraction:g}x, "
        f"fail > {cfg.torque_fail_fraction:g}x)"
    )
    top = np.argsort(-peak)[: cfg.series_joints]
    return _result(
        verdict,
        reason,
        worst_joint=names[worst],
        worst_fraction=float(peak.max()),
        percentile_fraction=float(high[worst]),
        peak_fraction={n: float(p) for n, p in zip(names, peak)},
        peak_nm={n: float(v) for n, v in zip(names, np.abs(tau).max(axis=0))},
        series={names[j]: np.round(ratio[:, j], 3).tolist() for j in top},
    )


def _stats(values: F64, percentile_value: float) -> dict[str, float]:
    """Percentile, max and mean of a per-frame series (zeros when empty)."""
    if values.size == 0:
        return {"p": 0.0, "max": 0.0, "mean": 0.0}
    return {"p": percentile_value, "max": float(values.max()), "mean": float(values.mean())}


def _finite_or_none(value: float) -> float | None:
    """JSON has no infinity: unlimited joints report ``None``."""
    return float(value) if np.isfinite(value) else None
