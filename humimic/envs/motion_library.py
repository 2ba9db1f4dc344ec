"""Reference clips on the torch device, queried at arbitrary times per environment.

All clips are concatenated along time; each env holds a clip id and a time in seconds.
:meth:`MotionLibrary.state` interpolates between the two neighbouring frames (linear for
positions, velocities and joint angles, slerp for quaternions). Joints and bodies are
matched to the robot's order **by name**. Start times are drawn uniformly (reference-state
initialisation) or, with adaptive sampling, per 1-s bin weighted by recent failures
(BeyondMimic-style: EMA of failure counts, mixed with a uniform share).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from humimic.errors import ConfigError
from humimic.geometry.quat_torch import slerp
from humimic.motion.clip import ARRAY_FIELDS, RobotClip, load_clip


@dataclass
class RefState:
    """Reference state per env (bodies in the library's body order).

    Shapes: root_* (N, 3)/(N, 4); joint_* (N, J); body_pos_w/lin/ang (N, B, 3);
    body_quat_w (N, B, 4); contact (N, 2) in {0, 1}; phase (N,) in [0, 1].
    """

    root_pos_w: Tensor
    root_quat_w: Tensor
    root_lin_vel_w: Tensor
    root_ang_vel_w: Tensor
    joint_pos: Tensor
    joint_vel: Tensor
    body_pos_w: Tensor
    body_quat_w: Tensor
    body_lin_vel_w: Tensor
    body_ang_vel_w: Tensor
    contact: Tensor
    phase: Tensor

    def with_rows(self, ids: Tensor, rows: RefState) -> RefState:
        """A copy whose rows ``ids`` come from ``rows`` (a state of ``len(ids)`` envs)."""
        out = {}
        for f in dataclasses.fields(self):
            merged = getattr(self, f.name).clone()
            merged[ids] = getattr(rows, f.name)
            out[f.name] = merged
        return RefState(**out)


def load_clips(paths: list[str | Path], variant: str) -> list[RobotClip]:
    """Load clips and refuse any made for another robot variant (before simulation)."""
    if not paths:
        raise ConfigError("task.motion.files: no motion clip given")
    clips = [load_clip(p) for p in paths]
    check_variant(clips, variant, [str(p) for p in paths])
    return clips


def check_variant(clips: list[RobotClip], variant: str, names: list[str] | None = None) -> None:
    """Raise ConfigError if any clip was made for another robot variant."""
    for k, clip in enumerate(clips):
        if clip.variant != variant:
            name = names[k] if names else clip.source_file or f"clip {k}"
            raise ConfigError(
                f"task.motion.files: {name} is for robot '{clip.variant}', "
                f"but task.robot is '{variant}'"
            )


class MotionLibrary:
    """Clips stacked on one device; see the module docstring."""

    def __init__(
        self,
        clips: list[RobotClip],
        joint_names: list[str],
        body_names: list[str],
        device: str | torch.device = "cpu",
        bin_s: float = 1.0,
    ) -> None:
        """Stack ``clips`` with joints/bodies reordered to ``joint_names``/``body_names``.

        Raises:
            ConfigError: A clip lacks a joint or body, or has fewer than 2 frames.
        """
        self.device = torch.device(device)
        fields, lengths, fps = _stack(clips, joint_names, body_names)

        def cat(key: str) -> Tensor:
            return torch.as_tensor(np.concatenate(fields[key]), dtype=torch.float32)

        # Two packed tables so that a query is two gathers: linear fields and quaternions.
        total = sum(lengths)
        self._lin_keys = [k for k in ARRAY_FIELDS if not k.endswith("quat_w")]
        lin = [cat(k).reshape(total, -1) for k in self._lin_keys]
        self._lin_split = [t.shape[1] for t in lin]
        self._lin_shape = {k: cat(k).shape[1:] for k in self._lin_keys}
        self._lin = torch.cat(lin, dim=1).to(device)
        self._quat = torch.cat((cat("root_quat_w")[:, None], cat("body_quat_w")), dim=1).to(device)
        self.frame_start = torch.tensor(np.cumsum([0, *lengths[:-1]]), device=device)
        self.num_frames = torch.tensor(lengths, device=device)
        self.fps = torch.tensor(fps, device=device)
        self.duration_s = (self.num_frames - 1).float() / self.fps
        """Shape (C,), clip lengths in seconds."""
        self.num_clips = len(clips)
        self.bin_s = bin_s
        self.num_bins = torch.ceil(self.duration_s / bin_s).clamp_min(1).long()
        self.bin_offset = torch.cumsum(self.num_bins, 0) - self.num_bins
        self.failure_ema = torch.zeros(int(self.num_bins.sum()), device=device)
        """Per (clip, 1-s bin) EMA of failures, for adaptive sampling."""
        self._max_bins = int(self.num_bins.max())  # read once here, not per reset

    def state(self, clip_ids: Tensor, times_s: Tensor) -> RefState:
        """Interpolated reference at ``times_s`` (N,) s in clips ``clip_ids`` (N,)."""
        fps = self.fps[clip_ids]
        last = self.num_frames[clip_ids] - 1
        pos = (times_s * fps).clamp(min=0.0)
        i0 = torch.minimum(pos.floor().long(), last)
        i1 = torch.minimum(i0 + 1, last)
        alpha = (pos - i0.float()).clamp(0.0, 1.0)
        g0, g1 = self.frame_start[clip_ids] + i0, self.frame_start[clip_ids] + i1
        a, b = self._lin[g0], self._lin[g1]
        lin = torch.lerp(a, b, alpha[:, None])
        n = len(clip_ids)
        out = {
            k: part.reshape(n, *self._lin_shape[k])
            for k, part in zip(self._lin_keys, lin.split(self._lin_split, dim=1))
        }
        quat = slerp(self._quat[g0], self._quat[g1], alpha[:, None, None])
        out["root_quat_w"], out["body_quat_w"] = quat[:, 0], quat[:, 1:]
        phase = (times_s / self.duration_s[clip_ids]).clamp(0.0, 1.0)
        return RefState(
            root_pos_w=out["root_pos_w"],
            root_quat_w=out["root_quat_w"],
            root_lin_vel_w=out["body_lin_vel_w"][:, 0],
            root_ang_vel_w=out["body_ang_vel_w"][:, 0],
            joint_pos=out["joint_pos"],
            joint_vel=out["joint_vel"],
            body_pos_w=out["body_pos_w"],
            body_quat_w=out["body_quat_w"],
            body_lin_vel_w=out["body_lin_vel_w"],
            body_ang_vel_w=out["body_ang_vel_w"],
            contact=out["contact_mask"],
            phase=phase,
        )

    def sample_clips(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """Shape (n,) clip ids, uniform over clips."""
        return torch.randint(self.num_clips, (n,), device=self.device, generator=generator)

    def sample_times(
        self,
        clip_ids: Tensor,
        adaptive: bool = False,
        uniform_ratio: float = 0.1,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Start times (N,) s: uniform in each clip, or by failure-weighted 1-s bins."""
        u = torch.rand(clip_ids.shape, device=self.device, generator=generator)
        if not adaptive:
            return u * self.duration_s[clip_ids]
        bins = self._sample_bins(clip_ids, uniform_ratio, generator)
        t = (bins.float() + u) * self.bin_s
        return torch.minimum(t, self.duration_s[clip_ids])

    def _sample_bins(
        self, clip_ids: Tensor, uniform_ratio: float, generator: torch.Generator | None
    ) -> Tensor:
        """Bin index within each env's clip, ∝ (1-r)·p_fail + r·uniform."""
        k = torch.arange(self._max_bins, device=self.device)
        valid = k[None] < self.num_bins[clip_ids, None]
        flat = (self.bin_offset[clip_ids, None] + k[None]).clamp(max=self.failure_ema.numel() - 1)
        fail = torch.where(valid, self.failure_ema[flat], 0.0)
        total = fail.sum(1, keepdim=True)
        p_fail = torch.where(total > 0, fail / total.clamp_min(1e-12), valid.float())
        p_fail = p_fail / p_fail.sum(1, keepdim=True)
        p = (1 - uniform_ratio) * p_fail + uniform_ratio * valid.float() / valid.sum(
            1, keepdim=True
        )
        return torch.multinomial(p, 1, generator=generator).squeeze(1)

    def record_episodes(
        self, clip_ids: Tensor, times_s: Tensor, failed: Tensor, alpha: float = 1e-3
    ) -> None:
        """Update the failure EMA with ended episodes: a failure counts in its time bin.

        Args:
            clip_ids: (M,) clips of the ended episodes.
            times_s: (M,) time at which they ended, s.
            failed: (M,) bool, ended by a termination (not a time-out).
            alpha: EMA rate per call.
        """
        bins = (times_s / self.bin_s).long().clamp(min=0)
        bins = torch.minimum(bins, self.num_bins[clip_ids] - 1) + self.bin_offset[clip_ids]
        counts = torch.zeros_like(self.failure_ema)
        # Adding 0 for the time-outs keeps the sizes fixed (no read-back of the count).
        counts.index_add_(0, bins, failed.to(counts.dtype))
        self.failure_ema.mul_(1 - alpha).add_(alpha * counts)

    def sampling_entropy(self) -> Tensor:
        """Normalised entropy of the failure distribution (1 = uniform), 0-dim, for logging."""
        size = self.failure_ema.numel()
        if size < 2:
            return torch.ones((), device=self.device)
        total = self.failure_ema.sum()
        p = self.failure_ema / total.clamp_min(1e-30)
        h = -(p * torch.log(p.clamp_min(1e-12))).sum() / np.log(size)
        return torch.where(total > 0, h, 1.0)


def _stack(
    clips: list[RobotClip], joint_names: list[str], body_names: list[str]
) -> tuple[dict[str, list[np.ndarray]], list[int], list[float]]:
    """Per-field arrays of every clip, joints/bodies reordered by name; lengths; fps."""
    fields: dict[str, list[np.ndarray]] = {k: [] for k in ARRAY_FIELDS}
    for clip in clips:
        jidx, bidx = _indices(clip, joint_names, body_names)
        if clip.num_frames < 2:
            raise ConfigError(f"task.motion.files: clip has {clip.num_frames} frame(s)")
        for key in ARRAY_FIELDS:
            value = getattr(clip, key)
            if key.startswith("joint"):
                value = value[:, jidx]
            elif key.startswith("body"):
                value = value[:, bidx]
            fields[key].append(value)
    return fields, [c.num_frames for c in clips], [float(c.fps) for c in clips]


def _indices(
    clip: RobotClip, joint_names: list[str], body_names: list[str]
) -> tuple[list[int], list[int]]:
    missing_j = [n for n in joint_names if n not in clip.joint_names]
    missing_b = [n for n in body_names if n not in clip.body_names]
    if missing_j or missing_b:
        raise ConfigError(f"task.motion.files: clip lacks joints {missing_j} / bodies {missing_b}")
    return [clip.joint_index(n) for n in joint_names], [clip.body_index(n) for n in body_names]
