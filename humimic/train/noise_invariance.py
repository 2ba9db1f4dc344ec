"""A sensor-noise invariance loss for the actor, through rsl-rl's symmetry extension.

The loss is ``coef · mean((μ(o + δ) − μ(o))²)``: ``μ`` the actor's mean action, ``o`` an
observation of the mini-batch and ``δ ~ U(±w)`` a fresh draw of the env's own sensor noise
(``w`` per column, :meth:`~humimic.envs.managers.ObservationGroup.noise_half_widths`). It
asks the policy not to act on the noise, as L2C2 (Kobayashi 2022) does for neighbouring
states. rsl-rl's mirror loss computes exactly this when the "mirror" adds noise to the
observation and leaves the action alone, so it is used instead of a fork of the update.
Only training changes: the controller, its observations and its export are untouched.
"""

from __future__ import annotations

from typing import Any, cast

import torch
from tensordict import TensorDict
from torch import Tensor

ACTOR_GROUP = "actor"
"""The observation group the actor reads (``rsl_train_cfg``'s ``obs_groups``)."""


def renoised(
    env: Any, obs: TensorDict | None = None, actions: Tensor | None = None
) -> tuple[TensorDict | None, Tensor | None]:
    """rsl-rl's ``data_augmentation_func``: the batch, then the batch with noise drawn again.

    Args:
        env: The tracking env (its ``obs_groups[ACTOR_GROUP]`` gives the noise widths).
        obs: Mini-batch of observation groups, each (M, dim), or ``None``.
        actions: (M, A) actions, or ``None``.

    Returns:
        ``obs`` stacked over itself with fresh noise on the actor group (2M rows; other
        groups repeated), and ``actions`` repeated (2M, A): the action map is the identity.
    """
    out_obs: TensorDict | None = None
    if obs is not None:
        widths = env.obs_groups[ACTOR_GROUP].noise_half_widths().to(obs[ACTOR_GROUP].device)
        noisy = obs.clone()
        x = noisy[ACTOR_GROUP]
        noisy[ACTOR_GROUP] = x + (2.0 * torch.rand_like(x) - 1.0) * widths
        out_obs = cast(TensorDict, torch.cat((obs, noisy), dim=0))
    out_actions = None if actions is None else torch.cat((actions, actions), dim=0)
    return out_obs, out_actions


def symmetry_cfg(coef: float) -> dict[str, Any] | None:
    """rsl-rl's ``symmetry_cfg`` for the loss at ``coef`` (``None`` at 0: no extra loss)."""
    if coef <= 0.0:
        return None
    return {
        "data_augmentation_func": f"{__name__}:renoised",
        "use_data_augmentation": False,
        "use_mirror_loss": True,
        "mirror_loss_coeff": coef,
    }
