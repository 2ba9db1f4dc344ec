"""What the term functions read: one typed record, refreshed by the env every step.

Term functions are pure ``fn(d: StepData, **params) -> Tensor``; tests build a
:class:`StepData` by hand. Bodies are the env's tracked bodies (robot and reference in the
same order, index 0 the root); ``groups`` maps a body-group name to row indices.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

from humimic.envs.motion_library import MotionLibrary, RefState
from humimic.sim.backend import SimState


@dataclass
class ContactState:
    """Foot contact bookkeeping (left, right). Shapes (N, 2)."""

    contact: Tensor
    """Bool, ‖F‖ > 1 N this step."""
    last_contact: Tensor
    """Bool, contact of the previous step."""
    first_contact: Tensor
    """Bool, touched down this step after being in the air."""
    air_time: Tensor
    """Seconds in the air before this step's touch-down (valid where first_contact)."""

    @classmethod
    def zeros(cls, n: int, device: torch.device) -> ContactState:
        """All feet on the ground, no air time."""
        b = torch.zeros(n, 2, dtype=torch.bool, device=device)
        return cls(b.clone(), b.clone(), b.clone(), torch.zeros(n, 2, device=device))


@dataclass
class StepData:
    """Per-step inputs of observation, reward and termination terms."""

    robot: SimState
    ref: RefState
    actions: Tensor
    """(N, J) policy output of this step (before scaling)."""
    prev_actions: Tensor
    """(N, J) policy output of the previous step."""
    default_joint_pos: Tensor
    """(J,) rad."""
    joint_pos_limits: Tensor
    """(J, 2) hard limits, rad."""
    joint_vel_limits: Tensor
    """(J,) rad/s."""
    effort_limits: Tensor
    """(J,) N·m."""
    groups: dict[str, Tensor]
    """Body-group name -> (K,) long row indices into the body axis."""
    feet: ContactState
    control_dt: float
    collision_force: Tensor | None = None
    """(N, C, 3) contact force on each collision-checked body, N; None if unavailable."""
    dr_params: Tensor | None = None
    """(N, D) randomised physical parameters (privileged)."""
    terminated: Tensor | None = None
    """(N,) bool, ended by a failure (not a time-out) this step."""
    time_out: Tensor | None = None
    """(N,) bool, reached the clip end this step."""
    far_distance_m: float | Tensor = 1.5
    """Motion-far termination distance, m (the curriculum's 0-dim tensor during training)."""
    motion: MotionLibrary | None = None
    clip_ids: Tensor | None = None
    times_s: Tensor | None = None
    joint_names: tuple[str, ...] = ()
    """Joint names in the order of the J axis (terms that name a joint look it up here)."""
    extras: dict[str, Tensor] = field(default_factory=dict)
