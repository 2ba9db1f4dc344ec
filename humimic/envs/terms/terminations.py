"""Termination terms: ``fn(d: StepData, **params) -> (N,)`` bool."""

from __future__ import annotations

import torch
from torch import Tensor

from humimic.envs.registry import register
from humimic.envs.step_data import StepData
from humimic.geometry import quat_torch


@register("termination")
def bad_orientation(d: StepData, limit: float = 0.75) -> Tensor:
    """‖projected gravity_xy‖ > limit (the robot tilts by more than asin(limit))."""
    g = quat_torch.projected_gravity_b(d.robot.root_quat_w)
    return torch.linalg.vector_norm(g[:, :2], dim=1) > limit


@register("termination")
def motion_far(d: StepData, distance_m: float = 0.0) -> Tensor:
    """Any tracked body farther than d from its reference; d = the curriculum's value if
    ``distance_m`` is 0."""
    limit = distance_m if distance_m > 0 else d.far_distance_m
    dist = torch.linalg.vector_norm(d.ref.body_pos_w - d.robot.body_pos_w, dim=-1)
    return (dist > limit).any(dim=1)


@register("termination")
def clip_end(d: StepData) -> Tensor:
    """The reference clip has ended (a time-out: bootstrapped, no penalty)."""
    assert d.motion is not None and d.clip_ids is not None and d.times_s is not None
    return d.times_s >= d.motion.duration_s[d.clip_ids] - 1e-6
