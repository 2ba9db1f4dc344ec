"""Observation, reward and termination managers: config terms -> bound functions -> tensors.

Names are resolved and parameters bound once, at construction (before simulation).

Observation layout of a group with history H: ``[term_1, ..., term_k, hist_1, ..., hist_H]``
where the current terms come in config order and each history frame ``hist_h`` (h = 1 is
the previous step, i.e. **newest first**) holds the ``history_terms`` in config order.
Noise ``U(±noise)`` is added before scaling; the whole vector is clipped to ``±clip``.
History is zeroed at reset.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from humimic.config.train import ObsGroupCfg, RewardTermCfg, TerminationTermCfg
from humimic.envs.adaptive import AdaptiveSigma
from humimic.envs.registry import bind
from humimic.envs.step_data import StepData


@dataclass
class ObsSlice:
    """Where a term sits in a group's vector."""

    term: str
    start: int
    stop: int
    scale: float
    history: int
    """0 for the current value, h >= 1 for the h-th past frame."""


class ObservationGroup:
    """One observation group (see the module docstring for the layout)."""

    def __init__(self, name: str, cfg: ObsGroupCfg, d: StepData, noise: bool) -> None:
        """Bind terms and measure their dimensions on ``d``; buffers go on its device."""
        self.name, self.cfg = name, cfg
        self.device = d.actions.device
        self.fns = {
            key: bind("observation", f"task.observations.{name}.terms.{key}", t.fn or key, t.params)
            for key, t in cfg.terms.items()
        }
        self.dims = {key: int(fn(d).shape[1]) for key, fn in self.fns.items()}
        self._cache_keys = {
            key: (t.fn or key, repr(sorted(t.params.items()))) for key, t in cfg.terms.items()
        }
        self.scale = self._per_dim({k: t.scale for k, t in cfg.terms.items()})
        widths = self._per_dim({k: t.noise if noise else 0.0 for k, t in cfg.terms.items()})
        self.noise = widths if bool((widths > 0).any()) else None  # once, at construction
        hist = cfg.history_terms or list(cfg.terms)
        self._hist_cols = (
            torch.cat([torch.arange(*self._span(k), device=self.device) for k in hist])
            if cfg.history_length
            else torch.zeros(0, dtype=torch.long, device=self.device)
        )
        n = d.actions.shape[0]
        self.history = torch.zeros(n, cfg.history_length, len(self._hist_cols), device=self.device)
        self.dim = sum(self.dims.values()) + self.history[0].numel()

    def _span(self, key: str) -> tuple[int, int]:
        start = 0
        for k, dim in self.dims.items():
            if k == key:
                return start, start + dim
            start += dim
        raise KeyError(key)

    def _per_dim(self, values: dict[str, float]) -> Tensor:
        return torch.cat(
            [torch.full((self.dims[k],), float(v), device=self.device) for k, v in values.items()]
        )

    def noise_half_widths(self) -> Tensor:
        """(dim,) half-width of the uniform sensor noise in each column of the group's vector,
        after scaling (history columns carry the noise of the frame they hold); zeros where
        a term is noiseless or the noise is off."""
        if self.noise is None:
            return torch.zeros(self.dim, device=self.device)
        current = self.noise * self.scale
        history = current[self._hist_cols].repeat(self.cfg.history_length)
        return torch.cat((current, history))

    def layout(self) -> list[ObsSlice]:
        """Term slices of the vector, current terms then history frames."""
        out, start = [], 0
        for key, dim in self.dims.items():
            out.append(ObsSlice(key, start, start + dim, self.cfg.terms[key].scale, 0))
            start += dim
        hist = self.cfg.history_terms or list(self.cfg.terms)
        for h in range(1, self.cfg.history_length + 1):
            for key in hist:
                out.append(ObsSlice(key, start, start + self.dims[key], 1.0, h))
                start += self.dims[key]
        return out

    def compute(
        self,
        d: StepData,
        generator: torch.Generator | None = None,
        cache: dict[tuple[str, str], Tensor] | None = None,
    ) -> Tensor:
        """The group's observation (N, dim); pushes the current frame into the history.

        ``cache`` shares raw term values between groups within one step.
        """
        values = []
        for key, fn in self.fns.items():
            cache_key = self._cache_keys[key]
            if cache is None or cache_key not in cache:
                value = fn(d)
                if cache is not None:
                    cache[cache_key] = value
            else:
                value = cache[cache_key]
            values.append(value)
        current = torch.cat(values, dim=1)
        if self.noise is not None:
            u = torch.rand(current.shape, generator=generator, device=current.device)
            current = current + (2 * u - 1) * self.noise
        current = current * self.scale
        out = torch.cat((current, self.history.flatten(1)), dim=1).clamp(
            -self.cfg.clip, self.cfg.clip
        )
        if self.cfg.history_length:
            self.history = torch.roll(self.history, 1, dims=1)
            self.history[:, 0] = current[:, self._hist_cols]
        return out

    def reset(self, env_ids: Tensor) -> None:
        """Zero the history of ``env_ids``."""
        self.history[env_ids] = 0.0


class RewardManager:
    """Weighted sum ``Σ w·dt·r``; σ-terms use ``exp(-x/σ)``; keeps episode sums per term."""

    def __init__(
        self,
        terms: dict[str, RewardTermCfg],
        sigma: AdaptiveSigma,
        control_dt: float,
        num_envs: int,
        device: str | torch.device = "cpu",
    ) -> None:
        """Bind every term (so typos fail); only non-zero weights are computed."""
        fns = {
            k: bind("reward", f"task.rewards.{k}", t.fn or k, t.params) for k, t in terms.items()
        }
        self.cfgs = {k: t for k, t in terms.items() if t.weight != 0.0}
        self.fns = {k: fns[k] for k in self.cfgs}
        self.sigma, self.dt = sigma, control_dt
        self.episode_sums = {k: torch.zeros(num_envs, device=device) for k in self.cfgs}
        self.last_errors: dict[str, Tensor] = {}
        """Batch-mean error of each σ-term in the last step, 0-dim tensors."""

    def compute(self, d: StepData, penalty_scale: float | Tensor) -> Tensor:
        """Total reward (N,) of this step; updates σ with each σ-term's batch-mean error.

        Everything stays on the device: σ and the batch means are tensors.
        """
        total = torch.zeros(d.actions.shape[0], device=d.actions.device)
        values = {key: fn(d) for key, fn in self.fns.items()}
        self.last_errors = {k: values[k].mean() for k, cfg in self.cfgs.items() if cfg.sigma}
        for key, cfg in self.cfgs.items():
            value = values[key]
            if cfg.sigma:
                value = torch.exp(-value / self.sigma.value(cfg.sigma))
                self.sigma.update(cfg.sigma, self.last_errors[key])
            weight = cfg.weight * self.dt * (penalty_scale if cfg.curriculum else 1.0)
            term = weight * value
            self.episode_sums[key] += term
            total += term
        return total

    def reset(self, env_ids: Tensor, episode_s: Tensor) -> dict[str, Tensor]:
        """Per-term mean episode reward per second of ``env_ids`` (0-dim); zero their sums."""
        out = {}
        for key, sums in self.episode_sums.items():
            out[f"/Episode_Reward/{key}"] = (sums[env_ids] / episode_s).mean()
            sums[env_ids] = 0.0
        return out


class TerminationManager:
    """OR of termination terms, split into failures and time-outs."""

    def __init__(self, terms: dict[str, TerminationTermCfg]) -> None:
        """Bind the terms."""
        self.cfgs = terms
        self.fns = {
            k: bind("termination", f"task.terminations.{k}", t.fn or k, t.params)
            for k, t in terms.items()
        }

    def compute(self, d: StepData) -> tuple[Tensor, Tensor, dict[str, Tensor]]:
        """(failed (N,), time_out (N,), fraction of envs per term for logging, 0-dim)."""
        n = d.actions.shape[0]
        failed = torch.zeros(n, dtype=torch.bool, device=d.actions.device)
        time_out = torch.zeros_like(failed)
        log = {}
        for key, fn in self.fns.items():
            hit = fn(d)
            log[f"/Episode_Termination/{key}"] = hit.float().mean()
            if self.cfgs[key].time_out:
                time_out |= hit
            else:
                failed |= hit
        return failed & ~time_out, time_out, log
