"""PPO with separate actor and critic optimisers (PBHC), through rsl-rl's own update."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from humimic.motion.clip import save_clip
from humimic.testing.synthetic_clips import arm_wave_clip
from humimic.train.ppo import SplitRatePPO, TwoAdams
from humimic.train.runner import build_runner
from tests.train.test_train import small_cfg


@pytest.fixture(scope="module")
def clip_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_clip(arm_wave_clip(seconds=1.0), tmp_path_factory.mktemp("clips") / "wave.npz")


def test_schedule_moves_the_actor_rate_only(clip_path: Path, tmp_path: Path) -> None:
    cfg = small_cfg(
        clip_path, tmp_path / "run", "algo.schedule=adaptive", "algo.desired_kl=1e-9",
        "algo.learning_rate=1e-3", "algo.critic_learning_rate=5e-4",
    )  # fmt: skip
    runner = build_runner(cfg, tmp_path / "run")
    assert isinstance(runner.alg, SplitRatePPO)
    opt = runner.alg.optimizer
    assert isinstance(opt, TwoAdams)
    critic_before = [p.clone() for p in runner.alg.critic.parameters()]
    runner.learn(1, progress=False)
    # desired KL ~0: each minibatch after the first (KL exactly 0 before any step) divides
    # the actor rate by 1.5: 2 epochs x 2 batches -> 3 divisions.
    assert opt.actor.param_groups[0]["lr"] == pytest.approx(1e-3 / 1.5**3)
    assert opt.critic.param_groups[0]["lr"] == 5e-4
    moved = max(
        float((a.detach() - b).abs().max())
        for a, b in zip(runner.alg.critic.parameters(), critic_before, strict=True)
    )
    assert moved > 0.0
    runner.env.close()


def test_checkpoint_restores_both_optimisers(clip_path: Path, tmp_path: Path) -> None:
    cfg = small_cfg(clip_path, tmp_path / "run")
    runner = build_runner(cfg, tmp_path / "run")
    runner.learn(1, progress=False)
    saved = runner.alg.optimizer.state_dict()
    runner.env.close()
    resumed = build_runner(
        small_cfg(clip_path, tmp_path / "run2", f"runner.resume={tmp_path / 'run' / 'model_1.pt'}"),
        tmp_path / "run2",
    )
    loaded = resumed.alg.optimizer.state_dict()
    for part in ("actor", "critic"):
        steps = [s["step"] for s in loaded[part]["state"].values()]
        assert steps and all(float(s) == 4.0 for s in steps)  # 2 epochs x 2 minibatches
        for key, state in saved[part]["state"].items():
            torch.testing.assert_close(loaded[part]["state"][key]["exp_avg"], state["exp_avg"])
    resumed.env.close()
