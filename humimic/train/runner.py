"""PPO training of a tracking policy with rsl-rl's ``OnPolicyRunner``.

A run folder ``<out_dir>/<experiment>/<timestamp>/`` holds ``config.yaml`` (the resolved
:class:`~humimic.config.train.TrainCfg`), checkpoints ``model_<iterations>.pt`` (policy,
critic, optimiser and observation normalisers from rsl-rl, plus the env's adaptive state:
σ, curricula, sampling statistics, and the torch RNG state, under ``infos``) and
TensorBoard event files. Ctrl-C saves a checkpoint before stopping.
"""

from __future__ import annotations

import contextlib
import functools
import io
import math
import os
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rsl_rl.runners import OnPolicyRunner

from humimic.config.store import load_yaml, to_yaml
from humimic.config.train import AlgoCfg, TrainCfg
from humimic.errors import ConfigError, HumimicError, InputFileError
from humimic.files import atomic_write, check_can_create_folder
from humimic.runs import RunDir
from humimic.train.checkpoint import load_checkpoint, write_checkpoint
from humimic.train.distributed import (
    World,
    configure_cpu_processes,
    distributed_world,
    share_machine,
    update_threads,
)
from humimic.train.noise_invariance import symmetry_cfg
from humimic.train.ppo import SplitRatePPO
from humimic.train.prior import BUILTIN, resolve_init_from, start_from
from humimic.train.progress import ProgressBar, TrainingLogger

__all__ = ["World", "distributed_world", "load_checkpoint", "share_machine"]
"""Re-exported for callers that import them from here (their home is named above)."""


def rsl_train_cfg(algo: AlgoCfg, save_interval: int) -> dict[str, Any]:
    """rsl-rl's ``train_cfg`` dict from the PPO settings (asymmetric actor-critic)."""
    net = {"class_name": "MLPModel", "activation": algo.activation}
    return {
        "num_steps_per_env": algo.num_steps_per_env,
        "save_interval": save_interval,
        "logger": "tensorboard",
        "obs_groups": {"actor": ["actor"], "critic": ["critic"]},
        "actor": {
            **net,
            "hidden_dims": list(algo.actor_hidden_dims),
            "obs_normalization": algo.obs_normalization,
            "distribution_cfg": {
                "class_name": "GaussianDistribution",
                "init_std": algo.init_std,
                "std_type": "scalar",
            },
        },
        "critic": {
            **net,
            "hidden_dims": list(algo.critic_hidden_dims),
            "obs_normalization": algo.obs_normalization,
        },
        "algorithm": {
            "class_name": "humimic.train.ppo:SplitRatePPO",
            "critic_learning_rate": algo.critic_learning_rate,
            "num_learning_epochs": algo.num_learning_epochs,
            "num_mini_batches": algo.num_mini_batches,
            "learning_rate": algo.learning_rate,
            "schedule": algo.schedule,
            "gamma": algo.gamma,
            "lam": algo.lam,
            "entropy_coef": algo.entropy_coef,
            "desired_kl": algo.desired_kl,
            "max_grad_norm": algo.max_grad_norm,
            "value_loss_coef": algo.value_loss_coef,
            "clip_param": algo.clip_param,
            "use_clipped_value_loss": True,
            "symmetry_cfg": symmetry_cfg(algo.noise_invariance_coef),
        },
    }


class _TimeLimitReachedError(Exception):
    """Raised from the per-iteration callback to end rsl-rl's loop at the time limit."""


class TrackingRunner(OnPolicyRunner):
    """rsl-rl's ``OnPolicyRunner``, used through its extension points.

    What rsl-rl does not do, and how it is added:

    - checkpoints carry the env's adaptive state and the RNG, are written atomically and
      read without unpickling code (:meth:`save`/:meth:`load` overrides);
    - ``current_learning_iteration`` counts *finished* iterations and checkpoints are named
      by it (``model_<k>.pt`` after k iterations, every ``save_interval``); rsl-rl names
      them by the 0-based index of the last iteration, so a resume repeats one number;
    - a progress bar, Ctrl-C saving and a wall-time limit (:meth:`learn` around rsl-rl's
      loop, with :class:`~humimic.train.progress.TrainingLogger`'s callback);
    - several CPU processes train one policy over gloo, not only CUDA devices over nccl
      (:func:`~humimic.train.distributed.configure_cpu_processes`). Rank 0 alone writes.
    """

    def __init__(self, env: Any, train_cfg: dict[str, Any], log_dir: str | None = None,
                 device: str = "cpu") -> None:  # fmt: skip
        """rsl-rl's runner, with its logger replaced by :class:`TrainingLogger`."""
        super().__init__(env, train_cfg, log_dir, device)
        self.logger = TrainingLogger(
            log_dir=log_dir, cfg=self.cfg, env_cfg=self.env.cfg, num_envs=self.env.num_envs,
            is_distributed=self.is_distributed, gpu_world_size=self.gpu_world_size,
            gpu_global_rank=self.gpu_global_rank, device=self.device,
        )  # fmt: skip
        self._learning = False
        self._steps_per_s = 0.0

    def _configure_multi_gpu(self) -> None:
        """rsl-rl's set-up on CUDA; the same rank bookkeeping with gloo on the CPU."""
        if self.device.startswith("cpu"):
            configure_cpu_processes(self)
        else:
            super()._configure_multi_gpu()

    @property
    def is_main(self) -> bool:
        """Rank 0 (or the only process): the one that writes checkpoints and logs."""
        return self.gpu_global_rank == 0

    def save(self, path: str, infos: dict[str, Any] | None = None) -> None:
        """Write rsl-rl's state plus ``env.state_dict()`` and the RNG state in ``infos``.

        Only tensors and plain types go in, so :func:`load_checkpoint` reads it with
        ``weights_only=True``; the file appears under its name only once complete.
        While :meth:`learn` runs, rsl-rl's own calls (0-based names) are skipped: learn
        saves by finished iterations instead.
        """
        if self.is_main and not self._learning:
            self._write(path, infos)

    def _write(self, path: str, infos: dict[str, Any] | None = None) -> None:
        extra = {"env": self.env.state_dict(), "torch_rng": torch.get_rng_state()}
        saved = self.alg.save()
        saved["iter"] = self.current_learning_iteration
        saved["infos"] = {**(infos or {}), **extra}
        write_checkpoint(path, saved)
        self.logger.save_model(path, self.current_learning_iteration)

    def load(self, path: str, load_cfg: dict[str, Any] | None = None, strict: bool = True,
             map_location: str | None = None) -> dict[str, Any]:  # fmt: skip
        """Load a checkpoint (models, optimiser, iteration, env state, RNG) without
        unpickling code (rsl-rl's own ``load`` uses ``weights_only=False``)."""
        return self.restore(load_checkpoint(path, map_location), load_cfg, strict)

    def restore(self, loaded: dict[str, Any], load_cfg: dict[str, Any] | None = None,
                strict: bool = True) -> dict[str, Any]:  # fmt: skip
        """Apply a checkpoint read by :func:`load_checkpoint`; returns its ``infos``."""
        if self.alg.load(loaded, load_cfg, strict):
            self.current_learning_iteration = int(loaded["iter"])
        infos: dict[str, Any] = loaded.get("infos") or {}
        if "env" in infos:
            self.env.load_state_dict(infos["env"])
        if "torch_rng" in infos:
            torch.set_rng_state(infos["torch_rng"])
        return infos

    def checkpoint_path(self) -> Path:
        """Where the checkpoint of the current iteration count goes."""
        return RunDir(Path(self.logger.log_dir or ".")).checkpoint(self.current_learning_iteration)

    def learn(self, num_learning_iterations: int, init_at_random_ep_len: bool = False,
              progress: bool = True, time_limit_s: float = 0.0) -> None:  # fmt: skip
        """rsl-rl's loop (collect, update, log) ``num_learning_iterations`` times, then a
        checkpoint; Ctrl-C saves one before it propagates.

        ``progress`` shows a bar instead of rsl-rl's table; ``time_limit_s`` > 0 ends
        the loop after the first iteration that reaches it. Checkpoints are written only
        where rsl-rl logs (rank 0 of a runner with a run folder).
        """
        t_end = time.monotonic() + time_limit_s if time_limit_s > 0 else math.inf
        bar = ProgressBar(num_learning_iterations, progress and self.is_main)
        self.logger.quiet = progress
        self.logger.on_iteration = functools.partial(self._finished, bar=bar, t_end=t_end)
        self._learning = True
        try:
            super().learn(num_learning_iterations, init_at_random_ep_len)
        except _TimeLimitReachedError:
            pass
        except KeyboardInterrupt:
            self._learning = False
            self._save_checkpoint()
            raise
        finally:
            self._learning = False
            self.logger.on_iteration = None
            bar.close()
        self._save_checkpoint()

    def _finished(self, it: int, collect_s: float, learn_s: float, *, bar: ProgressBar,
                  t_end: float) -> None:  # fmt: skip
        """After iteration ``it`` (0-based): count it, save every ``save_interval``,
        update the bar, stop at the time limit."""
        self.current_learning_iteration = it + 1
        if self.current_learning_iteration % self.cfg["save_interval"] == 0:
            self._save_checkpoint()
        steps = self.cfg["num_steps_per_env"] * self.env.num_envs
        self._steps_per_s = steps / max(collect_s + learn_s, 1e-9)
        bar.update(self._steps_per_s)
        if time.monotonic() >= t_end:
            raise _TimeLimitReachedError

    def _save_checkpoint(self) -> None:
        """The checkpoint of the current iteration count, where rsl-rl logs."""
        if self.logger.writer is not None:
            self._write(str(self.checkpoint_path()))


def make_run_dir(cfg: TrainCfg) -> Path:
    """``runner.run_dir``, else the folder of ``runner.resume`` (a resumed run continues in
    place), else ``<out_dir>/<experiment>/<UTC timestamp>``."""
    if cfg.runner.run_dir:
        return Path(cfg.runner.run_dir)
    if cfg.runner.resume:
        return Path(cfg.runner.resume).parent
    return RunDir.new(cfg.runner.out_dir, cfg.runner.experiment, datetime.now(UTC)).root


def save_config(cfg: TrainCfg, run_dir: Path) -> Path:
    """Write the resolved config as YAML into the run folder (atomically)."""
    text = to_yaml(cfg)
    return atomic_write(RunDir(run_dir).config, lambda p: p.write_text(text))


def load_run_config(run_dir: Path) -> TrainCfg:
    """The :class:`TrainCfg` saved in a run folder.

    Raises:
        InputFileError: no, or a damaged, ``config.yaml`` (one line naming it).
    """
    path = RunDir(run_dir).config
    if not path.is_file():
        raise InputFileError(path, "no config.yaml: not a humimic run folder")
    cfg = load_yaml(path, "train")
    assert isinstance(cfg, TrainCfg)
    return cfg


def build_runner(cfg: TrainCfg, run_dir: Path | None) -> TrackingRunner:
    """Env + runner from a config (no training); resumes when ``runner.resume`` is set."""
    from humimic.envs.tracking_env import TrackingEnv

    world = distributed_world()
    sim = share_machine(cfg.sim, world)
    if sim.torch_threads > 0:
        torch.set_num_threads(sim.torch_threads)
    seed = cfg.runner.seed + world.rank  # each process samples its own episodes
    torch.manual_seed(seed)
    np.random.seed(seed)
    resume = Path(cfg.runner.resume) if cfg.runner.resume else None
    if resume is not None and not resume.is_file():
        raise ConfigError(f"runner.resume: checkpoint {resume} does not exist")
    checkpoint = load_checkpoint(resume, "cpu") if resume is not None else None  # before sim
    init_from = resolve_init_from(cfg.runner.init_from)
    if init_from is not None and cfg.runner.init_from != BUILTIN and not init_from.is_file():
        raise InputFileError(init_from, "checkpoint not found (runner.init_from)")
    env = TrackingEnv(cfg.task, sim, seed=seed)
    train_cfg = rsl_train_cfg(cfg.algo, cfg.runner.save_interval)
    log_dir = str(run_dir) if run_dir and world.rank == 0 else None
    with contextlib.redirect_stdout(io.StringIO()):  # rsl-rl prints the networks
        runner = TrackingRunner(env, train_cfg, log_dir, sim.device)
    assert isinstance(runner.alg, SplitRatePPO)  # rsl_train_cfg names it
    runner.alg.update_threads = update_threads(sim, world)
    # Record the humimic checkout's git state in the run folder, not rsl-rl's.
    runner.logger.git_status_repos = [str(Path(__file__).resolve())]
    if checkpoint is not None:
        try:
            runner.restore(checkpoint)
        except (RuntimeError, KeyError, TypeError, ValueError) as err:  # shape mismatch
            env.close()
            first = str(err).splitlines()[0]
            raise ConfigError(
                f"runner.resume: {resume} does not fit this config ({first})"
            ) from err
    if checkpoint is None:  # a resume (also eval's and export's) restores its own networks
        try:
            start_from(runner.alg, cfg.runner.init_from)
        except HumimicError:
            env.close()
            raise
    return runner


def train(cfg: TrainCfg) -> Path:
    """Train a tracking policy; returns the run folder (config, checkpoints, logs).

    Raises:
        ConfigError: Invalid config, found before any simulation.
    """
    run_dir = make_run_dir(cfg)
    check_can_create_folder(run_dir, "run folder")
    cfg = replace(cfg, runner=replace(cfg.runner, run_dir=str(run_dir)))
    runner = build_runner(cfg, run_dir)
    if runner.is_main:
        try:
            os.makedirs(run_dir, exist_ok=True)
            save_config(cfg, run_dir)
        except (OSError, HumimicError) as err:
            runner.env.close()
            if isinstance(err, HumimicError):
                raise
            raise ConfigError(f"run folder {run_dir}: cannot create ({err.strerror})") from err
    if cfg.runner.progress and runner.is_main:
        print(runner.env.describe())
        print(f"run folder: {run_dir}")
        if runner.is_distributed:
            print(f"{runner.gpu_world_size} processes x {cfg.sim.num_envs} worlds")
    try:
        runner.learn(
            cfg.runner.iterations, progress=cfg.runner.progress,
            time_limit_s=60.0 * cfg.runner.time_limit_min,
        )  # fmt: skip
    finally:
        runner.env.close()
        if runner.is_distributed:
            torch.distributed.destroy_process_group()
    if runner.is_main and runner.logger.writer is not None:
        from humimic.train.curves import plot_training_curves

        runner.logger.writer.flush()
        plot_training_curves(run_dir)
    return run_dir
