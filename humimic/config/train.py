"""Schema of ``configs/train.yaml``: the tracking task (:mod:`humimic.config.task`),
simulation, PPO and the run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from humimic.config.checks import check_range
from humimic.config.task import (
    ACTION_MODES,
    AssistCfg,
    CurriculumCfg,
    MotionCfg,
    ObsGroupCfg,
    ObsTermCfg,
    RandomizationCfg,
    RewardTermCfg,
    SigmaCfg,
    TaskCfg,
    TerminationTermCfg,
)
from humimic.errors import ConfigError

__all__ = [  # the task schema is importable from here too (its home: config.task)
    "ACTION_MODES",
    "AlgoCfg",
    "AssistCfg",
    "CurriculumCfg",
    "MotionCfg",
    "ObsGroupCfg",
    "ObsTermCfg",
    "RandomizationCfg",
    "RewardTermCfg",
    "RunnerCfg",
    "SigmaCfg",
    "SimCfg",
    "TaskCfg",
    "TerminationTermCfg",
    "TrainCfg",
    "check_range",
]  # fmt: skip

ACTIVATIONS = ("elu", "selu", "relu", "crelu", "lrelu", "tanh", "sigmoid", "softplus", "gelu",
               "swish", "mish", "identity")  # fmt: skip
"""Network activations rsl-rl knows (:attr:`AlgoCfg.activation`)."""
MAX_SEED = 2**32 - 1
"""numpy seeds must lie in [0, 2**32 - 1]."""


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
    noise_invariance_coef: float = 0.0
    """Weight of the actor's sensor-noise invariance loss (0: off;
    :mod:`humimic.train.noise_invariance`)."""
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
        check_range("algo.noise_invariance_coef", self.noise_invariance_coef, 0.0)
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
    init_from: str = ""
    """Checkpoint whose networks start this run (actor with its action std and observation
    normaliser, critic); the optimiser, iteration count and the env's curricula start fresh.
    A warm start from a tracker trained on other clips. ``builtin``: the shipped prior
    (``priors/``; the ``cpu`` preset's default), skipped with a note when this config's
    networks differ from it; ``""`` or ``none``: from scratch. Ignored when ``resume`` is
    set: continuing the run (or evaluating, exporting it) restores its own networks."""
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
