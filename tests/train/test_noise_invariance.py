"""The actor's sensor-noise invariance loss (rsl-rl's mirror loss with a noise "mirror")."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from humimic.motion.clip import save_clip
from humimic.testing.synthetic_clips import arm_wave_clip
from humimic.train.noise_invariance import renoised, symmetry_cfg
from humimic.train.runner import build_runner
from tests.train.test_train import small_cfg


@pytest.fixture(scope="module")
def clip_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_clip(arm_wave_clip(seconds=1.0), tmp_path_factory.mktemp("clips") / "wave.npz")


def test_renoised_batch_redraws_noise_within_the_widths(clip_path: Path, tmp_path: Path) -> None:
    runner = build_runner(small_cfg(clip_path, tmp_path / "run"), tmp_path / "run")
    env = runner.env
    obs = env.get_observations()
    actions = torch.arange(obs.batch_size[0] * 2, dtype=torch.float32).reshape(-1, 2)
    out_obs, out_actions = renoised(env, obs, actions)
    env.close()
    assert out_obs is not None and out_actions is not None
    m = obs.batch_size[0]
    widths = env.obs_groups["actor"].noise_half_widths()
    assert bool((widths > 0).any())  # the config has sensor noise on
    torch.testing.assert_close(out_obs["actor"][:m], obs["actor"])
    torch.testing.assert_close(out_obs["critic"][m:], obs["critic"])  # only the actor's
    delta = out_obs["actor"][m:] - obs["actor"]
    assert bool((delta.abs() <= widths + 1e-6).all())
    assert bool((delta[:, widths == 0] == 0).all())
    assert float(delta[:, widths > 0].abs().max()) > 0.5 * float(widths.max())
    torch.testing.assert_close(out_actions, torch.cat((actions, actions)))
    assert renoised(env, None, actions)[0] is None


def test_zero_adds_no_loss_and_a_positive_coefficient_weighs_the_action_change(
    clip_path: Path, tmp_path: Path
) -> None:
    assert symmetry_cfg(0.0) is None
    cfg = small_cfg(clip_path, tmp_path / "run", "algo.noise_invariance_coef=2.0")
    runner = build_runner(cfg, tmp_path / "run")
    symmetry = runner.alg.symmetry
    assert symmetry is not None and symmetry.use_mirror_loss
    assert symmetry.mirror_loss_coeff == 2.0 and not symmetry.use_data_augmentation
    # the loss on a batch equals the mean squared change of the actor's mean action
    obs = runner.env.get_observations()
    m = obs.batch_size[0]
    torch.manual_seed(3)
    batch = type("Batch", (), {"observations": obs})()
    loss = symmetry.compute_loss(runner.alg.actor, batch, m).detach()
    torch.manual_seed(3)
    noisy, _ = renoised(runner.env, obs)
    assert noisy is not None
    with torch.no_grad():
        expected = (runner.alg.actor(noisy[m:]) - runner.alg.actor(obs)).square().mean()
    assert float(loss) == pytest.approx(float(expected), rel=1e-5)
    assert float(loss) > 0.0
    runner.env.close()
