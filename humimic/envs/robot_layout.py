"""Robot facts the env needs, resolved once by name: tracked bodies, groups, limits."""

from __future__ import annotations

from dataclasses import dataclass, replace

import mujoco
import numpy as np
import torch
from torch import Tensor

from humimic.errors import ConfigError
from humimic.robot.spec import RobotSpec

COLLISION_KEYWORDS = ("pelvis", "shoulder", "hip", "torso", "waist", "elbow")
"""Bodies whose contacts the collision penalty counts (PBHC), matched as substrings."""


@dataclass
class RobotLayout:
    """Tracked bodies (index 0 = root), body groups and joint limits.

    Attributes:
        body_names: Tracked bodies (B), the env's body axis, root first.
        virtual: (B,) bool, massless marker bodies (hand/head points).
        groups: Group name -> (K,) long rows into the body axis.
        joint_pos_limits: (J, 2) rad. joint_vel_limits, effort_limits: (J,).
        default_joint_pos: (J,) rad.
        collision_bodies: MuJoCo body ids (C,) checked by the collision penalty.
    """

    body_names: list[str]
    virtual: Tensor
    groups: dict[str, Tensor]
    joint_pos_limits: Tensor
    joint_vel_limits: Tensor
    effort_limits: Tensor
    default_joint_pos: Tensor
    collision_bodies: Tensor

    def to(self, device: str | torch.device) -> RobotLayout:
        """A copy with every tensor on ``device`` except ``virtual`` (evaluation reads it
        with numpy; the step path does not use it)."""

        def move(t: Tensor) -> Tensor:
            return t.to(device)

        return replace(
            self,
            groups={k: move(v) for k, v in self.groups.items()},
            joint_pos_limits=move(self.joint_pos_limits),
            joint_vel_limits=move(self.joint_vel_limits),
            effort_limits=move(self.effort_limits),
            default_joint_pos=move(self.default_joint_pos),
            collision_bodies=move(self.collision_bodies),
        )


def _groups(spec: RobotSpec, tracked: list[str]) -> dict[str, list[int]]:
    """Rows of the spec's body groups in the tracked list; ``vr_3point`` = hands + head,
    ``root`` = the root body (row 0)."""
    rows = {name: i for i, name in enumerate(tracked)}
    groups: dict[str, list[int]] = {}
    for group in ("upper_body", "lower_body", "feet", "head"):
        names = spec.body_groups.get(group, [])
        missing = [n for n in names if n not in rows]
        if missing:
            raise ConfigError(f"robot {spec.variant}: body_groups.{group} not tracked: {missing}")
        groups[group] = [rows[n] for n in names]
    hands = [rows[n] for n in tracked if n.endswith("hand_point")]
    hands = hands or [rows[n] for n in spec.body_groups.get("hands", []) if n in rows]
    groups["vr_3point"] = hands + groups["head"]
    groups["root"] = [0]
    return groups


def resolve_layout(spec: RobotSpec, model: mujoco.MjModel) -> RobotLayout:
    """Build the layout from the spec's body groups and the compiled model.

    Raises:
        ConfigError: The spec has no ``tracked`` group or a group names an untracked body.
    """
    tracked = list(spec.body_groups.get("tracked", []))
    if not tracked:
        raise ConfigError(f"robot {spec.variant}: body_groups.tracked is empty")
    free = int(np.flatnonzero(model.jnt_type == mujoco.mjtJoint.mjJNT_FREE)[0])
    root = model.body(int(model.jnt_bodyid[free])).name
    if tracked[0] != root:
        raise ConfigError(f"robot {spec.variant}: body_groups.tracked must start with {root}")
    groups = _groups(spec, tracked)
    ids = [mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, n) for n in tracked]
    virtual = torch.tensor([float(model.body_mass[i]) == 0.0 for i in ids])
    jids = [mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, n) for n in spec.joint_names]
    collision = [
        b
        for b in range(1, model.nbody)
        if any(k in model.body(b).name for k in COLLISION_KEYWORDS)
        and np.any((model.geom_bodyid == b) & ((model.geom_contype | model.geom_conaffinity) > 0))
    ]

    def f32(a: object) -> Tensor:
        return torch.as_tensor(np.asarray(a), dtype=torch.float32)

    return RobotLayout(
        body_names=tracked,
        virtual=virtual,
        groups={k: torch.tensor(v, dtype=torch.long) for k, v in groups.items()},
        joint_pos_limits=f32(model.jnt_range[jids]),
        joint_vel_limits=f32(spec.velocity_limit),
        effort_limits=f32(spec.effort_limit),
        default_joint_pos=f32(spec.default_joint_pos),
        collision_bodies=torch.tensor(collision, dtype=torch.long),
    )
