"""Reward terms: ``fn(d: StepData, **params) -> (N,)``.

Terms named ``*_error`` return a tracking error x (units in each docstring); the reward
manager turns it into ``exp(-x/σ)`` with the term's adaptive σ (PBHC). Body errors are in
the world frame, against the reference at the same time as the robot state. The others
return the reward (or the penalty magnitude; the weight carries the sign).
"""

from __future__ import annotations

import torch
from torch import Tensor

from humimic.envs.registry import register
from humimic.envs.step_data import StepData
from humimic.geometry import quat_torch

CONTACT_N = 1.0
"""A foot is in contact above this force, N (PBHC)."""


def _rows(d: StepData, bodies: str) -> Tensor:
    if bodies == "all":
        return torch.arange(d.robot.body_pos_w.shape[1], device=d.actions.device)
    return d.groups[bodies]


def _body_error(d: StepData, field: str, bodies: str) -> Tensor:
    """Mean over bodies and components of the squared reference-minus-robot ``field``."""
    rows = _rows(d, bodies)
    diff = getattr(d.ref, field)[:, rows] - getattr(d.robot, field)[:, rows]
    return diff.square().mean(dim=(1, 2))


def anchored_ref_body_pos(d: StepData) -> Tensor:
    """Reference body positions re-based onto the robot's root xy and heading, (N, B, 3), m.

    BeyondMimic's formulation: the reference keeps its own heights and its shape around the
    root, but its root is moved to the robot's root xy and turned by the heading difference,
    so a body error measures the pose, not the drift (the root is body 0).
    """
    ref_root, robot_root = d.ref.body_pos_w[:, :1], d.robot.body_pos_w[:, :1]
    turn = quat_torch.yaw_quat(
        quat_torch.multiply(d.robot.root_quat_w, quat_torch.conjugate(d.ref.root_quat_w))
    )
    rel = quat_torch.rotate(turn.unsqueeze(1).expand(-1, d.ref.body_pos_w.shape[1], -1),
                            d.ref.body_pos_w - ref_root)  # fmt: skip
    anchor = torch.cat((robot_root[..., :2], ref_root[..., 2:]), dim=-1)
    return anchor + rel


@register("reward")
def body_pos_error(d: StepData, bodies: str = "all", frame: str = "world") -> Tensor:
    """Mean over bodies and xyz of squared position error, m².

    ``frame="world"`` (PBHC) compares world positions; ``"anchor"`` compares with the
    reference re-based onto the robot's root xy and heading (:func:`anchored_ref_body_pos`).
    """
    if frame == "world":
        return _body_error(d, "body_pos_w", bodies)
    if frame != "anchor":
        raise ValueError(f"frame must be 'world' or 'anchor', got {frame!r}")
    rows = _rows(d, bodies)
    diff = anchored_ref_body_pos(d)[:, rows] - d.robot.body_pos_w[:, rows]
    return diff.square().mean(dim=(1, 2))


@register("reward")
def body_rot_error(d: StepData, bodies: str = "all") -> Tensor:
    """Mean of component-wise squared quaternion difference (q_ref − q)² (PBHC, not geodesic)."""
    return _body_error(d, "body_quat_w", bodies)


@register("reward")
def body_lin_vel_error(d: StepData, bodies: str = "all") -> Tensor:
    """Mean over bodies and xyz of squared linear-velocity error, (m/s)²."""
    return _body_error(d, "body_lin_vel_w", bodies)


@register("reward")
def body_ang_vel_error(d: StepData, bodies: str = "all") -> Tensor:
    """Mean over bodies and xyz of squared angular-velocity error, (rad/s)²."""
    return _body_error(d, "body_ang_vel_w", bodies)


@register("reward")
def joint_pos_error(d: StepData) -> Tensor:
    """Mean squared joint-angle error, rad²."""
    return (d.ref.joint_pos - d.robot.joint_pos).square().mean(dim=1)


@register("reward")
def joint_vel_error(d: StepData) -> Tensor:
    """Mean squared joint-velocity error, (rad/s)²."""
    return (d.ref.joint_vel - d.robot.joint_vel).square().mean(dim=1)


@register("reward")
def max_joint_pos_error(d: StepData) -> Tensor:
    """Largest absolute joint-angle error, rad."""
    return (d.ref.joint_pos - d.robot.joint_pos).abs().amax(dim=1)


@register("reward")
def contact_mask(d: StepData) -> Tensor:
    """1 − mean over feet of |c_sim − c_ref|; c_sim = contact now or last step."""
    c_sim = (d.feet.contact | d.feet.last_contact).float()
    return 1.0 - (c_sim - d.ref.contact).abs().mean(dim=1)


@register("reward")
def feet_air_time(d: StepData, threshold_s: float = 0.3) -> Tensor:
    """Σ_feet (t_air − threshold) at touch-down, s."""
    return ((d.feet.air_time - threshold_s) * d.feet.first_contact.float()).sum(dim=1)


@register("reward")
def torques(d: StepData) -> Tensor:
    """Σ τ², (N·m)²."""
    return d.robot.applied_torque.square().sum(dim=1)


@register("reward")
def action_rate(d: StepData) -> Tensor:
    """Σ (a_t − a_{t−1})²."""
    return (d.actions - d.prev_actions).square().sum(dim=1)


@register("reward")
def feet_contact_forces(d: StepData, max_force_n: float = 400.0) -> Tensor:
    """Σ_feet max(‖F‖ − max_force, 0), N."""
    norm = torch.linalg.vector_norm(d.robot.foot_contact_force_w, dim=-1)
    return (norm - max_force_n).clamp_min(0.0).sum(dim=1)


@register("reward")
def stumble(d: StepData, ratio: float = 5.0) -> Tensor:
    """1 where any foot has ‖F_xy‖ > ratio·|F_z| (a horizontal hit), else 0."""
    f = d.robot.foot_contact_force_w
    horizontal = torch.linalg.vector_norm(f[..., :2], dim=-1)
    return (horizontal > ratio * f[..., 2].abs()).any(dim=1).float()


@register("reward")
def slippage(d: StepData) -> Tensor:
    """Σ_feet ‖v_foot‖ while in contact (‖F‖ > 1 N), m/s."""
    vel = d.robot.body_lin_vel_w[:, d.groups["feet"]]
    in_contact = torch.linalg.vector_norm(d.robot.foot_contact_force_w, dim=-1) > CONTACT_N
    return (torch.linalg.vector_norm(vel, dim=-1) * in_contact.float()).sum(dim=1)


@register("reward")
def joint_pos_limits(d: StepData, soft: float = 0.95) -> Tensor:
    """Σ violation of the soft limits (centre ± soft·half range), rad."""
    centre = d.joint_pos_limits.mean(dim=1)
    half = 0.5 * (d.joint_pos_limits[:, 1] - d.joint_pos_limits[:, 0]) * soft
    q = d.robot.joint_pos
    below = (centre - half - q).clamp_min(0.0)
    above = (q - centre - half).clamp_min(0.0)
    return (below + above).sum(dim=1)


@register("reward")
def joint_vel_limits(d: StepData, soft: float = 0.95) -> Tensor:
    """Σ clip(|q̇| − soft·q̇_max, 0, 1), rad/s."""
    excess = d.robot.joint_vel.abs() - soft * d.joint_vel_limits
    return excess.clamp(0.0, 1.0).sum(dim=1)


@register("reward")
def torque_limits(d: StepData, soft: float = 0.85) -> Tensor:
    """Σ clip(|τ| − soft·τ_max, 0, 1), N·m."""
    excess = d.robot.applied_torque.abs() - soft * d.effort_limits
    return excess.clamp(0.0, 1.0).sum(dim=1)


@register("reward")
def collision(d: StepData, threshold_n: float = 0.1) -> Tensor:
    """Number of collision-checked bodies with ‖F‖ > threshold (0 if forces unavailable)."""
    if d.collision_force is None:
        return torch.zeros(d.actions.shape[0], device=d.actions.device)
    norm = torch.linalg.vector_norm(d.collision_force, dim=-1)
    return (norm > threshold_n).float().sum(dim=1)


@register("reward")
def termination(d: StepData) -> Tensor:
    """1 where the episode ended by a failure (not a time-out)."""
    assert d.terminated is not None
    return d.terminated.float()
