"""tools/bench_sac.py: the tracking env as a Stable-Baselines3 VecEnv, and asymmetric SAC."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from humimic.config.store import compose
from humimic.envs.tracking_env import TrackingEnv
from humimic.motion.clip import save_clip
from humimic.testing.synthetic_clips import arm_wave_clip
from tests.tool_module import load_tool


def _cfg(tmp_path: Path):
    clip = save_clip(arm_wave_clip(seconds=1.0, amplitude_rad=0.4), tmp_path / "clip.npz")
    return compose("train", ["sim.num_envs=4", f"task.motion.files=[{clip}]"])


def test_vec_env_steps_as_the_env_and_marks_time_outs(tmp_path):
    tool = load_tool("bench_sac")
    cfg = _cfg(tmp_path)
    venv = tool.TrackingVecEnv(TrackingEnv(cfg.task, cfg.sim, seed=3), action_bound=2.0)
    twin = TrackingEnv(cfg.task, cfg.sim, seed=3)  # the same seed steps the same way
    assert venv.action_space.shape == (twin.num_actions,)
    assert np.all(venv.action_space.high == 2.0) and np.all(venv.action_space.low == -2.0)
    prev = venv.reset()
    for k in ("actor", "critic"):
        assert venv.observation_space[k].shape == prev[k].shape[1:]
    rng = np.random.default_rng(0)
    time_outs = 0
    for _ in range(40):  # a 1 s clip at 25 Hz: every episode ends at least once
        actions = rng.uniform(-2.0, 2.0, (4, twin.num_actions)).astype(np.float32)
        obs, reward, done, infos = venv.step(actions)
        obs_t, reward_t, done_t, extras = twin.step(torch.from_numpy(actions))
        np.testing.assert_allclose(obs["actor"], obs_t["actor"].numpy(), atol=1e-6)
        np.testing.assert_allclose(obs["critic"], obs_t["critic"].numpy(), atol=1e-6)
        np.testing.assert_allclose(reward, reward_t.numpy(), atol=1e-6)
        np.testing.assert_array_equal(done, done_t.numpy())
        for i in range(4):
            if not done[i]:
                assert infos[i] == {}
                continue
            assert infos[i]["TimeLimit.truncated"] == bool(extras["time_outs"][i])
            time_outs += infos[i]["TimeLimit.truncated"]
            for k in ("actor", "critic"):  # the observation the ended step started from
                np.testing.assert_array_equal(infos[i]["terminal_observation"][k], prev[k][i])
        prev = obs
    assert time_outs >= 4
    venv.close()
    twin.close()


def test_sac_actor_sees_the_actor_group_and_critics_the_critic_group(tmp_path):
    tool = load_tool("bench_sac")
    cfg = _cfg(tmp_path)
    args = tool.parse_args([str(tmp_path / "clip.npz"), "--minutes", "1", "--batch", "8"])
    venv = tool.VecNormalize(
        tool.TrackingVecEnv(TrackingEnv(cfg.task, cfg.sim, seed=0), 2.0), norm_reward=False
    )
    model = tool.build_sac(venv, args, cfg)
    actor_dim = venv.observation_space["actor"].shape[0]
    critic_dim = venv.observation_space["critic"].shape[0]
    assert actor_dim != critic_dim  # the check below tells the groups apart
    first = next(m for m in model.actor.latent_pi if isinstance(m, torch.nn.Linear))
    assert first.in_features == actor_dim
    for q in model.critic.q_networks:
        assert q[0].in_features == critic_dim + venv.action_space.shape[0]
    model.learn(cfg.sim.num_envs * 6)  # past learning_starts: gradient steps run
    assert model.num_timesteps == cfg.sim.num_envs * 6
    action, _ = model.predict(venv.normalize_obs(venv.reset()), deterministic=True)
    assert action.shape == (4, venv.action_space.shape[0]) and np.all(np.abs(action) <= 2.0)
    venv.close()
