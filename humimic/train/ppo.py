"""rsl-rl's PPO with PBHC's two optimisers: the critic keeps its own learning rate.

rsl-rl steps actor and critic with one Adam whose learning rate the adaptive KL schedule
(or a fixed small rate) sets for both. PBHC gives each network its own Adam; with one shared
rate the critic cannot follow the returns once the policy improves (measured on a CPU run:
the value loss jumped from 0.3 to 40 within 30 iterations of the first gains and the policy
fell back). :class:`SplitRatePPO` only swaps the optimiser; the update is rsl-rl's.
"""

from __future__ import annotations

from typing import Any

import torch
from rsl_rl.algorithms import PPO


class TwoAdams:
    """Two Adam optimisers behind the part of the optimiser interface rsl-rl's PPO uses.

    ``param_groups`` shows only the actor's groups, so the PPO schedule (which writes the
    learning rate into every visible group) changes the actor's rate alone.
    """

    def __init__(
        self,
        actor_params: Any,
        critic_params: Any,
        actor_lr: float,
        critic_lr: float,
    ) -> None:
        """Adam for each parameter set, at its own learning rate."""
        self.actor = torch.optim.Adam(actor_params, lr=actor_lr)
        self.critic = torch.optim.Adam(critic_params, lr=critic_lr)

    @property
    def param_groups(self) -> list[dict[str, Any]]:
        """The actor optimiser's groups (what the learning-rate schedule adjusts)."""
        return self.actor.param_groups

    def zero_grad(self) -> None:
        """Clear both networks' gradients."""
        self.actor.zero_grad()
        self.critic.zero_grad()

    def step(self) -> None:
        """One Adam step of each network."""
        self.actor.step()
        self.critic.step()

    def state_dict(self) -> dict[str, Any]:
        """Both optimisers' states."""
        return {"actor": self.actor.state_dict(), "critic": self.critic.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore both optimisers (a checkpoint written by :meth:`state_dict`)."""
        self.actor.load_state_dict(state["actor"])
        self.critic.load_state_dict(state["critic"])


class SplitRatePPO(PPO):
    """rsl-rl PPO whose critic has its own Adam at ``critic_learning_rate``, and whose
    update may use more torch threads than the collection (:attr:`update_threads`)."""

    update_threads: int = 0
    """Torch threads during :meth:`update` (0: leave torch's setting). The physics thread
    pool is idle meanwhile, so the update may use every core (set by ``build_runner``)."""

    def __init__(self, *args: Any, critic_learning_rate: float = 1e-3, **kwargs: Any) -> None:
        """rsl-rl's constructor, then the optimiser is replaced by :class:`TwoAdams`."""
        super().__init__(*args, **kwargs)
        self.critic_learning_rate = critic_learning_rate
        self.optimizer = TwoAdams(
            self.actor.parameters(),
            self.critic.parameters(),
            self.learning_rate,
            critic_learning_rate,
        )

    def update(self) -> dict[str, float]:
        """rsl-rl's PPO update, on :attr:`update_threads` torch threads."""
        if self.update_threads < 1:
            return super().update()
        collect_threads = torch.get_num_threads()
        torch.set_num_threads(self.update_threads)
        try:
            return super().update()
        finally:
            torch.set_num_threads(collect_threads)
