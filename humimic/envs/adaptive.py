"""Training-time adaptation that must survive a checkpoint: tracking σ and the curricula.

Adaptive σ (PBHC): per tracking term, ``ema ← (1−α)·ema + α·mean_batch(x)`` with the EMA
initialised to the initial σ, then ``σ ← min(σ, ema)``. σ never increases.

Curricula (PBHC): on each step with resets, the average episode length is updated as
``avg ← avg·(1 − n/10000) + mean_len·n/10000`` (n resets); then the penalty scale is
multiplied by (1 + rate) above ``high_steps`` or (1 − rate) below ``low_steps`` (clipped to
[0, 1]), and the motion-far distance moves the opposite way (clipped to [min, max]).
"""

from __future__ import annotations

from typing import Any

from humimic.config.train import CurriculumCfg, SigmaCfg


class AdaptiveSigma:
    """σ and error EMA per tracking key (plain floats: they are batch statistics)."""

    def __init__(self, cfg: SigmaCfg) -> None:
        """Start every σ and EMA at the configured initial σ."""
        self.enabled = cfg.enabled
        self.alpha = cfg.alpha
        self.sigma = dict(cfg.initial)
        self.ema = dict(cfg.initial)

    def update(self, key: str, batch_mean_error: float) -> None:
        """One EMA step with the batch-mean error of ``key``; then σ ← min(σ, ema)."""
        if not self.enabled:
            return
        self.ema[key] = (1.0 - self.alpha) * self.ema[key] + self.alpha * batch_mean_error
        self.sigma[key] = min(self.sigma[key], self.ema[key])

    def state_dict(self) -> dict[str, Any]:
        """σ and EMA for a checkpoint."""
        return {"sigma": dict(self.sigma), "ema": dict(self.ema)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore from :meth:`state_dict` (keys not in the config are ignored)."""
        for key in self.sigma:
            if key in state["sigma"]:
                self.sigma[key] = float(state["sigma"][key])
                self.ema[key] = float(state["ema"][key])

    def log(self) -> dict[str, float]:
        """Scalars for TensorBoard."""
        out = {f"/Sigma/{k}": v for k, v in self.sigma.items()}
        out.update({f"/Sigma/ema_{k}": v for k, v in self.ema.items()})
        return out


class Curriculum:
    """Penalty scale and motion-far distance (see the module docstring)."""

    def __init__(self, cfg: CurriculumCfg) -> None:
        """Start at the configured values."""
        self.cfg = cfg
        self.penalty_scale = cfg.penalty_scale if cfg.enabled else 1.0
        self.far_distance_m = cfg.far_distance_m
        self.avg_episode_steps = 0.0

    def update(self, episode_steps_mean: float, num_resets: int) -> None:
        """Fold in ``num_resets`` ended episodes of mean length ``episode_steps_mean``."""
        if num_resets == 0 or not self.cfg.enabled:
            return
        c, w = self.cfg, num_resets / 10000.0
        self.avg_episode_steps = self.avg_episode_steps * (1 - w) + episode_steps_mean * w
        if self.avg_episode_steps > c.high_steps:
            self.penalty_scale *= 1 + c.penalty_rate
            self.far_distance_m *= 1 - c.far_rate
        elif self.avg_episode_steps < c.low_steps:
            self.penalty_scale *= 1 - c.penalty_rate
            self.far_distance_m *= 1 + c.far_rate
        self.penalty_scale = min(max(self.penalty_scale, 0.0), 1.0)
        self.far_distance_m = min(max(self.far_distance_m, c.far_min_m), c.far_max_m)

    def state_dict(self) -> dict[str, float]:
        """Curriculum values for a checkpoint."""
        return {
            "penalty_scale": self.penalty_scale,
            "far_distance_m": self.far_distance_m,
            "avg_episode_steps": self.avg_episode_steps,
        }

    def load_state_dict(self, state: dict[str, float]) -> None:
        """Restore from :meth:`state_dict`."""
        self.penalty_scale = float(state["penalty_scale"])
        self.far_distance_m = float(state["far_distance_m"])
        self.avg_episode_steps = float(state["avg_episode_steps"])

    def log(self) -> dict[str, float]:
        """Scalars for TensorBoard."""
        return {
            "/Curriculum/penalty_scale": self.penalty_scale,
            "/Curriculum/far_distance_m": self.far_distance_m,
            "/Curriculum/avg_episode_steps": self.avg_episode_steps,
        }
