"""PPO training of a tracking policy with rsl-rl's ``OnPolicyRunner``.

A run folder ``<out_dir>/<experiment>/<timestamp>/`` holds ``config.yaml`` (the resolved
:class:`~humimic.config.train.TrainCfg`), checkpoints ``model_<iterations>.pt`` (policy,
critic, optimiser and observation normalisers from rsl-rl, plus the env's adaptive state:
σ, curricula, sampling statistics, and the torch RNG state, under ``infos``) and
TensorBoard event files. Ctrl-C saves a checkpoint before stopping.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import re
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rsl_rl.runners import OnPolicyRunner
from rsl_rl.utils import check_nan

from humimic.config.train import AlgoCfg, SimCfg, TrainCfg
from humimic.errors import ConfigError, HumimicError, InputFileError
from humimic.files import atomic_write, check_can_create_folder
from humimic.runs import RunDir


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
        },
    }


class TrackingRunner(OnPolicyRunner):
    """``OnPolicyRunner`` whose checkpoints carry the env's adaptive state, with a progress
    bar and Ctrl-C checkpointing. ``current_learning_iteration`` counts finished iterations.

    Several processes (``torchrun``/``humimic train --nproc``) train one policy: rsl-rl
    averages gradients and normaliser statistics across ranks; here that also works between
    CPU processes (gloo), not only CUDA devices (nccl). Rank 0 alone writes files.
    """

    def _configure_multi_gpu(self) -> None:
        """rsl-rl's setup on CUDA; the same rank bookkeeping with gloo on the CPU."""
        if not self.device.startswith("cpu"):
            super()._configure_multi_gpu()
            return
        world = distributed_world()
        self.gpu_world_size, self.is_distributed = world.size, world.size > 1
        self.gpu_local_rank, self.gpu_global_rank = world.local_rank, world.rank
        if not self.is_distributed:
            self.cfg["multi_gpu"] = None
            return
        self.cfg["multi_gpu"] = {
            "global_rank": world.rank, "local_rank": world.local_rank, "world_size": world.size,
        }  # fmt: skip
        if not torch.distributed.is_initialized():
            torch.distributed.init_process_group("gloo", rank=world.rank, world_size=world.size)

    @property
    def is_main(self) -> bool:
        """Rank 0 (or the only process): the one that writes checkpoints and logs."""
        return self.gpu_global_rank == 0

    def save(self, path: str, infos: dict | None = None) -> None:
        """Write rsl-rl's state plus ``env.state_dict()`` and the RNG state in ``infos``.

        Only tensors and plain types go in, so :func:`load_checkpoint` reads it with
        ``weights_only=True``; the file appears under its name only once complete.
        """
        if not self.is_main:
            return
        extra = {"env": self.env.state_dict(), "torch_rng": torch.get_rng_state()}
        saved = self.alg.save()
        saved["iter"] = self.current_learning_iteration
        saved["infos"] = {**(infos or {}), **extra}
        buffer = io.BytesIO()  # torch's own file writer hides the OS error (disk full)
        torch.save(saved, buffer)
        atomic_write(path, lambda tmp: tmp.write_bytes(buffer.getbuffer()))
        self.logger.save_model(path, self.current_learning_iteration)

    def load(self, path: str, load_cfg: dict | None = None, strict: bool = True,
             map_location: str | None = None) -> dict:  # fmt: skip
        """Load a checkpoint (models, optimiser, iteration, env state, RNG) without
        unpickling code (rsl-rl's own ``load`` uses ``weights_only=False``)."""
        return self.restore(load_checkpoint(path, map_location), load_cfg, strict)

    def restore(self, loaded: dict, load_cfg: dict | None = None, strict: bool = True) -> dict:
        """Apply a checkpoint read by :func:`load_checkpoint`; returns its ``infos``."""
        if self.alg.load(loaded, load_cfg, strict):
            self.current_learning_iteration = int(loaded["iter"])
        infos = loaded.get("infos") or {}
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
        """Collect, update and log ``num_learning_iterations`` times; Ctrl-C saves first.

        ``time_limit_s`` > 0 ends the loop after the first iteration that reaches it.
        """
        t_end = time.monotonic() + time_limit_s if time_limit_s > 0 else math.inf
        obs = self.env.get_observations().to(self.device)
        self.alg.train_mode()
        if self.is_distributed:  # every rank starts from rank 0's weights
            self.alg.broadcast_parameters()
        if self.logger.writer is None:
            self.logger.init_logging_writer()
        start = self.current_learning_iteration
        bar = _progress(num_learning_iterations, progress and self.is_main)
        try:
            for it in range(start, start + num_learning_iterations):
                obs = self._iteration(it, start, num_learning_iterations, obs, progress)
                self.current_learning_iteration = it + 1
                if self.current_learning_iteration % self.cfg["save_interval"] == 0:
                    self.save(str(self.checkpoint_path()))
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix_str(f"{self._steps_per_s:.0f} steps/s", refresh=False)
                if time.monotonic() >= t_end:
                    break
        except KeyboardInterrupt:
            self.save(str(self.checkpoint_path()))
            raise
        finally:
            if bar is not None:
                bar.close()
        self.save(str(self.checkpoint_path()))

    def _iteration(self, it: int, start: int, count: int, obs: Any, quiet: bool) -> Any:
        t0 = time.time()
        with torch.inference_mode():
            for _ in range(self.cfg["num_steps_per_env"]):
                actions = self.alg.act(obs)
                obs, rewards, dones, extras = self.env.step(actions.to(self.env.device))
                if self.cfg.get("check_for_nan", True):
                    check_nan(obs, rewards, dones)
                self.alg.process_env_step(obs, rewards, dones, extras)
                self.logger.process_env_step(rewards, dones, extras, None)
            collect = time.time() - t0
            self.alg.compute_returns(obs)
        t1 = time.time()
        collect_threads = torch.get_num_threads()
        torch.set_num_threads(self.update_threads)  # the physics pool is idle meanwhile
        try:
            loss = self.alg.update()
        finally:
            torch.set_num_threads(collect_threads)
        learn = time.time() - t1
        steps = self.cfg["num_steps_per_env"] * self.env.num_envs
        self._steps_per_s = steps / max(collect + learn, 1e-9)
        sink = io.StringIO() if quiet else None
        with contextlib.redirect_stdout(sink) if sink else contextlib.nullcontext():
            self.logger.log(
                it=it, start_it=start, total_it=start + count, collect_time=collect,
                learn_time=learn, loss_dict=loss, learning_rate=self.alg.learning_rate,
                action_std=self.alg.get_policy().output_std, rnd_weight=None,
            )  # fmt: skip
        return obs

    _steps_per_s = 0.0
    update_threads = 1
    """Torch threads of the PPO update (set by :func:`build_runner`)."""


CHECKPOINT_KEYS = ("actor_state_dict", "critic_state_dict", "optimizer_state_dict", "iter")
"""Entries every humimic checkpoint has (rsl-rl's layout)."""


def load_checkpoint(path: str | Path, map_location: str | None = None) -> dict[str, Any]:
    """Read a ``model_<k>.pt`` with ``torch.load(weights_only=True)``: tensors and plain
    containers only, so a crafted file cannot run code while it is read.

    Raises:
        InputFileError: not a readable checkpoint, or one that asks to unpickle code.
    """
    import pickle

    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "checkpoint not found")
    try:
        loaded = torch.load(path, weights_only=True, map_location=map_location)
    except pickle.UnpicklingError as err:
        found = re.search(r"GLOBAL ([\w.]+)", str(err))
        detail = f"it names {found.group(1)}" if found else type(err).__name__
        raise InputFileError(
            path, f"refused: the checkpoint asks to run code, not only load tensors ({detail})"
        ) from err
    except Exception as err:  # torch raises many types for a corrupt file
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise InputFileError(path, f"not a readable checkpoint ({first[:160]})") from err
    if not isinstance(loaded, dict) or any(key not in loaded for key in CHECKPOINT_KEYS):
        raise InputFileError(path, "not a humimic checkpoint (no policy/optimiser state)")
    return loaded


@dataclass(frozen=True)
class World:
    """This process's place among the training processes (torchrun's environment)."""

    rank: int = 0
    local_rank: int = 0
    size: int = 1


def distributed_world() -> World:
    """Ranks from ``RANK``/``LOCAL_RANK``/``WORLD_SIZE`` (set by torchrun); one process without."""
    try:
        world = World(
            int(os.getenv("RANK", "0")),
            int(os.getenv("LOCAL_RANK", "0")),
            int(os.getenv("WORLD_SIZE", "1")),
        )
    except ValueError as err:
        raise ConfigError(f"RANK/LOCAL_RANK/WORLD_SIZE must be integers ({err})") from err
    if not 0 <= world.rank < world.size or not 0 <= world.local_rank < world.size:
        raise ConfigError(
            f"RANK {world.rank} / LOCAL_RANK {world.local_rank} outside WORLD_SIZE {world.size}"
        )
    return world


def share_machine(sim: SimCfg, world: World) -> SimCfg:
    """Per-process sim settings when several training processes share a machine.

    On CUDA each process takes the device of its local rank; on the CPU the physics
    threads are split between the processes of this machine (``LOCAL_WORLD_SIZE``).
    """
    if world.size == 1:
        return sim
    if sim.device.startswith("cuda"):
        return replace(sim, device=f"cuda:{world.local_rank}")
    local = int(os.getenv("LOCAL_WORLD_SIZE", str(world.size)))
    if sim.physics_threads == 0:
        cores = len(os.sched_getaffinity(0))
        return replace(sim, physics_threads=max(1, cores // max(local, 1)))
    return sim


def update_threads(sim: SimCfg, world: World) -> int:
    """Torch threads for the PPO update: ``sim.update_threads``, or the usable cores
    divided among the training processes of this machine."""
    if sim.update_threads > 0:
        return sim.update_threads
    local = int(os.getenv("LOCAL_WORLD_SIZE", str(world.size)))
    return max(1, len(os.sched_getaffinity(0)) // max(local, 1))


def _progress(total: int, enabled: bool) -> Any:
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="it", desc="train", dynamic_ncols=True)


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
    from omegaconf import OmegaConf

    text = OmegaConf.to_yaml(OmegaConf.structured(cfg))
    return atomic_write(RunDir(run_dir).config, lambda p: p.write_text(text))


def load_run_config(run_dir: Path) -> TrainCfg:
    """The :class:`TrainCfg` saved in a run folder."""
    from omegaconf import DictConfig, OmegaConf

    path = RunDir(run_dir).config
    if not path.is_file():
        raise InputFileError(path, "no config.yaml: not a humimic run folder")
    try:
        loaded = OmegaConf.load(path)
        if not isinstance(loaded, DictConfig):
            raise InputFileError(path, "not a mapping of config keys")
        cfg = OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(TrainCfg), loaded))
    except HumimicError as err:
        if isinstance(err, InputFileError):
            raise
        raise InputFileError(path, str(err)) from err
    except Exception as err:  # YAML and OmegaConf raise many types
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise InputFileError(path, f"not a valid run config ({first})") from err
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
    env = TrackingEnv(cfg.task, sim, seed=seed)
    train_cfg = rsl_train_cfg(cfg.algo, cfg.runner.save_interval)
    log_dir = str(run_dir) if run_dir and world.rank == 0 else None
    with contextlib.redirect_stdout(io.StringIO()):  # rsl-rl prints the networks
        runner = TrackingRunner(env, train_cfg, log_dir, sim.device)
    runner.update_threads = update_threads(sim, world)
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
