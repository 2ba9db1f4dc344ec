"""Self-collision avoidance for retargeting: keep the robot's collision capsules apart.

Every sphere and capsule of the robot's collision model is a segment with a radius. For
each pair MuJoCo would collide (different weld bodies, not parent and child, not excluded),
the solver adds a one-sided residual ``w (r_a + r_b + margin − d)`` where ``d`` is the
distance between the two segments; its Jacobian is ``−w nᵀ (J(c_a) − J(c_b))`` with ``c``
the closest points and ``n`` the unit vector between them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import mujoco
import numpy as np
from numpy.typing import NDArray

from humimic.motion.retarget.jacobian import BodyJacobians, Pose, jacobian_at

F64 = NDArray[np.float64]
COLLISION_GROUP = 3
_SPHERE = int(mujoco.mjtGeom.mjGEOM_SPHERE)
_CAPSULE = int(mujoco.mjtGeom.mjGEOM_CAPSULE)


@dataclass
class Capsules:
    """Collision segments of a model.

    Attributes:
        names: Geom names.
        body: ``(G,)`` kinematics body index (model body id − 1).
        start_b, end_b: ``(G, 3)`` segment ends in the body frame (equal for spheres), m.
        radius: ``(G,)`` radii, m.
        pairs: ``(K, 2)`` indices of the pairs that may collide.
    """

    names: list[str]
    body: NDArray[np.int64]
    start_b: F64
    end_b: F64
    radius: F64
    pairs: NDArray[np.int64]


def model_capsules(model: mujoco.MjModel) -> Capsules:
    """Spheres and capsules of the collision group, and the pairs MuJoCo would test."""
    geoms = [
        g
        for g in range(model.ngeom)
        if model.geom_group[g] == COLLISION_GROUP
        and int(model.geom_type[g]) in (_SPHERE, _CAPSULE)
        and model.geom_bodyid[g] > 0
    ]
    starts, ends = [], []
    for g in geoms:
        half = model.geom_size[g][1] if int(model.geom_type[g]) == _CAPSULE else 0.0
        axis = np.zeros(9)
        mujoco.mju_quat2Mat(axis, model.geom_quat[g])
        direction = axis.reshape(3, 3)[:, 2] * half
        starts.append(model.geom_pos[g] - direction)
        ends.append(model.geom_pos[g] + direction)
    bodies = np.array([model.geom_bodyid[g] for g in geoms])
    pairs = [
        (i, j)
        for i in range(len(geoms))
        for j in range(i + 1, len(geoms))
        if _may_collide(model, int(bodies[i]), int(bodies[j]))
    ]
    return Capsules(
        names=[mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_GEOM, g) or f"geom{g}" for g in geoms],
        body=bodies - 1,
        start_b=np.asarray(starts, np.float64).reshape(-1, 3),
        end_b=np.asarray(ends, np.float64).reshape(-1, 3),
        radius=np.array([model.geom_size[g][0] for g in geoms], np.float64),
        pairs=np.asarray(pairs, np.int64).reshape(-1, 2),
    )


def _may_collide(model: mujoco.MjModel, body_a: int, body_b: int) -> bool:
    """MuJoCo's body-pair filter: weld bodies, parent-child and explicit exclusions."""
    weld_a, weld_b = model.body_weldid[body_a], model.body_weldid[body_b]
    if weld_a == weld_b:
        return False
    if model.body_weldid[model.body_parentid[weld_a]] == weld_b:
        return False
    if model.body_weldid[model.body_parentid[weld_b]] == weld_a:
        return False
    signature = (min(body_a, body_b) << 16) + max(body_a, body_b)
    return signature not in set(model.exclude_signature[: model.nexclude].tolist())


def closest_points(p1: F64, q1: F64, p2: F64, q2: F64) -> tuple[F64, F64]:
    """Closest points of segments ``p1–q1`` and ``p2–q2`` (``(..., 3)`` each)."""
    d1, d2, r = q1 - p1, q2 - p2, p1 - p2
    a = np.sum(d1 * d1, -1)
    e = np.sum(d2 * d2, -1)
    f = np.sum(d2 * r, -1)
    c = np.sum(d1 * r, -1)
    b = np.sum(d1 * d2, -1)
    eps = 1e-12
    safe_a, safe_e = np.maximum(a, eps), np.maximum(e, eps)
    denom = a * e - b * b
    s = np.where(denom > eps, np.clip((b * f - c * e) / np.maximum(denom, eps), 0.0, 1.0), 0.0)
    s = np.where(e > eps, s, np.clip(-c / safe_a, 0.0, 1.0))  # second segment is a point
    t = np.where(e > eps, (b * s + f) / safe_e, 0.0)
    # t outside [0, 1]: clamp it and recompute s for that end of the second segment.
    s = np.where(t < 0.0, np.clip(-c / safe_a, 0.0, 1.0), s)
    s = np.where(t > 1.0, np.clip((b - c) / safe_a, 0.0, 1.0), s)
    t = np.clip(t, 0.0, 1.0)
    # First segment is a point: s = 0 and t is the projection onto the second one.
    t = np.where(a > eps, t, np.clip(f / safe_e, 0.0, 1.0) * (e > eps))
    s = np.where(a > eps, s, 0.0)
    return p1 + s[..., None] * d1, p2 + t[..., None] * d2


def near_pairs(bj: BodyJacobians, pose: Pose, caps: Capsules, margin: float) -> tuple:
    """Capsule pairs closer than their radii plus ``margin``, per frame.

    Returns:
        ``frame (M,)``, ``pair (M,)`` (index into ``caps.pairs``), closest points ``ca, cb
        (M, 3)``, ``gap = ca - cb (M, 3)`` and its length ``dist (M,)``.
    """
    start = bj.points_w(pose, caps.body, caps.start_b)  # (T, G, 3)
    end = bj.points_w(pose, caps.body, caps.end_b)
    a, b = caps.pairs[:, 0], caps.pairs[:, 1]
    reach = caps.radius[a] + caps.radius[b] + margin  # (K,)
    # Cheap bound first: centres farther apart than both half-lengths plus reach never touch.
    # Only a filter, so float32 (centres near the root, 0.1 mm slack) is enough; squared
    # distances per coordinate plane keep the (T, K) arrays contiguous.
    centre = 0.5 * (start + end) - pose.root_pos_w[:, None, :]
    centre = centre.transpose(2, 0, 1).astype(np.float32)  # (3, T, G)
    half = 0.5 * np.linalg.norm(caps.end_b - caps.start_b, axis=-1)
    bound = (reach + half[a] + half[b] + 1e-4).astype(np.float32)
    dist2 = np.square(centre[0][:, a] - centre[0][:, b])
    dist2 += np.square(centre[1][:, a] - centre[1][:, b])
    dist2 += np.square(centre[2][:, a] - centre[2][:, b])
    frame, pair = np.nonzero(dist2 < bound**2)
    ca, cb = closest_points(
        start[frame, a[pair]], end[frame, a[pair]], start[frame, b[pair]], end[frame, b[pair]]
    )
    gap = ca - cb
    dist = np.linalg.norm(gap, axis=-1)
    near = dist < reach[pair]
    return frame[near], pair[near], ca[near], cb[near], gap[near], dist[near]


def add_collision_terms(
    bj: BodyJacobians,
    pose: Pose,
    caps: Capsules,
    weight: float,
    margin: float,
    diag: F64 | None,
    grad: F64 | None,
) -> float:
    """Add the one-sided capsule-distance residuals of every frame; returns their cost.

    With ``diag`` and ``grad`` None only the cost is computed (no Jacobians).
    """
    if weight == 0 or len(caps.pairs) == 0:
        return 0.0
    key = ("near_pairs", id(caps), margin)
    frame, pair, ca, cb, gap, dist = pose.memo(key, lambda: near_pairs(bj, pose, caps, margin))
    if frame.size == 0:
        return 0.0
    a, b = caps.pairs[:, 0], caps.pairs[:, 1]
    reach = caps.radius[a] + caps.radius[b] + margin  # (K,)
    normal = gap / np.maximum(dist, 1e-9)[:, None]
    res = weight * (reach[pair] - dist)
    if diag is None or grad is None:
        return float(np.sum(res**2))
    jac_a = jacobian_at(bj, pose, frame, caps.body[a[pair]], ca)
    jac_b = jacobian_at(bj, pose, frame, caps.body[b[pair]], cb)
    row = -weight * np.einsum("mi,miv->mv", normal, jac_a - jac_b)  # (M, V)
    add_rows(diag, grad, frame, row, res)
    return float(np.sum(res**2))


def add_ground_terms(
    bj: BodyJacobians,
    pose: Pose,
    caps: Capsules,
    weight: float,
    diag: F64 | None,
    grad: F64 | None,
    skip_bodies: NDArray[np.int64] | None = None,
) -> float:
    """Keep collision capsules above the floor: one-sided ``w (z_low − r)`` residuals.

    Feet have their own contact terms (pass their bodies as ``skip_bodies``); this stops
    hands, knees or the head from sinking into the ground in cartwheels, crawls or kneeling.
    With ``diag`` and ``grad`` None only the cost is computed.
    """
    if skip_bodies is not None:
        keep = ~np.isin(caps.body, skip_bodies)
        caps = replace(
            caps, body=caps.body[keep], start_b=caps.start_b[keep], end_b=caps.end_b[keep],
            radius=caps.radius[keep], names=[n for n, k in zip(caps.names, keep) if k],
        )  # fmt: skip
    if weight == 0 or len(caps.names) == 0:
        return 0.0
    start = bj.points_w(pose, caps.body, caps.start_b)  # (T, G, 3)
    end = bj.points_w(pose, caps.body, caps.end_b)
    low = np.where((start[..., 2] <= end[..., 2])[..., None], start, end)
    depth = low[..., 2] - caps.radius  # (T, G), negative when below ground
    frame, geom = np.nonzero(depth < 0.0)
    if frame.size == 0:
        return 0.0
    res = weight * depth[frame, geom]
    if diag is None or grad is None:
        return float(np.sum(res**2))
    jac = jacobian_at(bj, pose, frame, caps.body[geom], low[frame, geom])
    row = weight * jac[:, 2, :]
    add_rows(diag, grad, frame, row, res)
    return float(np.sum(res**2))


def add_rows(diag: F64, grad: F64, frame: NDArray[np.int64], row: F64, res: F64) -> None:
    """Add scalar residuals ``res (M,)`` with Jacobian rows ``row (M, V)`` to their frames.

    ``frame`` must be sorted (``np.nonzero`` returns it so); per-frame sums by ``reduceat``
    are far faster than ``np.add.at``.
    """
    order = np.argsort(frame, kind="stable")
    frame, row, res = frame[order], row[order], res[order]
    starts = np.flatnonzero(np.r_[True, frame[1:] != frame[:-1]])
    frames = frame[starts]
    diag[frames] += np.add.reduceat(row[:, :, None] * row[:, None, :], starts, axis=0)
    grad[frames] += np.add.reduceat(row * res[:, None], starts, axis=0)
