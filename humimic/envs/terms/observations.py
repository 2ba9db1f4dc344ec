"""Observation terms: ``fn(d: StepData, **params) -> (N, D)`` float tensors.

Body-relative terms use the robot's heading frame (yaw of the root only), as PBHC does.
"""

from __future__ import annotations

import torch
from torch import Tensor

from humimic.envs.motion_library import RefState
from humimic.envs.registry import register
from humimic.envs.step_data import StepData
from humimic.geometry import quat_torch
from humimic.robot.torso import waist_columns


@register("observation")
def actions(d: StepData) -> Tensor:
    """Last policy output, (N, J)."""
    return d.actions


@register("observation")
def root_ang_vel_b(d: StepData) -> Tensor:
    """Root angular velocity in the root frame, (N, 3), rad/s."""
    return d.robot.root_ang_vel_b


@register("observation")
def root_lin_vel_b(d: StepData) -> Tensor:
    """Root linear velocity in the root frame, (N, 3), m/s (privileged)."""
    return quat_torch.rotate_inverse(d.robot.root_quat_w, d.robot.root_lin_vel_w)


@register("observation")
def joint_pos_rel(d: StepData) -> Tensor:
    """Joint positions minus the default pose, (N, J), rad."""
    return d.robot.joint_pos - d.default_joint_pos


@register("observation")
def joint_vel(d: StepData) -> Tensor:
    """Joint velocities, (N, J), rad/s."""
    return d.robot.joint_vel


@register("observation")
def projected_gravity(d: StepData) -> Tensor:
    """Unit gravity direction in the root frame, (N, 3)."""
    return quat_torch.projected_gravity_b(d.robot.root_quat_w)


@register("observation")
def ref_motion_phase(d: StepData) -> Tensor:
    """Clip phase t / T in [0, 1], (N, 1)."""
    return d.ref.phase.unsqueeze(1)


def _heading_inv(d: StepData, count: int) -> Tensor:
    """Inverse-heading quaternion repeated per body, (N, count, 4)."""
    yaw = quat_torch.yaw_quat(d.robot.root_quat_w)
    return quat_torch.conjugate(yaw).unsqueeze(1).expand(-1, count, -1)


@register("observation")
def dif_local_body_pos(d: StepData) -> Tensor:
    """Reference minus robot body positions in the heading frame, (N, B·3), m."""
    diff = d.ref.body_pos_w - d.robot.body_pos_w
    return quat_torch.rotate(_heading_inv(d, diff.shape[1]), diff).flatten(1)


@register("observation")
def local_ref_body_pos(d: StepData) -> Tensor:
    """Reference body positions relative to the robot root, heading frame, (N, B·3), m."""
    rel = d.ref.body_pos_w - d.robot.root_pos_w.unsqueeze(1)
    return quat_torch.rotate(_heading_inv(d, rel.shape[1]), rel).flatten(1)


@register("observation")
def dr_params(d: StepData) -> Tensor:
    """Randomised physical parameters of each world (see the randomiser), (N, D)."""
    if d.dr_params is None:
        raise RuntimeError("dr_params observation needs the env's randomiser")
    return d.dr_params


@register("observation")
def ref_future(d: StepData, steps: int = 5) -> Tensor:
    """Upcoming reference frames (reference-conditioned policy), (N, steps·(J+6)).

    Per future control step k = 1..steps: reference joint angles (rad), the reference root
    position relative to the robot root in the heading frame (m) and the reference
    projected gravity.
    """
    assert d.motion is not None and d.clip_ids is not None and d.times_s is not None
    parts = []
    yaw_inv = quat_torch.conjugate(quat_torch.yaw_quat(d.robot.root_quat_w))
    for k in range(1, steps + 1):
        ref = d.motion.state(d.clip_ids, d.times_s + k * d.control_dt)
        rel = quat_torch.rotate(yaw_inv, ref.root_pos_w - d.robot.root_pos_w)
        grav = quat_torch.projected_gravity_b(ref.root_quat_w)
        parts += [ref.joint_pos, rel, grav]
    return torch.cat(parts, dim=1)


def _ref_ahead(d: StepData, ahead_steps: int) -> RefState:
    """The reference ``ahead_steps`` control periods after the current clip time."""
    assert d.motion is not None and d.clip_ids is not None and d.times_s is not None
    return d.motion.state(d.clip_ids, d.times_s + ahead_steps * d.control_dt)


@register("observation")
def ref_joint_pos(d: StepData, ahead_steps: int = 1) -> Tensor:
    """Reference joint angles minus the default pose, ``ahead_steps`` ahead, (N, J), rad.

    One step ahead is the pose the next action drives towards (the residual action base);
    the clip travels with the controller, so deploy builds this from the clip clock alone.
    """
    return _ref_ahead(d, ahead_steps).joint_pos - d.default_joint_pos


@register("observation")
def ref_joint_vel(d: StepData, ahead_steps: int = 1) -> Tensor:
    """Reference joint velocities ``ahead_steps`` ahead, (N, J), rad/s."""
    return _ref_ahead(d, ahead_steps).joint_vel


@register("observation")
def ref_projected_gravity(d: StepData, ahead_steps: int = 1) -> Tensor:
    """Gravity direction in the reference root frame ``ahead_steps`` ahead, (N, 3).

    Heading-free, so the robot compares it with its own projected gravity (IMU) without a
    world position or yaw estimate.
    """
    return quat_torch.projected_gravity_b(_ref_ahead(d, ahead_steps).root_quat_w)


@register("observation")
def ref_heading_error(d: StepData, ahead_steps: int = 1) -> Tensor:
    """Reference root yaw minus the robot's, ``ahead_steps`` ahead, as (sin, cos), (N, 2).

    The one orientation error the gravity terms leave out: without it the robot cannot see
    that it walks off the clip's course. Deploy reads the yaw from the IMU quaternion,
    aligned to the clip at the episode's first step (training starts on the reference).
    """
    diff = quat_torch.yaw(_ref_ahead(d, ahead_steps).root_quat_w) - quat_torch.yaw(
        d.robot.root_quat_w
    )
    return torch.stack((torch.sin(diff), torch.cos(diff)), dim=1)


def torso_yaw(root_quat_w: Tensor, joint_pos: Tensor, joint_names: tuple[str, ...]) -> Tensor:
    """Yaw of the torso, (N,) rad, from the root orientation (N, 4) and the joint angles
    (N, J) rad: the root turned through the waist chain (:mod:`humimic.robot.torso`)."""
    q = root_quat_w
    for col, axis in waist_columns(joint_names):
        axes = torch.tensor(axis, dtype=q.dtype, device=q.device).expand(q.shape[0], 3)
        q = quat_torch.multiply(q, quat_torch.from_axis_angle(axes, joint_pos[:, col]))
    return quat_torch.yaw(q)


@register("observation")
def ref_torso_heading_error(d: StepData, ahead_steps: int = 1) -> Tensor:
    """Reference torso yaw minus the robot's, ``ahead_steps`` ahead, as (sin, cos), (N, 2).

    As :func:`ref_heading_error` on the torso (BeyondMimic's anchor): the pelvis swings
    with the gait (±26° about the course on CMU 02_01) while the torso holds the course
    (±9°), so this error carries drift rather than gait. Deploy computes it with the same
    formula from the IMU quaternion and the waist encoders.
    """
    ref = _ref_ahead(d, ahead_steps)
    names = d.joint_names
    diff = torso_yaw(ref.root_quat_w, ref.joint_pos, names) - torso_yaw(
        d.robot.root_quat_w, d.robot.joint_pos, names
    )
    return torch.stack((torch.sin(diff), torch.cos(diff)), dim=1)


@register("observation")
def ref_root_lin_vel_b(d: StepData, ahead_steps: int = 1) -> Tensor:
    """Reference root linear velocity in the reference root frame, ``ahead_steps`` ahead,
    (N, 3), m/s: the speed and direction the clip asks for, from the clip alone."""
    ref = _ref_ahead(d, ahead_steps)
    return quat_torch.rotate_inverse(ref.root_quat_w, ref.root_lin_vel_w)
