"""TrackingEnv on the real MuJoCo backends: dimensions, smoke, determinism, config errors."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch

from humimic.config.store import compose
from humimic.config.train import ObsTermCfg, TrainCfg
from humimic.envs.tracking_env import TrackingEnv
from humimic.errors import ConfigError
from humimic.motion.clip import RobotClip, save_clip
from humimic.testing.synthetic_clips import arm_wave_clip


@pytest.fixture(scope="module")
def clip() -> RobotClip:
    return arm_wave_clip(seconds=1.0)


def make_cfg(*overrides: str, num_envs: int = 4) -> TrainCfg:
    return compose("train", [f"sim.num_envs={num_envs}", *overrides])


def test_default_actor_sees_the_reference_outside_its_history(clip: RobotClip) -> None:
    env = TrackingEnv(make_cfg().task, make_cfg().sim, clips=[clip])
    try:
        layout = env.obs_layout()["actor"]
        current = [(s.term, s.stop - s.start) for s in layout if s.history == 0]
        assert current[-3:] == [("ref_joint_pos", 23), ("ref_joint_vel", 23),
                                ("ref_projected_gravity", 3)]  # fmt: skip
        assert env.get_observations()["actor"].shape == (4, 76 + 49 + 4 * 76)
        assert env.cfg.action_mode == "residual"
    finally:
        env.close()


def test_actor_obs_is_380_for_23_dof_and_env_runs_without_nan(clip: RobotClip) -> None:
    cfg = make_cfg("preset=pbhc")
    env = TrackingEnv(cfg.task, cfg.sim, clips=[clip])
    try:
        obs = env.get_observations()
        assert env.num_actions == 23
        assert obs["actor"].shape == (4, 380)  # 76 now + 4 x 76 history (PBHC)
        layout = env.obs_layout()["actor"]
        assert [(s.term, s.stop - s.start) for s in layout[:6]] == [
            ("actions", 23), ("root_ang_vel_b", 3), ("joint_pos_rel", 23), ("joint_vel", 23),
            ("projected_gravity", 3), ("ref_motion_phase", 1),
        ]  # fmt: skip
        assert layout[-1].stop == 380 and layout[-1].history == 4
        dr_dim = 3 + len(env.layout.body_names) + 2 * 23 + 2
        assert obs["critic"].shape == (4, 3 + 76 + 2 * 27 * 3 + dr_dim + 4 * 79)
        # RSI: right after reset the robot is at the reference.
        assert torch.allclose(env.d.robot.joint_pos, env.d.ref.joint_pos, atol=1e-5)
        dones = 0
        for _ in range(60):  # longer than the 1-s clip: time-outs happen
            obs, reward, done, extras = env.step(0.3 * torch.randn(4, 23))
            assert torch.isfinite(obs["actor"]).all() and torch.isfinite(obs["critic"]).all()
            assert reward.shape == (4,) and torch.isfinite(reward).all()
            assert extras["time_outs"].dtype == torch.bool
            assert all(k.startswith("/") for k in extras["log"])
            dones += int(done.sum())
        assert dones > 0 and env.max_episode_length == 50
        assert env.sigma.sigma["joint_pos"] <= 0.3
    finally:
        env.close()


def _rollout(cfg: TrainCfg, clip: RobotClip, seed: int) -> torch.Tensor:
    env = TrackingEnv(cfg.task, cfg.sim, clips=[clip], seed=seed)
    try:
        gen = torch.Generator().manual_seed(1)
        for _ in range(15):
            obs, *_ = env.step(0.2 * torch.randn(4, 23, generator=gen))
        return obs["critic"].clone()
    finally:
        env.close()


def test_seeded_rollouts_are_identical(clip: RobotClip) -> None:
    cfg = make_cfg()
    a, b = _rollout(cfg, clip, seed=3), _rollout(cfg, clip, seed=3)
    assert torch.equal(a, b)
    assert not torch.equal(a, _rollout(cfg, clip, seed=4))


@pytest.mark.parametrize(
    ("override", "match"),
    [
        ("task.rewards.feet_pos.fn=feet_pos_typo", "task.rewards.feet_pos: unknown reward term"),
        (
            "+task.rewards.feet_pos.params.bodys=feet",
            "task.rewards.feet_pos: term 'body_pos_error'",
        ),
        ("task.rewards.joint_pos.sigma=nope", "task.rewards.joint_pos.sigma: 'nope'"),
        ("sim.backend=physx", "sim.backend must be mujoco or mujoco_warp"),
        (
            "task.observations.critic.history_terms=[actoins]",
            "critic.history_terms: \\['actoins'\\]",
        ),
        ("task.randomization.friction=[1.2,0.2]", "task.randomization.friction"),
    ],
)
def test_config_errors_name_the_key(clip: RobotClip, override: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        cfg = make_cfg(override)
        TrackingEnv(cfg.task, cfg.sim, clips=[clip])


def test_unknown_observation_term_names_its_key(clip: RobotClip) -> None:
    cfg = make_cfg()
    cfg.task.observations["actor"].terms["nope"] = ObsTermCfg()
    with pytest.raises(ConfigError, match=r"task.observations.actor.terms.nope: unknown"):
        TrackingEnv(cfg.task, cfg.sim, clips=[clip])


def test_clip_for_another_variant_fails_before_simulation(clip: RobotClip, tmp_path: Path) -> None:
    other = replace(clip, variant="g1_29dof")
    path = save_clip(other, tmp_path / "other.npz")
    cfg = make_cfg(f"task.motion.files=[{path}]")
    with pytest.raises(ConfigError, match=r"is for robot 'g1_29dof'"):
        TrackingEnv(cfg.task, cfg.sim)


@pytest.mark.gpu
def test_warp_backend_env_smoke(clip: RobotClip) -> None:
    pytest.importorskip("mujoco_warp")
    cfg = make_cfg("sim.backend=mujoco_warp", num_envs=2)
    env = TrackingEnv(cfg.task, cfg.sim, clips=[clip])
    try:
        # the default (residual, reference-conditioned) formulation on the Warp backend
        assert env.get_observations()["actor"].shape == (2, 76 + 49 + 4 * 76)
        for _ in range(5):
            obs, reward, _, _ = env.step(torch.zeros(2, 23))
        assert torch.isfinite(obs["critic"]).all() and torch.isfinite(reward).all()
    finally:
        env.close()


def test_reference_conditioned_actor_and_randomisation(clip: RobotClip) -> None:
    cfg = make_cfg()
    cfg.task.observations["actor"].terms["ref_future"] = ObsTermCfg(params={"steps": 3})
    cfg.task.observations["actor"].history_terms = ["actions"]
    cfg.task.observations["actor"].history_length = 1
    env = TrackingEnv(cfg.task, cfg.sim, clips=[clip])
    try:
        # proprioception + the default reference terms + 3 future frames + one actions frame
        assert env.get_observations()["actor"].shape == (4, 76 + 49 + 3 * (23 + 6) + 23)
        dr = env.dr
        assert ((dr.friction >= 0.2) & (dr.friction <= 1.2)).all()
        assert ((dr.kp >= 0.9) & (dr.kp <= 1.1)).all() and not torch.all(dr.kp == 1.0)
        assert set(dr.delay.tolist()) <= {0, 1}  # 0-40 ms at the preset's 25 Hz
        # The drawn scales reach the backend: world 0's actuator gains are scaled.
        params = env.backend._params.values["actuator_gainprm"]  # type: ignore[attr-defined]
        nominal = env.backend._params.nominal["actuator_gainprm"]  # type: ignore[attr-defined]
        act = env.backend.layout.actuator  # type: ignore[attr-defined]
        ratio = params[0, act, 0] / nominal[act, 0]
        assert ratio == pytest.approx(dr.kp[0].numpy(), rel=1e-5)
    finally:
        env.close()


def test_clips_given_in_code_are_checked_for_the_variant(clip: RobotClip) -> None:
    cfg = make_cfg()
    with pytest.raises(ConfigError, match=r"is for robot 'g1_29dof'"):
        TrackingEnv(cfg.task, cfg.sim, clips=[replace(clip, variant="g1_29dof")])


def test_multiple_clips_share_one_env(clip: RobotClip) -> None:
    longer = arm_wave_clip(seconds=2.0, amplitude_rad=0.1)
    cfg = make_cfg(num_envs=8)
    env = TrackingEnv(cfg.task, cfg.sim, clips=[clip, longer], seed=1)
    try:
        assert env.max_episode_length == 50  # the longest clip, 2 s at the default 25 Hz
        assert set(env.clip_ids.tolist()) == {0, 1}
        ids = env.clip_ids
        duration = env.motion.duration_s[ids]
        assert (env.start_s <= duration).all()
        env.step(torch.zeros(8, 23))
        k = int(torch.nonzero(ids == 1)[0])
        expected = env.motion.state(ids[k : k + 1], env.d.times_s[k : k + 1]).joint_pos
        assert torch.allclose(env.d.ref.joint_pos[k], expected[0])
    finally:
        env.close()


def test_progress_scalars_match_hand_computed_errors(clip: RobotClip) -> None:
    cfg = make_cfg()
    env = TrackingEnv(cfg.task, cfg.sim, clips=[clip])
    try:
        d = env.d
        num_bodies = d.ref.body_pos_w.shape[1]
        # The robot is the reference moved 0.5 m, with body 3 a further 0.2 m off and every
        # joint 0.1 rad off: root-relative error = 0.2 m on one body of B.
        d.robot.body_pos_w = d.ref.body_pos_w + torch.tensor([0.5, 0.0, 0.0])
        d.robot.body_pos_w[:, 3, 2] += 0.2
        d.robot.joint_pos = d.ref.joint_pos + 0.1
        failed = torch.tensor([True, False, True, False])
        reward = torch.tensor([1.0, 2.0, 3.0, 4.0])
        out = env._progress_scalars(reward, failed)
        assert out["/Progress/mpbpe_m"] == pytest.approx(0.2 / num_bodies, rel=1e-5)
        world = ((num_bodies - 1) * 0.5 + (0.5**2 + 0.2**2) ** 0.5) / num_bodies
        assert out["/Progress/body_pos_error_m"] == pytest.approx(world, rel=1e-5)
        assert out["/Progress/joint_pos_error_rad"] == pytest.approx(0.1, rel=1e-5)
        assert out["/Progress/falls_per_s"] == pytest.approx(
            0.5 / 0.04
        )  # 2 of 4 fell in one 40 ms step
        assert out["/Progress/reward_per_step"] == pytest.approx(2.5)
    finally:
        env.close()


def test_reference_after_resets_equals_a_full_lookup(clip: RobotClip) -> None:
    """Resets refresh only the restarted envs' reference; every row must still be exact."""
    cfg = make_cfg(num_envs=8)
    env = TrackingEnv(cfg.task, cfg.sim, clips=[clip], seed=3)
    try:
        resets = 0
        for _ in range(60):  # the 1-s clip ends: every env restarts at least once
            _, _, done, _ = env.step(0.5 * torch.randn(8, 23))
            resets += int(done.sum())
            full = env.motion.state(env.clip_ids, env.d.times_s)
            for name in ("root_pos_w", "body_pos_w", "body_quat_w", "joint_pos", "phase"):
                torch.testing.assert_close(
                    getattr(env.d.ref, name), getattr(full, name), rtol=0, atol=0
                )
        assert resets >= 8
    finally:
        env.close()


def test_pbhc_term_names_are_aliases(clip: RobotClip, tmp_path: Path) -> None:
    """An old name builds the same term; the old and new name together are refused."""
    from humimic.envs.registry import bind

    assert (
        bind("observation", "k", "dof_pos", {}).func
        is bind("observation", "k", "joint_pos_rel", {}).func
    )
    assert bind("reward", "k", "dof_vel_limits", {"soft": 0.9}).func.__name__ == (
        "joint_vel_limits"
    )
    from humimic.config.train import ObsGroupCfg, TaskCfg

    twice = ObsGroupCfg(terms={"joint_pos_rel": ObsTermCfg(), "dof_pos": ObsTermCfg(noise=0.02)})
    with pytest.raises(ConfigError, match=r"'dof_pos' and 'joint_pos_rel' are the same"):
        TaskCfg(observations={"actor": twice, "critic": ObsGroupCfg()})


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ([], (0, 1)),  # the cpu preset: 25 Hz, 0-40 ms
        (["preset=pbhc"], (0, 2)),  # PBHC's 50 Hz: 0-2 policy steps
        (["task.randomization.control_delay_s=[0.02,0.1]"], (0, 2)),  # 0.5 rounds to even
        (["task.randomization.control_delay_s=[0.05,0.1]"], (1, 2)),  # 1.25 -> 1, 2.5 -> 2
        (["task.randomization.control_delay_steps=[1,3]"], (1, 3)),  # explicit steps win
    ],
)
def test_the_action_delay_is_set_in_seconds(
    overrides: list[str], expected: tuple[int, int]
) -> None:
    from humimic.envs.randomization import delay_steps

    cfg = make_cfg(*overrides)
    assert delay_steps(cfg.task.randomization, cfg.sim.control_dt) == expected


def test_a_bad_delay_range_names_the_key() -> None:
    with pytest.raises(ConfigError, match=r"task\.randomization\.control_delay_s"):
        make_cfg("task.randomization.control_delay_s=[0.04,0.0]")
