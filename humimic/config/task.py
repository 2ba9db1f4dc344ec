"""Schema of the tracking task (``task:`` of ``configs/train.yaml``): observation,
reward and termination terms, adaptive sigma, curricula, randomisation and the clips.

Term functions are named, not imported: ``fn`` is a name registered in
:mod:`humimic.envs.terms`, and ``params`` are bound to its signature when the env is built
(before the simulator starts), so a misspelt term or parameter fails early, naming the key.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from humimic.config.checks import check_range
from humimic.errors import ConfigError

TERM_ALIASES: dict[str, dict[str, str]] = {
    "observation": {
        "base_ang_vel": "root_ang_vel_b",
        "base_lin_vel": "root_lin_vel_b",
        "dof_pos": "joint_pos_rel",
        "dof_vel": "joint_vel",
    },
    "reward": {"dof_pos_limits": "joint_pos_limits", "dof_vel_limits": "joint_vel_limits"},
    "termination": {},
}
"""PBHC's term names -> humimic's (docs/conventions.md, vocabulary): configs and
controller manifests written with the old names still load."""


def canonical_term(kind: str, name: str) -> str:
    """humimic's name of a ``kind`` term ("observation", "reward", ...) for ``name``,
    which may be a PBHC alias (:data:`TERM_ALIASES`)."""
    return TERM_ALIASES.get(kind, {}).get(name, name)


ACTION_MODES = ("default", "residual")
"""Joint-target bases (:attr:`TaskCfg.action_mode`)."""


@dataclass
class ObsTermCfg:
    """One observation term: ``clip((fn(**params) + U(±noise)) * scale)``."""

    fn: str = ""
    """Registered observation function name; empty means the term's own key."""
    params: dict[str, Any] = field(default_factory=dict)
    scale: float = 1.0
    noise: float = 0.0
    """Half-width of uniform noise added before scaling (training only)."""


@dataclass
class ObsGroupCfg:
    """An observation group: current terms (in key order as written) then history."""

    terms: dict[str, ObsTermCfg] = field(default_factory=dict)
    history_length: int = 0
    """Past frames appended after the current terms, newest first."""
    history_terms: list[str] = field(default_factory=list)
    """Terms kept in the history (empty: all terms)."""
    clip: float = 100.0

    def __post_init__(self) -> None:
        """Check history settings (the rest is checked by :class:`TaskCfg`, naming the group)."""
        if self.history_length < 0:
            raise ConfigError("task.observations.<group>.history_length must be >= 0")


@dataclass
class RewardTermCfg:
    """One weighted reward term; the manager multiplies by ``weight * control_dt``."""

    fn: str = ""
    weight: float = 1.0
    params: dict[str, Any] = field(default_factory=dict)
    sigma: str = ""
    """Adaptive-sigma key: ``fn`` returns an error x and the reward is ``exp(-x/σ)``."""
    curriculum: bool = False
    """Scale by the penalty curriculum factor."""


@dataclass
class TerminationTermCfg:
    """One termination condition."""

    fn: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    time_out: bool = False
    """Ends the episode without the termination penalty, with value bootstrapping."""


@dataclass
class SigmaCfg:
    """Adaptive tracking sigma (PBHC): ``ema ← (1-α)ema + α·mean(x)``, ``σ ← min(σ, ema)``."""

    enabled: bool = True
    alpha: float = 1e-3
    initial: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Check alpha and sigmas."""
        if not 0.0 <= self.alpha <= 1.0:
            raise ConfigError("task.sigma.alpha must be in [0, 1]")
        bad = [k for k, v in self.initial.items() if not 0 < v < math.inf]
        if bad:
            raise ConfigError(f"task.sigma.initial: sigma must be finite and > 0 for {bad}")


@dataclass
class AssistCfg:
    """The training assist: servos on the root that hold it near the reference root pose
    early in training and fade out as the policy succeeds (:mod:`humimic.envs.assist`).
    Evaluation, export and deployment never have it."""

    enabled: bool = False
    initial_scale: float = 1.0
    """Starting factor on the servo gains."""
    fade_rate: float = 2e-4
    """Per ended episode: the factor shrinks by this fraction while the batch's success rate
    is at least ``success_threshold``, and grows by it (up to 1) while it is below."""
    success_threshold: float = 0.7
    off_below: float = 0.02
    """Below this factor the assist switches off for good: the rest is the real task."""
    kp_pos: float = 3500.0
    """N/m; with ``kv_pos`` (N·s/m) a 10 rad/s, 0.7-damped support for a 35 kg robot."""
    kv_pos: float = 500.0
    kp_rot: float = 500.0
    """N·m/rad: about twice the toppling stiffness m·g·h of the G1; ``kv_rot`` N·m·s/rad."""
    kv_rot: float = 50.0
    max_force: float = 600.0
    """Per-axis limits of the servos, N and N·m."""
    max_torque: float = 300.0

    def __post_init__(self) -> None:
        """Check factors, rates and gains."""
        check_range("task.assist.initial_scale", self.initial_scale, 0.0, 1.0)
        check_range("task.assist.fade_rate", self.fade_rate, 0.0, 1.0, high_open=True)
        check_range("task.assist.success_threshold", self.success_threshold, 0.0, 1.0)
        check_range("task.assist.off_below", self.off_below, 0.0, 1.0)
        for key in ("kp_pos", "kv_pos", "kp_rot", "kv_rot", "max_force", "max_torque"):
            check_range(f"task.assist.{key}", getattr(self, key), 0.0)


@dataclass
class CurriculumCfg:
    """Penalty scale and motion-far distance, driven by the average episode length."""

    enabled: bool = True
    penalty_scale: float = 0.1
    penalty_rate: float = 1e-5
    far_distance_m: float = 1.5
    far_rate: float = 2.5e-5
    far_min_m: float = 0.3
    far_max_m: float = 2.0
    low_s: float = 0.8
    """Below this average episode length, s, the curricula loosen (PBHC: 40 steps at 50 Hz)."""
    high_s: float = 0.84
    """Above this average episode length, s, they tighten (PBHC: 42 steps at 50 Hz)."""
    low_steps: float | None = None
    """``low_s`` in policy steps; overrides it when set (the run configs saved before
    ``low_s`` existed carry 40, which at 25 Hz is 1.6 s: a clip shorter than about 3 s then
    loosens for ever, since a random start leaves on average half the clip)."""
    high_steps: float | None = None
    """``high_s`` in policy steps; overrides it when set (saved run configs carry 42)."""

    def thresholds_steps(self, control_dt: float) -> tuple[float, float]:
        """(low, high) average episode lengths in policy steps of ``control_dt`` seconds."""
        low = self.low_steps if self.low_steps is not None else self.low_s / control_dt
        high = self.high_steps if self.high_steps is not None else self.high_s / control_dt
        return low, high

    def __post_init__(self) -> None:
        """Check scales, rates and distances."""
        check_range("task.curriculum.penalty_scale", self.penalty_scale, 0.0, 1.0)
        for key in ("penalty_rate", "far_rate"):
            check_range(f"task.curriculum.{key}", getattr(self, key), 0.0, 1.0)
        check_range("task.curriculum.far_min_m", self.far_min_m, 0.0, low_open=True)
        check_range("task.curriculum.far_max_m", self.far_max_m, self.far_min_m)
        check_range(
            "task.curriculum.far_distance_m", self.far_distance_m, self.far_min_m, self.far_max_m
        )
        check_range("task.curriculum.low_s", self.low_s, 0.0)
        check_range("task.curriculum.high_s", self.high_s, self.low_s)
        if (self.low_steps is None) != (self.high_steps is None):
            raise ConfigError("task.curriculum.low_steps and high_steps are set together or not")
        if self.low_steps is not None and self.high_steps is not None:
            check_range("task.curriculum.low_steps", self.low_steps, 0.0)
            check_range("task.curriculum.high_steps", self.high_steps, self.low_steps)


@dataclass
class RandomizationCfg:
    """Domain randomisation, drawn per episode (pushes per interval, torque noise per step).

    Torque noise (PBHC): per joint, with ``τ_max`` its effort limit, a constant offset
    ``U(±torque_offset_scale)·τ_max`` per episode (RAO) plus, every policy step,
    ``U(±1)·torque_noise_scale·s·τ_max`` with ``s ~ U(torque_noise_episode_scale)`` drawn per
    joint per episode (RFI). A scale of 0 disables that part.
    """

    enabled: bool = True
    friction: list[float] = field(default_factory=lambda: [0.2, 1.2])
    body_mass_scale: list[float] = field(default_factory=lambda: [0.9, 1.1])
    com_offset_m: list[float] = field(default_factory=lambda: [0.05, 0.05, 0.01])
    kp_scale: list[float] = field(default_factory=lambda: [0.9, 1.1])
    kd_scale: list[float] = field(default_factory=lambda: [0.9, 1.1])
    control_delay_s: list[float] = field(default_factory=lambda: [0.0, 0.04])
    """Range of the per-episode action delay, s, rounded to whole policy steps (PBHC: 0-2
    steps at 50 Hz, 0-40 ms; at 25 Hz that is 0-1 step). Evaluation keeps it, as PBHC does."""
    control_delay_steps: list[int] | None = None
    """The delay range in policy steps; overrides ``control_delay_s`` when set (the run
    configs saved before ``control_delay_s`` existed carry ``[0, 2]``)."""
    push_interval_s: list[float] = field(default_factory=lambda: [5.0, 9.0])
    push_velocity_mps: float = 0.1
    pushes: bool = True
    torque_noise_scale: float = 0.05
    """RFI amplitude as a fraction of the effort limit (times the episode scale s)."""
    torque_noise_episode_scale: list[float] = field(default_factory=lambda: [0.5, 1.5])
    """Range of the per-episode, per-joint RFI scale s."""
    torque_offset_scale: float = 0.05
    """RAO half-width as a fraction of the effort limit."""

    def __post_init__(self) -> None:
        """Check ranges."""
        ranges = ("friction", "body_mass_scale", "kp_scale", "kd_scale", "push_interval_s")
        for key in (*ranges, "torque_noise_episode_scale"):
            value = getattr(self, key)
            if len(value) != 2 or value[0] > value[1] or value[0] < 0:
                raise ConfigError(f"task.randomization.{key} must be [low, high], 0 <= low <= high")
        delay = self.control_delay_steps
        if delay is not None and (len(delay) != 2 or not 0 <= delay[0] <= delay[1]):
            raise ConfigError("task.randomization.control_delay_steps must be [low, high] >= 0")
        seconds = self.control_delay_s
        if len(seconds) != 2 or not 0.0 <= seconds[0] <= seconds[1] < math.inf:
            raise ConfigError(
                "task.randomization.control_delay_s must be [low, high], 0 <= low <= high"
            )
        if len(self.com_offset_m) != 3:
            raise ConfigError("task.randomization.com_offset_m must have 3 entries (x, y, z)")
        for key in ("torque_noise_scale", "torque_offset_scale"):
            if not 0.0 <= getattr(self, key) < math.inf:
                raise ConfigError(f"task.randomization.{key} must be a finite number >= 0")
        for key in ("friction", "body_mass_scale", "kp_scale", "kd_scale", "com_offset_m"):
            for value in getattr(self, key):
                check_range(f"task.randomization.{key}", value)
        check_range(
            "task.randomization.push_interval_s[0]", self.push_interval_s[0], 0.0, low_open=True
        )
        check_range("task.randomization.push_velocity_mps", self.push_velocity_mps, 0.0)


@dataclass
class MotionCfg:
    """Reference clips and how episodes start in them."""

    files: list[str] = field(default_factory=list)
    """Robot clip ``.npz`` files (one tracker for all)."""
    random_start: bool = True
    """Reference-state initialisation at a random phase (off: start at 0)."""
    adaptive_sampling: bool = False
    """Weight start times by recent failure rate (BeyondMimic-style bins)."""
    bin_s: float = 1.0
    sampling_alpha: float = 1e-3
    uniform_ratio: float = 0.1

    def __post_init__(self) -> None:
        """Check the sampling settings."""
        check_range("task.motion.bin_s", self.bin_s, 0.0, low_open=True)
        check_range("task.motion.sampling_alpha", self.sampling_alpha, 0.0, 1.0)
        check_range("task.motion.uniform_ratio", self.uniform_ratio, 0.0, 1.0)


@dataclass
class TaskCfg:
    """The motion-tracking environment."""

    robot: str = "g1_23dof_lock_wrist"
    motion: MotionCfg = field(default_factory=MotionCfg)
    action_scale: float = 0.25
    action_mode: str = "default"
    """Base of the joint targets ``q* = base + action_scale · a``: ``default`` (the default
    pose, PBHC) or ``residual`` (the reference joint angles one control step ahead, so the
    zero action already tracks the reference through the PD loop)."""
    observations: dict[str, ObsGroupCfg] = field(default_factory=dict)
    noise: bool = True
    rewards: dict[str, RewardTermCfg] = field(default_factory=dict)
    terminations: dict[str, TerminationTermCfg] = field(default_factory=dict)
    sigma: SigmaCfg = field(default_factory=SigmaCfg)
    curriculum: CurriculumCfg = field(default_factory=CurriculumCfg)
    randomization: RandomizationCfg = field(default_factory=RandomizationCfg)
    assist: AssistCfg = field(default_factory=AssistCfg)

    def __post_init__(self) -> None:
        """Check groups and sigma keys."""
        for group in ("actor", "critic"):
            if self.observations and group not in self.observations:
                raise ConfigError(f"task.observations must have a '{group}' group")
        for group, gcfg in self.observations.items():
            where = f"task.observations.{group}"
            check_range(f"{where}.clip", gcfg.clip, 0.0, low_open=True)
            for name, obs in gcfg.terms.items():
                check_range(f"{where}.terms.{name}.scale", obs.scale)
                check_range(f"{where}.terms.{name}.noise", obs.noise, 0.0)
            _refuse_aliased_twice(f"{where}.terms", gcfg.terms, "observation")
            unknown = [t for t in gcfg.history_terms if t not in gcfg.terms]
            if unknown:
                raise ConfigError(
                    f"task.observations.{group}.history_terms: {unknown} are not terms of the group"
                )
        for name, term in self.rewards.items():
            if term.sigma and term.sigma not in self.sigma.initial:
                raise ConfigError(
                    f"task.rewards.{name}.sigma: '{term.sigma}' not in task.sigma.initial"
                )
        check_range("task.action_scale", self.action_scale, 0.0, low_open=True)
        for name, term in self.rewards.items():
            check_range(f"task.rewards.{name}.weight", term.weight)
        if self.action_mode not in ACTION_MODES:
            raise ConfigError(
                f"task.action_mode must be one of {', '.join(ACTION_MODES)}, got"
                f" '{self.action_mode}'"
            )


def _refuse_aliased_twice(where: str, terms: dict[str, Any], kind: str) -> None:
    """Refuse a term listed under both its name and its PBHC alias (an override written
    with the old name would otherwise add the same observation a second time)."""
    for old, new in TERM_ALIASES[kind].items():
        if old in terms and new in terms:
            raise ConfigError(
                f"{where}: '{old}' and '{new}' are the same {kind} term ('{old}' is PBHC's"
                f" name for '{new}'); keep one"
            )
