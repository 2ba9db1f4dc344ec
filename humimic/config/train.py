"""Schema of ``configs/train.yaml``: the tracking task, simulation, PPO and the run.

Term functions are named, not imported: ``fn`` is a name registered in
:mod:`humimic.envs.terms`, and ``params`` are bound to its signature when the env is built
(before the simulator starts), so a misspelt term or parameter fails early, naming the key.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from humimic.errors import ConfigError

ACTION_MODES = ("default", "residual")
"""Joint-target bases (:attr:`TaskCfg.action_mode`)."""
ACTIVATIONS = ("elu", "selu", "relu", "crelu", "lrelu", "tanh", "sigmoid", "softplus", "gelu",
               "swish", "mish", "identity")  # fmt: skip
"""Network activations rsl-rl knows (:attr:`AlgoCfg.activation`)."""
MAX_SEED = 2**32 - 1
"""numpy seeds must lie in [0, 2**32 - 1]."""


def check_range(
    key: str,
    value: float,
    low: float = -math.inf,
    high: float = math.inf,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> None:
    """Require a finite ``value`` in the interval from ``low`` to ``high``.

    ``low_open``/``high_open`` exclude that end. NaN and ±inf are always refused.

    Raises:
        ConfigError: naming ``key``, the interval and the value.
    """
    ok = isinstance(value, (int, float)) and math.isfinite(value)
    ok = ok and (value > low if low_open else value >= low)
    ok = ok and (value < high if high_open else value <= high)
    if not ok:
        if high == math.inf and low == -math.inf:
            where = ""
        elif high == math.inf:
            where = f" {'>' if low_open else '>='} {low:g}"
        else:
            left, right = "(" if low_open else "[", ")" if high_open else "]"
            where = f" in {left}{low:g}, {high:g}{right}"
        raise ConfigError(f"{key} must be a finite number{where}, got {value}")


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
class CurriculumCfg:
    """Penalty scale and motion-far distance, driven by the average episode length."""

    enabled: bool = True
    penalty_scale: float = 0.1
    penalty_rate: float = 1e-5
    far_distance_m: float = 1.5
    far_rate: float = 2.5e-5
    far_min_m: float = 0.3
    far_max_m: float = 2.0
    low_steps: float = 40.0
    high_steps: float = 42.0

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
    control_delay_steps: list[int] = field(default_factory=lambda: [0, 2])
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
        if len(delay) != 2 or not 0 <= delay[0] <= delay[1]:
            raise ConfigError("task.randomization.control_delay_steps must be [low, high] >= 0")
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

    def __post_init__(self) -> None:
        """Check groups and sigma keys."""
        for group in ("actor", "critic"):
            if self.observations and group not in self.observations:
                raise ConfigError(f"task.observations must have a '{group}' group")
        for group, gcfg in self.observations.items():
            where = f"task.observations.{group}"
            check_range(f"{where}.clip", gcfg.clip, 0.0, low_open=True)
            for name, term in gcfg.terms.items():
                check_range(f"{where}.terms.{name}.scale", term.scale)
                check_range(f"{where}.terms.{name}.noise", term.noise, 0.0)
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


@dataclass
class SimCfg:
    """Physics backend and timing."""

    backend: str = "mujoco"
    num_envs: int = 128
    physics_dt: float = 0.005
    decimation: int = 4
    device: str = "cpu"
    torch_threads: int = 1
    """Torch intra-op threads while collecting (0: torch's default). One is fastest on a
    small shared CPU: more threads oversubscribe the cores that the physics thread pool uses
    (10x slower PPO updates measured on 2 cores)."""
    update_threads: int = 0
    """Torch threads during the PPO update, when the physics pool is idle (0: the usable
    cores divided among this machine's training processes). Two threads instead of one
    made the update 1.6x faster on 2 cores (docs/training.md)."""
    physics_threads: int = 0
    """Threads stepping the ``mujoco`` backend's worlds (0: one per usable core, or the
    cores divided among the training processes of this machine)."""

    @property
    def control_dt(self) -> float:
        """Policy period, s."""
        return self.physics_dt * self.decimation

    def __post_init__(self) -> None:
        """Check counts and the backend name."""
        if self.backend not in ("mujoco", "mujoco_warp"):
            raise ConfigError(f"sim.backend must be mujoco or mujoco_warp, got '{self.backend}'")
        if self.num_envs < 1:
            raise ConfigError("sim.num_envs must be >= 1")
        if self.physics_threads < 0 or self.update_threads < 0:
            raise ConfigError(
                "sim.physics_threads and sim.update_threads must be >= 0 (0: automatic)"
            )
        if self.decimation < 1:
            raise ConfigError(f"sim.decimation must be >= 1, got {self.decimation}")
        check_range("sim.physics_dt", self.physics_dt, 0.0, 1.0, low_open=True)
        if self.torch_threads < 0:
            raise ConfigError(
                f"sim.torch_threads must be >= 0 (0: torch's default), got {self.torch_threads}"
            )


@dataclass
class AlgoCfg:
    """PPO (rsl-rl) and the actor/critic networks."""

    num_steps_per_env: int = 24
    num_learning_epochs: int = 5
    num_mini_batches: int = 4
    learning_rate: float = 1e-3
    """Actor learning rate (the start value of the adaptive schedule)."""
    critic_learning_rate: float = 1e-3
    """The critic's own Adam, at a fixed rate (PBHC: separate optimisers, both 1e-3)."""
    schedule: str = "adaptive"
    desired_kl: float = 0.01
    gamma: float = 0.99
    lam: float = 0.95
    clip_param: float = 0.2
    entropy_coef: float = 0.01
    value_loss_coef: float = 1.0
    max_grad_norm: float = 1.0
    init_std: float = 0.8
    actor_hidden_dims: list[int] = field(default_factory=lambda: [512, 256, 128])
    critic_hidden_dims: list[int] = field(default_factory=lambda: [768, 512, 128])
    activation: str = "elu"
    obs_normalization: bool = True

    def __post_init__(self) -> None:
        """Check the schedule and sizes."""
        if self.schedule not in ("adaptive", "fixed"):
            raise ConfigError(f"algo.schedule must be adaptive or fixed, got '{self.schedule}'")
        for key in ("num_steps_per_env", "num_learning_epochs", "num_mini_batches"):
            if getattr(self, key) < 1:
                raise ConfigError(f"algo.{key} must be >= 1, got {getattr(self, key)}")
        for key in ("learning_rate", "critic_learning_rate", "init_std", "desired_kl",
                    "clip_param", "max_grad_norm"):  # fmt: skip
            check_range(f"algo.{key}", getattr(self, key), 0.0, low_open=True)
        check_range("algo.gamma", self.gamma, 0.0, 1.0, low_open=True)
        check_range("algo.lam", self.lam, 0.0, 1.0)
        check_range("algo.entropy_coef", self.entropy_coef, 0.0)
        check_range("algo.value_loss_coef", self.value_loss_coef, 0.0)
        for key in ("actor_hidden_dims", "critic_hidden_dims"):
            dims = getattr(self, key)
            if not dims or any(d < 1 for d in dims):
                raise ConfigError(f"algo.{key} must be a non-empty list of sizes >= 1, got {dims}")
        if self.activation.lower() not in ACTIVATIONS:
            raise ConfigError(
                f"algo.activation must be one of {', '.join(ACTIVATIONS)}, got '{self.activation}'"
            )


@dataclass
class RunnerCfg:
    """Training run bookkeeping."""

    iterations: int = 1000
    time_limit_min: float = 0.0
    """Stop after this much wall time, min, even before ``iterations`` (0: no limit)."""
    save_interval: int = 100
    experiment: str = "tracking"
    out_dir: str = "runs"
    run_dir: str = ""
    """Exact run folder (default: ``<out_dir>/<experiment>/<timestamp>``)."""
    seed: int = 0
    resume: str = ""
    """Checkpoint to continue from (policy, optimiser, normaliser, sigma, curricula)."""
    progress: bool = True

    def __post_init__(self) -> None:
        """Check counts, limits and the seed (a bad value must not leave a run folder)."""
        for key in ("iterations", "save_interval"):
            if getattr(self, key) < 1:
                raise ConfigError(f"runner.{key} must be >= 1, got {getattr(self, key)}")
        check_range("runner.time_limit_min", self.time_limit_min, 0.0)
        if not 0 <= self.seed <= MAX_SEED - 1024:  # rank offsets stay in numpy's range
            raise ConfigError(f"runner.seed must be in [0, {MAX_SEED - 1024}], got {self.seed}")
        if not self.experiment.strip() or "/" in self.experiment or self.experiment in (".", ".."):
            raise ConfigError(
                f"runner.experiment must be a plain folder name, got '{self.experiment}'"
            )


@dataclass
class TrainCfg:
    """``humimic train``: everything a tracking run needs."""

    task: TaskCfg = field(default_factory=TaskCfg)
    sim: SimCfg = field(default_factory=SimCfg)
    algo: AlgoCfg = field(default_factory=AlgoCfg)
    runner: RunnerCfg = field(default_factory=RunnerCfg)
