"""Positions and Jacobians of points attached to robot bodies, for whole clips at once.

The state of frame ``t`` is ``x_t = (root position (3), root rotation increment δ (3),
joint angles (J))``; the rotation increment is a world-frame rotation applied on the left
of the root orientation. For a point ``p`` on a body moved by hinge ``j`` (world axis
``a_j`` through anchor ``c_j``), ``∂p/∂q_j = a_j × (p − c_j)``; ``∂p/∂δ = −[p − r]×`` with
``r`` the root position; ``∂p/∂r = I``. Dimension names: ``T`` frames, ``B`` bodies,
``P`` points, ``J`` joints, ``V = 6 + J``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import mujoco
import numpy as np
import torch
from numpy.typing import NDArray

from humimic.geometry import quat_np
from humimic.robot.kinematics import RobotKinematics

F64 = NDArray[np.float64]
T_co = TypeVar("T_co")
State = tuple[F64, F64, F64]
"""Root positions ``(T, 3)``, root orientations ``(T, 4)`` wxyz, joint angles ``(T, J)``."""


@dataclass
class Pose:
    """Forward kinematics of one state.

    Attributes:
        body_pos_w: ``(T, B, 3)`` body origins, m.
        body_rot_w: ``(T, B, 3, 3)`` body orientations (columns are body axes in world).
        axis_w: ``(T, J, 3)`` joint axes in world.
        anchor_w: ``(T, J, 3)`` joint anchors in world, m.
        root_pos_w: ``(T, 3)`` root positions, m.
        cache: Results derived from this pose (point positions, near capsule pairs), kept
            read-only so that scoring a state and then linearising it computes them once.
    """

    body_pos_w: F64
    body_rot_w: F64
    axis_w: F64
    anchor_w: F64
    root_pos_w: F64
    cache: dict[tuple, object] = field(default_factory=dict, repr=False)

    def memo(self, key: tuple, compute: Callable[[], T_co]) -> T_co:
        """``compute()`` once per pose and ``key``; arrays in the result are made read-only."""
        if key not in self.cache:
            value = compute()
            for item in value if isinstance(value, tuple) else (value,):
                if isinstance(item, np.ndarray):
                    item.flags.writeable = False
            self.cache[key] = value
        return self.cache[key]  # type: ignore[return-value]


class BodyJacobians:
    """Forward kinematics plus point Jacobians of one robot model, joints chosen by name."""

    def __init__(self, model: mujoco.MjModel, joint_names: list[str]) -> None:
        self.kin = RobotKinematics(model, joint_names, dtype=torch.float64)
        ids = [mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, n) for n in joint_names]
        self.joint_body = np.array([model.jnt_bodyid[j] - 1 for j in ids])  # kinematics index
        self.joint_axis_b = np.array([model.jnt_axis[j] for j in ids], dtype=np.float64)
        self.joint_anchor_b = np.array([model.jnt_pos[j] for j in ids], dtype=np.float64)
        moves = np.zeros((model.nbody - 1, len(ids)), dtype=bool)
        for b in range(1, model.nbody):
            ancestor = b
            while ancestor > 0:
                moves[b - 1] |= self.joint_body == ancestor - 1
                ancestor = model.body_parentid[ancestor]
        self.moves = moves  # (B, J): joint j moves body b
        self.dim = 6 + len(ids)
        self._groups: dict[bytes, list[PointGroup]] = {}

    def pose(self, state: State) -> Pose:
        """Run forward kinematics for every frame of ``state``."""
        root_pos, root_quat, joint_pos = (torch.from_numpy(np.ascontiguousarray(a)) for a in state)
        with torch.no_grad():
            body_pos, body_quat = self.kin.forward(root_pos, root_quat, joint_pos)
        body_pos_w = body_pos.numpy()
        body_rot_w = quat_np.to_matrix(body_quat.numpy())
        rot = body_rot_w[:, self.joint_body]
        axis_w = np.einsum("tjab,jb->tja", rot, self.joint_axis_b)
        anchor_w = body_pos_w[:, self.joint_body] + np.einsum(
            "tjab,jb->tja", rot, self.joint_anchor_b
        )
        return Pose(body_pos_w, body_rot_w, axis_w, anchor_w, state[0])

    def points_w(self, pose: Pose, body: NDArray[np.int64], offset_b: F64) -> F64:
        """World positions ``(T, P, 3)`` of points at ``offset_b (P, 3)`` on bodies ``(P,)``.

        Computed once per pose and point set; the result is read-only.
        """
        body, offset_b = np.asarray(body, np.int64), np.asarray(offset_b, np.float64)
        return pose.memo(
            ("points_w", body.tobytes(), offset_b.tobytes()),
            lambda: (
                pose.body_pos_w[:, body]
                + np.einsum("tpab,pb->tpa", pose.body_rot_w[:, body], offset_b)
            ),
        )

    def jacobian(self, pose: Pose, body: NDArray[np.int64], points_w: F64) -> F64:
        """Jacobians ``(T, P, 3, V)`` of world points ``(T, P, 3)`` rigidly on bodies ``(P,)``."""
        jac = np.zeros((*points_w.shape, self.dim))
        jac[..., :3] = np.eye(3)
        jac[..., 3:6] = -skew(points_w - pose.root_pos_w[:, None, :])
        arm = points_w[:, :, None, :] - pose.anchor_w[:, None, :, :]  # (T, P, J, 3)
        cols = cross(pose.axis_w[:, None, :, :], arm) * self.moves[body][None, :, :, None]
        jac[..., 6:] = np.moveaxis(cols, 2, 3)
        return jac

    def groups(self, body: NDArray[np.int64]) -> list[PointGroup]:
        """Points on bodies ``(P,)`` grouped by kinematic branch (cached per ``body``).

        Each group's columns are the root's six plus the range of joints that move any of
        its points, so a branch's Jacobian and normal-equation blocks are a fraction of the
        full ``V`` and map onto slices of it.
        """
        key = np.asarray(body, np.int64).tobytes()
        if key not in self._groups:
            sets = self.moves[body]  # (P, J)
            masks: list[NDArray[np.bool_]] = []
            members: list[list[int]] = []
            for p in np.argsort(-sets.sum(axis=1), kind="stable"):
                home = next((g for g, m in enumerate(masks) if not np.any(sets[p] & ~m)), None)
                if home is None:
                    masks.append(sets[p].copy())
                    members.append([])
                    home = len(masks) - 1
                members[home].append(int(p))
            self._groups[key] = [
                _group(sets, mask, m) for mask, m in zip(masks, members, strict=True)
            ]
        return self._groups[key]

    def group_jacobian(self, pose: Pose, group: PointGroup, points_w: F64) -> F64:
        """Jacobians ``(T, p, 3, 6 + n)`` of a group's world points ``(T, p, 3)``.

        Columns: root translation, root rotation, then the group's ``n`` joints (state
        columns :attr:`PointGroup.span`); the twin of :meth:`jacobian` without the columns
        that are zero for every point of the group.
        """
        num_frames, count = points_w.shape[:2]
        jac = np.empty((num_frames, count, 3, 6 + len(group.joints)))
        jac[..., :3] = np.eye(3)
        rel = points_w - pose.root_pos_w[:, None, :]  # ∂p/∂δ = −[p − r]× = [r − p]×
        x, y, z = rel[..., 0], rel[..., 1], rel[..., 2]
        jac[..., 0, 3], jac[..., 0, 4], jac[..., 0, 5] = 0.0, z, -y
        jac[..., 1, 3], jac[..., 1, 4], jac[..., 1, 5] = -z, 0.0, x
        jac[..., 2, 3], jac[..., 2, 4], jac[..., 2, 5] = y, -x, 0.0
        # ∂p/∂q_j = a_j × (p − c_j), zero where joint j does not move the point's body.
        axis = pose.axis_w[:, None, group.joints, :]  # (T, 1, n, 3)
        arm = points_w[:, :, None, :] - pose.anchor_w[:, None, group.joints, :]  # (T, p, n, 3)
        mask = group.moves[None]
        a0, a1, a2 = axis[..., 0], axis[..., 1], axis[..., 2]
        b0, b1, b2 = arm[..., 0], arm[..., 1], arm[..., 2]
        np.multiply(a1 * b2 - a2 * b1, mask, out=jac[..., 0, 6:])
        np.multiply(a2 * b0 - a0 * b2, mask, out=jac[..., 1, 6:])
        np.multiply(a0 * b1 - a1 * b0, mask, out=jac[..., 2, 6:])
        return jac


@dataclass
class PointGroup:
    """Points of one kinematic branch and the state columns that move them.

    Attributes:
        points: ``(p,)`` indices into the point set.
        joints: ``(n,)`` a contiguous range of joints (solver order) holding every joint
            that moves one of the points.
        moves: ``(p, n)`` whether each joint moves each point.
    """

    points: NDArray[np.int64]
    joints: NDArray[np.int64]
    moves: NDArray[np.bool_]

    @property
    def span(self) -> tuple[int, int]:
        """State columns ``[start, stop)`` of the joints (the root's are ``[0, 6)``)."""
        if self.joints.size == 0:
            return 6, 6
        return 6 + int(self.joints[0]), 7 + int(self.joints[-1])


def _group(sets: NDArray[np.bool_], mask: NDArray[np.bool_], members: list[int]) -> PointGroup:
    """A :class:`PointGroup` of ``members`` whose joints are ``mask`` (filled to a range)."""
    points = np.sort(np.array(members))
    used = np.flatnonzero(mask)
    joints = np.arange(used[0], used[-1] + 1) if used.size else np.zeros(0, np.int64)
    return PointGroup(points, joints, sets[points][:, joints])


def cross(a: F64, b: F64) -> F64:
    """Broadcasting cross product ``a × b`` over ``(..., 3)`` arrays (faster than np.cross)."""
    a0, a1, a2 = a[..., 0], a[..., 1], a[..., 2]
    b0, b1, b2 = b[..., 0], b[..., 1], b[..., 2]
    return np.stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], axis=-1)


def skew(v: F64) -> F64:
    """Cross-product matrices ``(..., 3, 3)`` with ``skew(v) @ u = v × u``."""
    x, y, z = np.moveaxis(v, -1, 0)
    zero = np.zeros_like(x)
    return np.stack(
        [np.stack([zero, -z, y], -1), np.stack([z, zero, -x], -1), np.stack([-y, x, zero], -1)],
        axis=-2,
    )


def jacobian_at(
    bj: BodyJacobians, pose: Pose, frame: NDArray[np.int64], body: NDArray[np.int64], points_w: F64
) -> F64:
    """Jacobians ``(M, 3, V)`` of ``M`` world points, each on its own frame and body.

    The sparse twin of :meth:`BodyJacobians.jacobian`, for the few (frame, point) pairs that
    are active, e.g. near-colliding capsules.
    """
    jac = np.zeros((len(frame), 3, bj.dim))
    jac[:, :, :3] = np.eye(3)
    jac[:, :, 3:6] = -skew(points_w - pose.root_pos_w[frame])
    arm = points_w[:, None, :] - pose.anchor_w[frame]  # (M, J, 3)
    cols = cross(pose.axis_w[frame], arm) * bj.moves[body][:, :, None]
    jac[:, :, 6:] = np.moveaxis(cols, 1, 2)
    return jac
