"""Several training processes, one policy: ranks from torchrun, and rsl-rl's multi-GPU
set-up extended to CPU processes (gloo instead of nccl).

rsl-rl averages gradients and normaliser statistics across ranks through
``torch.distributed``; its own set-up insists on one CUDA device per rank.
:func:`configure_cpu_processes` does the same rank bookkeeping for CPU devices.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import torch

from humimic.config.train import SimCfg
from humimic.errors import ConfigError

if TYPE_CHECKING:
    from rsl_rl.runners import OnPolicyRunner


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


def configure_cpu_processes(runner: OnPolicyRunner) -> None:
    """rsl-rl's rank bookkeeping (``gpu_*`` attributes, ``cfg["multi_gpu"]``) for CPU
    processes, joining a gloo process group when there are several."""
    world = distributed_world()
    runner.gpu_world_size, runner.is_distributed = world.size, world.size > 1
    runner.gpu_local_rank, runner.gpu_global_rank = world.local_rank, world.rank
    if not runner.is_distributed:
        runner.cfg["multi_gpu"] = None
        return
    runner.cfg["multi_gpu"] = {
        "global_rank": world.rank, "local_rank": world.local_rank, "world_size": world.size,
    }  # fmt: skip
    if not torch.distributed.is_initialized():
        torch.distributed.init_process_group("gloo", rank=world.rank, world_size=world.size)


def _local_processes(world: World) -> int:
    """Training processes on this machine (torchrun's ``LOCAL_WORLD_SIZE``)."""
    return max(int(os.getenv("LOCAL_WORLD_SIZE", str(world.size))), 1)


def share_machine(sim: SimCfg, world: World) -> SimCfg:
    """Per-process sim settings when several training processes share a machine.

    On CUDA each process takes the device of its local rank; on the CPU the physics
    threads are split between the processes of this machine (``LOCAL_WORLD_SIZE``).
    """
    if world.size == 1:
        return sim
    if sim.device.startswith("cuda"):
        return replace(sim, device=f"cuda:{world.local_rank}")
    if sim.physics_threads == 0:
        cores = len(os.sched_getaffinity(0))
        return replace(sim, physics_threads=max(1, cores // _local_processes(world)))
    return sim


def update_threads(sim: SimCfg, world: World) -> int:
    """Torch threads for the PPO update: ``sim.update_threads``, or the usable cores
    divided among the training processes of this machine."""
    if sim.update_threads > 0:
        return sim.update_threads
    return max(1, len(os.sched_getaffinity(0)) // _local_processes(world))
