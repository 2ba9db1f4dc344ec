"""The fading training assist in the env: its schedule, where it is on and off, and that it
holds a zero policy up on a real walk."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from humimic.config.store import compose
from humimic.config.train import AssistCfg
from humimic.envs.assist import Assist, assist_target
from humimic.envs.tracking_env import TrackingEnv
from humimic.errors import ConfigError
from humimic.eval.runner import eval_config


def test_fade_schedule_by_hand() -> None:
    assist = Assist(AssistCfg(enabled=True, fade_rate=0.1, success_threshold=0.5, off_below=0.2))
    assist.update(successes=8, episodes=10)  # 0.8 >= 0.5: shrink per episode
    assert assist.scale == pytest.approx(0.9**10)  # 0.3487
    assist.update(successes=4, episodes=10)  # 0.4 < 0.5: grow per episode
    assert assist.scale == pytest.approx(0.9**10 * 1.1**10)  # 0.9044
    assist.update(successes=9, episodes=3)
    assert assist.scale == pytest.approx(0.9**13 * 1.1**10)  # 0.6593
    assist.update(successes=1, episodes=1000)  # capped at 1
    assert assist.scale == 1.0
    assist.update(successes=20, episodes=20)  # 0.9**20 = 0.12 < off_below 0.2: off
    assert assist.scale == 0.0
    assist.update(successes=0, episodes=50)  # off for good
    assert assist.scale == 0.0 and assist.log() == {"/Assist/scale": 0.0}
    assert Assist(AssistCfg()).scale == 0.0 and Assist(AssistCfg()).log() == {}


def test_bad_assist_settings_name_the_key() -> None:
    with pytest.raises(ConfigError, match=r"task\.assist\.fade_rate"):
        AssistCfg(fade_rate=1.0)
    with pytest.raises(ConfigError, match=r"task\.assist\.initial_scale"):
        AssistCfg(initial_scale=2.0)


def test_target_is_position_and_rotation_vector() -> None:
    pos = torch.tensor([[1.0, 2.0, 0.8]])
    half = torch.tensor(0.25 * torch.pi)  # 90 degrees about z
    quat = torch.tensor([[torch.cos(half), 0.0, 0.0, torch.sin(half)]])
    target = assist_target(pos, quat)
    torch.testing.assert_close(target, torch.tensor([[1.0, 2.0, 0.8, 0.0, 0.0, torch.pi / 2]]))


def test_evaluation_never_has_the_assist() -> None:
    cfg = compose("train", ["task.assist.enabled=true"])
    assert cfg.task.assist.enabled
    assert not eval_config(cfg, None, 2).task.assist.enabled


def _walk_env(assist: bool) -> TrackingEnv:
    """The training env (its 0.5 m failure termination) on the shipped walk, from the clip
    start, without randomisation or noise; the assist at full scale and not fading."""
    clip = Path(__file__).resolve().parents[2] / "motions/cmu_02_01_walk.npz"
    overrides = [
        "sim.num_envs=2", f"task.assist.enabled={str(assist).lower()}", "task.assist.fade_rate=0",
        "task.noise=false", "task.randomization.enabled=false", "task.randomization.pushes=false",
        "task.motion.random_start=false", f"task.motion.files=[{clip}]",
    ]  # fmt: skip
    cfg = compose("train", overrides)
    return TrackingEnv(cfg.task, cfg.sim)


def _steps_until_first_failure(env: TrackingEnv, limit: int) -> int:
    zero = torch.zeros(env.num_envs, env.num_actions)
    for step in range(1, limit + 1):
        _, _, done, extras = env.step(zero)
        if bool((done & ~extras["time_outs"]).any()):
            return step
    return limit


def test_the_assist_holds_a_zero_policy_up_on_a_walk() -> None:
    """The shipped walk with PD on the reference alone (residual actions, zero output)
    fails within 0.5 s (12 steps at 25 Hz); with the servos at full scale the same
    open-loop replay stays within the failure distance for twice as long, and the env
    without the assist has no servos at all."""
    plain, assisted = _walk_env(False), _walk_env(True)
    try:
        assert plain.backend.layout.assist.size == 0 and assisted.backend.layout.assist.size == 6
        assert assisted.assist.scale == 1.0
        assert "assist on the root, scale 1" in assisted.describe()
        assert "assist" not in plain.describe()
        unassisted_steps = _steps_until_first_failure(plain, 40)
        assisted_steps = _steps_until_first_failure(assisted, 40)
        assert unassisted_steps <= 13
        assert assisted_steps >= 2 * unassisted_steps
        assert assisted.state_dict()["assist"] == {"scale": 1.0}
        assisted.load_state_dict({**assisted.state_dict(), "assist": {"scale": 0.25}})
        assert assisted.assist.scale == 0.25
    finally:
        plain.close()
        assisted.close()
