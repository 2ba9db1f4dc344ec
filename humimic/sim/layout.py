"""Where the robot's named joints, bodies and feet live in MuJoCo's arrays, and the one
place that turns raw MuJoCo arrays into a :class:`~humimic.sim.backend.SimState`.

Both backends produce the same raw arrays (``qpos``, ``qvel``, ``xpos``, ``xquat``,
``cvel``, ``subtree_com``, ``cfrc_ext``, ``actuator_force``, one leading world axis), so
the frame conversions are written once, here, in torch.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np
import torch
from torch import Tensor

from humimic.errors import ConfigError
from humimic.geometry import quat_torch
from humimic.robot.assist import assist_actuator_ids
from humimic.sim.backend import SimState

DIVERGED_ABS = 1e6
"""A ``qpos``/``qvel`` entry beyond this magnitude (m, rad, m/s, rad/s) counts as diverged."""


@dataclass(frozen=True)
class ModelLayout:
    """Indices of the robot's named parts in a compiled MuJoCo model.

    Attributes:
        joint_names: Actuated joints, robot spec order (J).
        body_names: Bodies reported in the state (B).
        root_body: Body id of the free joint's body.
        root_qpos: qpos address of the free joint (7 entries: pos, quat wxyz).
        root_dof: qvel address of the free joint (6 entries: lin world, ang body).
        joint_qpos: Shape (J,), qpos address of each actuated joint.
        joint_dof: Shape (J,), qvel address of each actuated joint.
        actuator: Shape (J,), actuator id driving each actuated joint.
        bodies: Shape (B,), body ids of ``body_names``.
        body_roots: Shape (B,), id of the tree root body of each body (``cvel`` reference).
        foot_bodies: Shape (2, K), bodies owning the left/right foot geoms (K per side,
            padded by repeating with a zero weight in ``foot_weights``).
        foot_weights: Shape (2, K), 1 for a real entry, 0 for padding.
        assist: Shape (6,), actuator ids of the training assist servos
            (:data:`humimic.robot.assist.ASSIST_ACTUATORS` order), or (0,) without them.
    """

    joint_names: tuple[str, ...]
    body_names: tuple[str, ...]
    root_body: int
    root_qpos: int
    root_dof: int
    joint_qpos: np.ndarray
    joint_dof: np.ndarray
    actuator: np.ndarray
    bodies: np.ndarray
    body_roots: np.ndarray
    foot_bodies: np.ndarray
    foot_weights: np.ndarray
    assist: np.ndarray

    @classmethod
    def from_model(
        cls,
        model: mujoco.MjModel,
        joint_names: list[str],
        body_names: list[str],
        foot_geoms: dict[str, list[str]],
    ) -> ModelLayout:
        """Resolve names against ``model``.

        Raises:
            ConfigError: A name is missing, there is not exactly one free joint, a joint
                has no joint-transmission actuator, or a foot body has colliding geoms
                that are not listed as foot geoms.
        """
        free = np.flatnonzero(model.jnt_type == mujoco.mjtJoint.mjJNT_FREE)
        if free.size != 1:
            raise ConfigError(f"sim: model must have exactly one free joint, has {free.size}")
        joints = np.array([_id(model, mujoco.mjtObj.mjOBJ_JOINT, n) for n in joint_names])
        bodies = np.array([_id(model, mujoco.mjtObj.mjOBJ_BODY, n) for n in body_names], int)
        feet, weights = _foot_bodies(model, foot_geoms)
        return cls(
            joint_names=tuple(joint_names),
            body_names=tuple(body_names),
            root_body=int(model.jnt_bodyid[free[0]]),
            root_qpos=int(model.jnt_qposadr[free[0]]),
            root_dof=int(model.jnt_dofadr[free[0]]),
            joint_qpos=model.jnt_qposadr[joints].astype(np.int64),
            joint_dof=model.jnt_dofadr[joints].astype(np.int64),
            actuator=_actuators(model, joints, joint_names),
            bodies=bodies.reshape(-1).astype(np.int64),
            body_roots=model.body_rootid[bodies].reshape(-1).astype(np.int64),
            foot_bodies=feet,
            foot_weights=weights,
            assist=_assist_actuators(model),
        )


def _assist_actuators(model: mujoco.MjModel) -> np.ndarray:
    try:
        return assist_actuator_ids(model)
    except ValueError as err:
        raise ConfigError(f"sim: {err}") from None


def _id(model: mujoco.MjModel, kind: mujoco.mjtObj, name: str) -> int:
    index = mujoco.mj_name2id(model, kind, name)
    if index < 0:
        label = kind.name.removeprefix("mjOBJ_").lower()
        raise ConfigError(f"sim: model has no {label} named {name!r}")
    return index


def _actuators(model: mujoco.MjModel, joints: np.ndarray, names: list[str]) -> np.ndarray:
    """Actuator id per joint, matched by transmission target (not by position)."""
    by_joint = {
        int(model.actuator_trnid[a, 0]): a
        for a in range(model.nu)
        if model.actuator_trntype[a] == mujoco.mjtTrn.mjTRN_JOINT
    }
    missing = [n for n, j in zip(names, joints) if int(j) not in by_joint]
    if missing:
        raise ConfigError(f"sim: joints without a joint actuator in the model: {missing}")
    return np.array([by_joint[int(j)] for j in joints], dtype=np.int64)


def _foot_bodies(
    model: mujoco.MjModel, foot_geoms: dict[str, list[str]]
) -> tuple[np.ndarray, np.ndarray]:
    """Bodies carrying each foot's geoms; their net external force is the foot force.

    ``cfrc_ext`` sums contact forces per body, so it equals the contact force on the foot
    geoms only if no other geom of those bodies can collide; that is checked here.
    """
    per_side = []
    for side in ("left", "right"):
        if side not in foot_geoms or not foot_geoms[side]:
            raise ConfigError(f"sim: robot spec foot_geoms has no {side!r} geoms")
        geoms = {_id(model, mujoco.mjtObj.mjOBJ_GEOM, g) for g in foot_geoms[side]}
        owners = sorted({int(model.geom_bodyid[g]) for g in geoms})
        for g in range(model.ngeom):
            colliding = model.geom_contype[g] or model.geom_conaffinity[g]
            if model.geom_bodyid[g] in owners and colliding and g not in geoms:
                raise ConfigError(
                    f"sim: geom {model.geom(g).name or g} on a foot body collides but is "
                    f"not in foot_geoms.{side}"
                )
        per_side.append(owners)
    width = max(len(o) for o in per_side)
    bodies = np.array([o + [o[0]] * (width - len(o)) for o in per_side], dtype=np.int64)
    weights = np.array([[1.0] * len(o) + [0.0] * (width - len(o)) for o in per_side])
    return bodies, weights


@dataclass
class RawArrays:
    """Per-world MuJoCo arrays, any float dtype, one leading world axis (N).

    Shapes: qpos (N, nq), qvel (N, nv), xpos (N, nbody, 3), xquat (N, nbody, 4),
    cvel (N, nbody, 6), subtree_com (N, nbody, 3), cfrc_ext (N, nbody, 6),
    actuator_force (N, nu).
    """

    qpos: Tensor
    qvel: Tensor
    xpos: Tensor
    xquat: Tensor
    cvel: Tensor
    subtree_com: Tensor
    cfrc_ext: Tensor
    actuator_force: Tensor


class StateAssembler:
    """Fills a :class:`SimState` from :class:`RawArrays` with precomputed index tensors."""

    def __init__(self, layout: ModelLayout, device: torch.device) -> None:
        """Move the layout's index arrays to ``device``."""
        self.layout = layout

        def idx(a: np.ndarray) -> Tensor:
            return torch.as_tensor(a, dtype=torch.long, device=device)

        self._jq, self._jv, self._act = (
            idx(layout.joint_qpos),
            idx(layout.joint_dof),
            idx(layout.actuator),
        )
        self._bodies, self._roots = idx(layout.bodies), idx(layout.body_roots)
        self._feet = idx(layout.foot_bodies)
        self._foot_w = torch.as_tensor(layout.foot_weights, dtype=torch.float32, device=device)

    def fill(self, raw: RawArrays, out: SimState) -> Tensor:
        """Write the state of every world into ``out`` (float32, in place).

        Returns:
            Shape (N,) bool, worlds whose ``qpos``/``qvel`` are non-finite or beyond
            :data:`DIVERGED_ABS`.
        """
        lay = self.layout
        q, v = raw.qpos, raw.qvel
        out.root_pos_w.copy_(q[:, lay.root_qpos : lay.root_qpos + 3])
        quat = _canonical(q[:, lay.root_qpos + 3 : lay.root_qpos + 7])
        out.root_quat_w.copy_(quat)
        out.root_lin_vel_w.copy_(v[:, lay.root_dof : lay.root_dof + 3])
        ang_b = v[:, lay.root_dof + 3 : lay.root_dof + 6]
        out.root_ang_vel_b.copy_(ang_b)
        out.root_ang_vel_w.copy_(quat_torch.rotate(quat, ang_b))
        out.joint_pos.copy_(q.index_select(1, self._jq))
        out.joint_vel.copy_(v.index_select(1, self._jv))
        xpos = raw.xpos.index_select(1, self._bodies)
        out.body_pos_w.copy_(xpos)
        out.body_quat_w.copy_(_canonical(raw.xquat.index_select(1, self._bodies)))
        cvel = raw.cvel.index_select(1, self._bodies)
        # cvel is [angular; linear at the subtree com of the body's tree root].
        lever = xpos - raw.subtree_com.index_select(1, self._roots)
        out.body_ang_vel_w.copy_(cvel[..., :3])
        out.body_lin_vel_w.copy_(cvel[..., 3:] + torch.linalg.cross(cvel[..., :3], lever))
        # cfrc_ext is [torque; force]; the force part does not depend on the reference point.
        foot = raw.cfrc_ext.index_select(1, self._feet.flatten())[..., 3:].to(torch.float32)
        foot = foot.reshape(foot.shape[0], *self._feet.shape, 3) * self._foot_w[..., None]
        out.foot_contact_force_w.copy_(foot.sum(dim=2))
        out.applied_torque.copy_(raw.actuator_force.index_select(1, self._act))
        return diverged(q, v)


def diverged(qpos: Tensor, qvel: Tensor) -> Tensor:
    """Shape (N,) bool: any non-finite entry or one beyond :data:`DIVERGED_ABS`."""
    bad_q = ~(qpos.abs() <= DIVERGED_ABS).all(dim=1)  # NaN fails the comparison too
    bad_v = ~(qvel.abs() <= DIVERGED_ABS).all(dim=1)
    return bad_q | bad_v


def _canonical(quat: Tensor) -> Tensor:
    """Sign-flip quaternions so that ``w >= 0`` (the project convention)."""
    return torch.where(quat[..., :1] < 0, -quat, quat)
