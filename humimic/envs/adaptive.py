"""Training-time adaptation that must survive a checkpoint: tracking σ and the curricula.

Adaptive σ (PBHC): per tracking term, ``ema ← (1−α)·ema + α·mean_batch(x)`` with the EMA
initialised to the initial σ, then ``σ ← min(σ, ema)``. σ never increases.

Curricula (PBHC): on each step with resets, the average episode length is updated as
``avg ← avg·(1 − n/10000) + mean_len·n/10000`` (n resets); then the penalty scale is
multiplied by (1 + rate) above ``high_s`` or (1 − rate) below ``low_s`` (clipped to [0, 1]),
and the motion-far distance moves the opposite way (clipped to [min, max]). PBHC states the
thresholds as 40 and 42 steps at 50 Hz; here they are seconds, so a 25 Hz policy keeps them.

Both live on the env's device as tensors, so the step path never waits for the device.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from humimic.config.train import CurriculumCfg, SigmaCfg


def _scalar(value: float | Tensor, device: torch.device) -> Tensor:
    """A float64 0-dim tensor on ``device`` (float64: the same arithmetic as Python floats)."""
    return torch.as_tensor(value, dtype=torch.float64).to(device)


class AdaptiveSigma:
    """σ and error EMA per tracking key, as 0-dim float64 tensors on the env's device.

    Updates stay on the device (no host synchronisation in the step path); the
    :attr:`sigma` and :attr:`ema` dicts of floats read them back (logs, checkpoints).
    Updates replace the tensors instead of writing into them, so a value handed out
    earlier (a log entry) keeps the value it had.
    """

    def __init__(self, cfg: SigmaCfg, device: str | torch.device = "cpu") -> None:
        """Start every σ and EMA at the configured initial σ."""
        self.enabled = cfg.enabled
        self.alpha = cfg.alpha
        self.device = torch.device(device)
        self._sigma = {k: _scalar(float(v), self.device) for k, v in cfg.initial.items()}
        self._ema = dict(self._sigma)

    @property
    def sigma(self) -> dict[str, float]:
        """Current σ per key (reads the device)."""
        return {k: float(v) for k, v in self._sigma.items()}

    @property
    def ema(self) -> dict[str, float]:
        """Current error EMA per key (reads the device)."""
        return {k: float(v) for k, v in self._ema.items()}

    def value(self, key: str) -> Tensor:
        """σ of ``key`` as a 0-dim float64 tensor on the device (no read-back)."""
        return self._sigma[key]

    def update(self, key: str, batch_mean_error: float | Tensor) -> None:
        """One EMA step with the batch-mean error of ``key``; then σ ← min(σ, ema)."""
        if not self.enabled:
            return
        error = _scalar(batch_mean_error, self.device)
        ema = (1.0 - self.alpha) * self._ema[key] + self.alpha * error
        self._ema[key] = ema
        self._sigma[key] = torch.minimum(self._sigma[key], ema)

    def state_dict(self) -> dict[str, Any]:
        """σ and EMA for a checkpoint (floats)."""
        return {"sigma": self.sigma, "ema": self.ema}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore from :meth:`state_dict` (keys not in the config are ignored)."""
        for key in self._sigma:
            if key in state["sigma"]:
                self._sigma[key] = _scalar(float(state["sigma"][key]), self.device)
                self._ema[key] = _scalar(float(state["ema"][key]), self.device)

    def log(self) -> dict[str, Tensor]:
        """Scalars for TensorBoard (0-dim tensors; the logger reads them once per iteration)."""
        out = {f"/Sigma/{k}": v for k, v in self._sigma.items()}
        out.update({f"/Sigma/ema_{k}": v for k, v in self._ema.items()})
        return out


class Curriculum:
    """Penalty scale and motion-far distance (see the module docstring).

    The three values are 0-dim float64 tensors on the env's device, replaced (not written
    into) by :meth:`update`; assigning a float sets them.
    """

    def __init__(
        self, cfg: CurriculumCfg, control_dt: float, device: str | torch.device = "cpu"
    ) -> None:
        """Start at the configured values; ``control_dt`` (s) converts the thresholds to steps."""
        self.cfg = cfg
        self.low_steps, self.high_steps = cfg.thresholds_steps(control_dt)
        self.device = torch.device(device)
        self.penalty_scale = cfg.penalty_scale if cfg.enabled else 1.0
        self.far_distance_m = cfg.far_distance_m
        self.avg_episode_steps = 0.0

    @property
    def penalty_scale(self) -> Tensor:
        """Scale of the curriculum penalties, 0-dim, in [0, 1]."""
        return self._penalty

    @penalty_scale.setter
    def penalty_scale(self, value: float | Tensor) -> None:
        self._penalty = _scalar(value, self.device)

    @property
    def far_distance_m(self) -> Tensor:
        """Distance of the motion-far termination, 0-dim, m."""
        return self._far

    @far_distance_m.setter
    def far_distance_m(self, value: float | Tensor) -> None:
        self._far = _scalar(value, self.device)

    @property
    def avg_episode_steps(self) -> Tensor:
        """Running average episode length, 0-dim, control steps."""
        return self._avg

    @avg_episode_steps.setter
    def avg_episode_steps(self, value: float | Tensor) -> None:
        self._avg = _scalar(value, self.device)

    def update(self, episode_steps_mean: float | Tensor, num_resets: int) -> None:
        """Fold in ``num_resets`` ended episodes of mean length ``episode_steps_mean``."""
        if num_resets == 0 or not self.cfg.enabled:
            return
        c, w = self.cfg, num_resets / 10000.0
        avg = self._avg * (1 - w) + _scalar(episode_steps_mean, self.device) * w
        high, low = avg > self.high_steps, avg < self.low_steps
        penalty = torch.where(
            high,
            self._penalty * (1 + c.penalty_rate),
            torch.where(low, self._penalty * (1 - c.penalty_rate), self._penalty),
        )
        far = torch.where(
            high,
            self._far * (1 - c.far_rate),
            torch.where(low, self._far * (1 + c.far_rate), self._far),
        )
        self._avg = avg
        self._penalty = penalty.clamp(0.0, 1.0)
        self._far = far.clamp(c.far_min_m, c.far_max_m)

    def state_dict(self) -> dict[str, float]:
        """Curriculum values for a checkpoint (floats)."""
        return {
            "penalty_scale": float(self._penalty),
            "far_distance_m": float(self._far),
            "avg_episode_steps": float(self._avg),
        }

    def load_state_dict(self, state: dict[str, float]) -> None:
        """Restore from :meth:`state_dict`."""
        self.penalty_scale = float(state["penalty_scale"])
        self.far_distance_m = float(state["far_distance_m"])
        self.avg_episode_steps = float(state["avg_episode_steps"])

    def log(self) -> dict[str, Tensor]:
        """Scalars for TensorBoard (0-dim tensors)."""
        return {
            "/Curriculum/penalty_scale": self._penalty,
            "/Curriculum/far_distance_m": self._far,
            "/Curriculum/avg_episode_steps": self._avg,
        }
