"""The checks of :func:`humimic.motion.feasibility.assess_clip`, one function each.

Each takes the per-frame quantities of the MuJoCo pass and the thresholds, and returns a
JSON-able entry: ``verdict`` (pass/warn/fail), ``reasons`` (one line per warn or fail) and
the figures it measured. Dimension names: ``T`` frames, ``J`` spec joints, ``G`` geoms.
"""

from __future__ import annotations

from typing import Any

import mujoco
import numpy as np
from numpy.typing import NDArray

from humimic.config.motion_schema import FeasibilityCfg
from humimic.motion.feasibility_report import VERDICTS
from humimic.robot.lookup import joint_ids
from humimic.robot.spec import RobotSpec

F64 = NDArray[np.float64]


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


def check_joint_limits(
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


def check_joint_speed(
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


def check_root_speed(root_pos_w: F64, fps: float, cfg: FeasibilityCfg) -> dict[str, Any]:
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


def check_skating(
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


def check_penetration(
    model: mujoco.MjModel, frames: dict[str, Any], cfg: FeasibilityCfg
) -> dict[str, Any]:
    geoms = np.flatnonzero(
        (model.geom_bodyid != 0) & ((model.geom_contype | model.geom_conaffinity) != 0)
    )
    if geoms.size == 0:
        return _result("pass", "", max_depth_m=0.0, worst_geom="", worst_frame=-1)
    lowest = lowest_z(model, geoms, frames["geom_pos"][:, geoms], frames["geom_mat"][:, geoms])
    t, g = np.unravel_index(int(np.argmin(lowest)), lowest.shape)
    depth = max(0.0, -float(lowest[t, g]))
    name = model.geom(int(geoms[g])).name
    verdict = _grade(depth, cfg.penetration_warn_m, cfg.penetration_fail_m)
    reason = f"geom {name!r} is {depth:.3f} m below the ground at frame {t}"
    return _result(verdict, reason, max_depth_m=depth, worst_geom=name, worst_frame=int(t))


def lowest_z(model: mujoco.MjModel, geoms: NDArray[np.int64], pos: F64, mat: F64) -> F64:
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


def check_self_collision(
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


def check_support(
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


def check_torque(spec: RobotSpec, tau: F64, cfg: FeasibilityCfg) -> dict[str, Any]:
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
