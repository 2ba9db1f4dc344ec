"""The fading training assist: the env side of :mod:`humimic.robot.assist`.

Each control step the servos are aimed at the reference root pose one control step ahead
(the pose the step should end in) with their gains scaled by a factor ``s``. ``s`` starts
at ``initial_scale``; each batch of ended episodes with a success rate of at least
``success_threshold`` multiplies it by ``(1 - fade_rate)`` per episode, a batch below
multiplies it by ``(1 + fade_rate)`` per episode (at most 1). Once ``s`` drops below
``off_below`` it is 0 for the rest of training: the policy then meets the real task, the
one it is evaluated and deployed on.
"""

from __future__ import annotations

import torch
from torch import Tensor

from humimic.config.train import AssistCfg
from humimic.geometry import quat_torch


def assist_target(root_pos_w: Tensor, root_quat_w: Tensor) -> Tensor:
    """Servo targets (N, 6): root position in world (m) and rotation vector (rad).

    Args:
        root_pos_w: Shape (N, 3), m.
        root_quat_w: Shape (N, 4), wxyz, root to world.
    """
    return torch.cat((root_pos_w, quat_torch.to_rotvec(root_quat_w)), dim=-1)


class Assist:
    """The fade factor ``s`` of the assist (a host float: it sets model gains)."""

    def __init__(self, cfg: AssistCfg) -> None:
        """Start at ``initial_scale`` (0 when the assist is disabled)."""
        self.cfg = cfg
        self.scale = float(cfg.initial_scale) if cfg.enabled else 0.0

    @property
    def enabled(self) -> bool:
        """Whether the scene has the servos (the factor may already have reached 0)."""
        return self.cfg.enabled

    def update(self, successes: int, episodes: int) -> None:
        """Fold in a batch of ``episodes`` ended episodes, ``successes`` of them successful."""
        c = self.cfg
        if episodes == 0 or self.scale == 0.0:
            return
        if successes >= c.success_threshold * episodes:
            self.scale *= (1.0 - c.fade_rate) ** episodes
        else:
            self.scale = min(1.0, self.scale * (1.0 + c.fade_rate) ** episodes)
        if self.scale < c.off_below:
            self.scale = 0.0

    def log(self) -> dict[str, float]:
        """The factor for the training log."""
        return {"/Assist/scale": self.scale} if self.enabled else {}

    def state_dict(self) -> dict[str, float]:
        """What a checkpoint carries."""
        return {"scale": self.scale}

    def load_state_dict(self, state: dict[str, float]) -> None:
        """Restore :meth:`state_dict`."""
        self.scale = float(state["scale"])
