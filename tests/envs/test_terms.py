"""Term functions and managers against hand-computed values on a typed fake state."""

from __future__ import annotations

import math

import pytest
import torch

from humimic.config.train import (
    CurriculumCfg,
    ObsGroupCfg,
    ObsTermCfg,
    RewardTermCfg,
    SigmaCfg,
    TerminationTermCfg,
)
from humimic.envs.adaptive import AdaptiveSigma, Curriculum
from humimic.envs.managers import ObservationGroup, RewardManager, TerminationManager
from humimic.envs.motion_library import RefState
from humimic.envs.registry import bind
from humimic.envs.step_data import ContactState, StepData
from humimic.envs.terms import observations as obs
from humimic.envs.terms import rewards as rew
from humimic.envs.terms import terminations as term
from humimic.errors import ConfigError
from humimic.sim.backend import SimState

N, J, B = 2, 3, 4


def make_data() -> StepData:
    """Robot and reference at rest at the origin, identity orientations."""
    robot = SimState.zeros(N, J, B, "cpu")
    ref = RefState(
        root_pos_w=torch.zeros(N, 3), root_quat_w=torch.tensor([[1.0, 0, 0, 0]] * N),
        root_lin_vel_w=torch.zeros(N, 3), root_ang_vel_w=torch.zeros(N, 3),
        joint_pos=torch.zeros(N, J), joint_vel=torch.zeros(N, J),
        body_pos_w=torch.zeros(N, B, 3), body_quat_w=robot.body_quat_w.clone(),
        body_lin_vel_w=torch.zeros(N, B, 3), body_ang_vel_w=torch.zeros(N, B, 3),
        contact=torch.ones(N, 2), phase=torch.tensor([0.25, 0.5]),
    )  # fmt: skip
    return StepData(
        robot=robot, ref=ref, actions=torch.zeros(N, J), prev_actions=torch.zeros(N, J),
        default_joint_pos=torch.tensor([0.1, 0.2, 0.3]),
        joint_pos_limits=torch.tensor([[-1.0, 1.0]] * J), joint_vel_limits=torch.full((J,), 10.0),
        effort_limits=torch.full((J,), 20.0),
        groups={"upper": torch.tensor([1, 2]), "feet": torch.tensor([2, 3])},
        feet=ContactState.zeros(N, torch.device("cpu")), control_dt=0.02,
    )  # fmt: skip


def test_body_and_joint_errors_match_hand_values() -> None:
    d = make_data()
    d.ref.body_pos_w[0, 1] = torch.tensor([0.1, 0.2, 0.0])
    assert rew.body_pos_error(d, bodies="upper")[0].item() == pytest.approx(0.05 / 6)
    assert rew.body_pos_error(d, bodies="all")[0].item() == pytest.approx(0.05 / 12)
    assert rew.body_pos_error(d, bodies="upper")[1].item() == 0.0
    d.ref.joint_pos[0] = torch.tensor([0.1, -0.3, 0.2])
    assert rew.max_joint_pos_error(d)[0].item() == pytest.approx(0.3)
    assert rew.joint_pos_error(d)[0].item() == pytest.approx((0.01 + 0.09 + 0.04) / 3)
    d.ref.body_quat_w[1, 0] = torch.tensor([0.0, 1.0, 0.0, 0.0])
    # (q_ref - q)^2 = (1, 1, 0, 0) on one of 4 bodies, mean over 16 components
    assert rew.body_rot_error(d)[1].item() == pytest.approx(2 / 16)


def test_contact_and_feet_terms() -> None:
    d = make_data()
    d.feet.contact = torch.tensor([[True, False], [True, True]])
    d.feet.last_contact = torch.tensor([[False, False], [False, True]])
    assert rew.contact_mask(d).tolist() == pytest.approx([0.5, 1.0])
    d.feet.air_time = torch.tensor([[0.5, 0.1], [0.2, 0.2]])
    d.feet.first_contact = torch.tensor([[True, False], [False, False]])
    assert rew.feet_air_time(d, threshold_s=0.3).tolist() == pytest.approx([0.2, 0.0])
    d.robot.foot_contact_force_w[0, 0] = torch.tensor([6.0, 0.0, 1.0])
    d.robot.foot_contact_force_w[1, 1] = torch.tensor([0.0, 300.0, 400.0])
    assert rew.stumble(d).tolist() == [1.0, 0.0]
    assert rew.feet_contact_forces(d, max_force_n=400.0).tolist() == pytest.approx([0.0, 100.0])
    d.robot.body_lin_vel_w[0, 2] = torch.tensor([3.0, 4.0, 0.0])  # left foot (row 2), F > 1 N
    d.robot.body_lin_vel_w[1, 2] = torch.tensor([3.0, 4.0, 0.0])  # no force on it in env 1
    assert rew.slippage(d).tolist() == pytest.approx([5.0, 0.0])


def test_limit_penalties() -> None:
    d = make_data()
    d.robot.joint_pos[0] = torch.tensor([1.0, -0.97, 0.0])
    assert rew.joint_pos_limits(d, soft=0.95)[0].item() == pytest.approx(0.05 + 0.02)
    d.robot.joint_vel[0] = torch.tensor([9.7, -12.0, 0.0])
    assert rew.joint_vel_limits(d, soft=0.95)[0].item() == pytest.approx(0.2 + 1.0)
    d.robot.applied_torque[1] = torch.tensor([17.5, 0.0, -30.0])
    assert rew.torque_limits(d, soft=0.85)[1].item() == pytest.approx(0.5 + 1.0)
    assert rew.torques(d)[1].item() == pytest.approx(17.5**2 + 900)
    d.actions[0] = torch.tensor([1.0, 2.0, 0.0])
    assert rew.action_rate(d)[0].item() == pytest.approx(5.0)
    assert rew.collision(d).tolist() == [0.0, 0.0]  # no forces available
    d.collision_force = torch.tensor([[[0, 0, 0.2], [0, 0, 0.05]], [[0, 0, 0], [0, 0, 0]]])
    assert rew.collision(d, threshold_n=0.1).tolist() == [1.0, 0.0]


def test_observations_in_rotated_frames() -> None:
    d = make_data()
    c = math.sqrt(0.5)
    d.robot.root_quat_w[0] = torch.tensor([c, c, 0.0, 0.0])  # +90 deg about x
    assert obs.projected_gravity(d)[0].tolist() == pytest.approx([0.0, -1.0, 0.0], abs=1e-6)
    assert term.bad_orientation(d, limit=0.75).tolist() == [True, False]
    d.robot.root_quat_w[1] = torch.tensor([c, 0.0, 0.0, c])  # heading +90 deg about z
    d.ref.body_pos_w[1, 0] = torch.tensor([1.0, 0.0, 0.0])
    local = obs.dif_local_body_pos(d)[1].view(B, 3)
    assert local[0].tolist() == pytest.approx([0.0, -1.0, 0.0], abs=1e-6)
    assert obs.joint_pos_rel(d)[0].tolist() == pytest.approx([-0.1, -0.2, -0.3])
    assert obs.ref_motion_phase(d).flatten().tolist() == [0.25, 0.5]


def test_motion_far_uses_curriculum_distance() -> None:
    d = make_data()
    d.ref.body_pos_w[0, 3] = torch.tensor([0.0, 0.0, 0.4])
    d.far_distance_m = 0.3
    assert term.motion_far(d).tolist() == [True, False]
    d.far_distance_m = 0.5
    assert term.motion_far(d).tolist() == [False, False]
    assert term.motion_far(d, distance_m=0.35).tolist() == [True, False]


def test_adaptive_sigma_follows_hand_computed_ema() -> None:
    sigma = AdaptiveSigma(SigmaCfg(alpha=1e-3, initial={"p": 0.015}))
    sigma.update("p", 0.02)  # ema = 0.015*0.999 + 0.02e-3 = 0.015005 > sigma: no change
    assert sigma.ema["p"] == pytest.approx(0.015005)
    assert sigma.sigma["p"] == 0.015
    ema = 0.015005
    for _ in range(3):
        sigma.update("p", 0.005)
        ema = 0.999 * ema + 1e-3 * 0.005
    assert sigma.ema["p"] == pytest.approx(ema)
    assert sigma.sigma["p"] == pytest.approx(ema)  # min(σ, ema) once the EMA drops
    restored = AdaptiveSigma(SigmaCfg(initial={"p": 0.015}))
    restored.load_state_dict(sigma.state_dict())
    assert restored.sigma == sigma.sigma and restored.ema == sigma.ema


def test_reward_manager_weights_dt_sigma_and_zero_weight_skip() -> None:
    d = make_data()
    d.ref.joint_pos[:] = math.sqrt(0.02)  # joint_pos_error = 0.02 rad^2 in both envs
    d.actions[0, 0] = 1.0
    terms = {
        "joint_pos": RewardTermCfg(fn="joint_pos_error", weight=2.0, sigma="jp"),
        "action_rate": RewardTermCfg(fn="action_rate", weight=-0.5, curriculum=True),
        "unused": RewardTermCfg(fn="torques", weight=0.0),
    }
    sigma = AdaptiveSigma(SigmaCfg(initial={"jp": 0.015}))
    manager = RewardManager(terms, sigma, control_dt=0.02, num_envs=N)
    assert list(manager.fns) == ["joint_pos", "action_rate"]  # zero weight skipped
    with pytest.raises(ConfigError, match=r"task.rewards.unused: unknown reward term"):
        RewardManager({"unused": RewardTermCfg(fn="typo", weight=0.0)}, sigma, 0.02, N)
    total = manager.compute(d, penalty_scale=0.1)
    track = 2.0 * 0.02 * math.exp(-0.02 / 0.015)
    assert total.tolist() == pytest.approx([track - 0.5 * 0.02 * 0.1, track], rel=1e-5)
    assert sigma.ema["jp"] == pytest.approx(0.015 * 0.999 + 0.02e-3)
    log = manager.reset(torch.tensor([1]), torch.tensor([0.5]))
    assert log["/Episode_Reward/joint_pos"] == pytest.approx(track / 0.5, rel=1e-5)
    assert manager.episode_sums["joint_pos"][1] == 0.0


def test_termination_manager_splits_time_outs() -> None:
    d = make_data()
    d.ref.body_pos_w[0, 1, 0] = 2.0
    manager = TerminationManager(
        {"far": TerminationTermCfg(fn="motion_far", params={"distance_m": 1.0})}
    )
    failed, time_out, log = manager.compute(d)
    assert failed.tolist() == [True, False] and not time_out.any()
    assert log["/Episode_Termination/far"] == 0.5


def test_curriculum_update_hand_computed() -> None:
    cur = Curriculum(CurriculumCfg(), control_dt=0.02)  # PBHC's 50 Hz: 40 and 42 steps
    cur.update(episode_steps_mean=50.0, num_resets=100)  # avg = 0.5 < 40: penalties ease
    assert cur.avg_episode_steps == pytest.approx(0.5)
    assert cur.penalty_scale == pytest.approx(0.1 * (1 - 1e-5))
    assert cur.far_distance_m == pytest.approx(1.5 * (1 + 2.5e-5))
    cur.avg_episode_steps = 100.0
    cur.update(episode_steps_mean=100.0, num_resets=1)
    assert cur.penalty_scale == pytest.approx(0.1 * (1 - 1e-5) * (1 + 1e-5))


def test_curriculum_thresholds_are_seconds_unless_saved_as_steps() -> None:
    # 0.8 / 0.84 s are 20 / 21 steps at 25 Hz: a 25-step average now tightens (PBHC's
    # 40 steps would have loosened it).
    cur = Curriculum(CurriculumCfg(far_distance_m=0.5), control_dt=0.04)
    assert (cur.low_steps, cur.high_steps) == pytest.approx((20.0, 21.0))
    cur.avg_episode_steps = 25.0
    cur.update(episode_steps_mean=25.0, num_resets=1)
    assert cur.far_distance_m == pytest.approx(0.5 * (1 - 2.5e-5))
    assert cur.penalty_scale == pytest.approx(0.1 * (1 + 1e-5))
    # A run config saved before low_s existed carries the steps, which win.
    old = Curriculum(CurriculumCfg(low_steps=40.0, high_steps=42.0), control_dt=0.04)
    assert (old.low_steps, old.high_steps) == (40.0, 42.0)
    old.avg_episode_steps = 25.0
    old.update(episode_steps_mean=25.0, num_resets=1)
    assert old.far_distance_m == pytest.approx(1.5 * (1 + 2.5e-5))


def test_observation_history_is_newest_first() -> None:
    d = make_data()
    cfg = ObsGroupCfg(
        terms={"ref_motion_phase": ObsTermCfg(), "actions": ObsTermCfg(scale=2.0)},
        history_length=2,
        history_terms=["ref_motion_phase"],
    )
    group = ObservationGroup("actor", cfg, d, noise=False)
    assert group.dim == 1 + J + 2
    for phase in (0.1, 0.2, 0.3):
        d.ref.phase = torch.full((N,), phase)
        out = group.compute(d)
    assert out[0].tolist() == pytest.approx([0.3, 0, 0, 0, 0.2, 0.1])
    assert [s.history for s in group.layout()] == [0, 0, 1, 2]
    group.reset(torch.tensor([0]))
    assert group.compute(d)[0, -2:].tolist() == [0.0, 0.0]


def test_bind_names_the_term_and_key() -> None:
    with pytest.raises(
        ConfigError, match=r"task.rewards.x: term 'body_pos_error' has no .*'bodys'"
    ):
        bind("reward", "task.rewards.x", "body_pos_error", {"bodys": "feet"})
    with pytest.raises(ConfigError, match=r"task.observations.actor.terms.y: unknown observation"):
        bind("observation", "task.observations.actor.terms.y", "nope", {})


def test_noise_half_widths_follow_scale_and_history() -> None:
    d = make_data()
    cfg = ObsGroupCfg(
        terms={"ref_motion_phase": ObsTermCfg(noise=0.1, scale=2.0), "actions": ObsTermCfg()},
        history_length=2,
        history_terms=["ref_motion_phase"],
    )
    widths = ObservationGroup("actor", cfg, d, noise=True).noise_half_widths()
    # phase: 0.1 before a scale of 2 -> 0.2; actions noiseless; two history frames of phase
    assert widths.tolist() == pytest.approx([0.2] + [0.0] * J + [0.2, 0.2])
    quiet = ObservationGroup("actor", cfg, d, noise=False).noise_half_widths()
    assert quiet.tolist() == [0.0] * (1 + J + 2)
