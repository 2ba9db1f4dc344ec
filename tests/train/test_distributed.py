"""Training in several processes (torch.distributed over gloo): one policy, rank 0 writes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from humimic.config.store import compose
from humimic.config.train import SimCfg
from humimic.errors import ConfigError
from humimic.motion.clip import save_clip
from humimic.testing.synthetic_clips import arm_wave_clip
from humimic.train.runner import World, distributed_world, share_machine

WORKER = Path(__file__).with_name("dist_worker.py")


@pytest.fixture(scope="module")
def clip_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_clip(arm_wave_clip(seconds=1.0), tmp_path_factory.mktemp("clips") / "wave.npz")


def torchrun(*args: str) -> subprocess.CompletedProcess[str]:
    """Two processes on this machine through torch's own launcher."""
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    return subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
         *args],
        capture_output=True, text=True, timeout=600, env=env,
    )  # fmt: skip


def test_two_processes_keep_one_policy(clip_path: Path, tmp_path: Path) -> None:
    done = torchrun(str(WORKER), str(clip_path), str(tmp_path))
    assert done.returncode == 0, done.stderr[-2000:]
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in (0, 1)]
    # Each rank simulated its own episodes (different seeds)...
    assert not torch.allclose(ranks[0]["first_obs"], ranks[1]["first_obs"])
    # ...yet both start from rank 0's weights and end with identical, updated weights:
    # gradients were averaged across the processes.
    for key, final in ranks[0]["final"].items():
        torch.testing.assert_close(ranks[1]["final"][key], final, rtol=0, atol=1e-6)
    moved = [
        float((ranks[0]["final"][k] - ranks[0]["initial"][k]).abs().max())
        for k in ranks[0]["final"]
    ]
    assert max(moved) > 1e-4
    # Rank 0 alone wrote the run folder.
    assert sorted(p.name for p in (tmp_path / "run").glob("model_*.pt")) == ["model_2.pt"]


def test_cli_nproc_trains_into_one_run_folder(clip_path: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    done = subprocess.run(
        [sys.executable, "-m", "humimic.cli.main", "train", str(clip_path), "--nproc", "2",
         "--num-envs", "4", "--iterations", "1", "--out", str(run), "--no-progress",
         "algo.actor_hidden_dims=[32,32]", "algo.critic_hidden_dims=[32,32]",
         "algo.num_steps_per_env=8"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert (run / "model_1.pt").is_file() and (run / "config.yaml").is_file()
    assert done.stdout.count(f"run folder: {run}") == 1


def test_processes_split_the_cpu_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    sim = compose("train").sim
    assert share_machine(sim, World()) is sim
    cores = len(os.sched_getaffinity(0))
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    shared = share_machine(sim, World(rank=1, local_rank=1, size=2))
    assert shared.physics_threads == max(1, cores // 2)
    on_gpu = share_machine(SimCfg(device="cuda"), World(rank=3, local_rank=1, size=4))
    assert on_gpu.device == "cuda:1"


def test_bad_rank_variables_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "5")
    with pytest.raises(ConfigError, match="RANK 5"):
        distributed_world()
    monkeypatch.setenv("RANK", "one")
    with pytest.raises(ConfigError, match="must be integers"):
        distributed_world()
