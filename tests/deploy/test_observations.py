"""Deploy observation builder: identical to the training observation group, by hand too."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from humimic.deploy.controller import RobotState
from humimic.deploy.observations import ObservationBuilder
from humimic.deploy.policy import OnnxController, load_manifest
from humimic.deploy.reference import ReferenceTrack
from humimic.errors import ConfigError
from humimic.eval.runner import eval_config
from humimic.export.manifest import ControllerManifest, ObservationSpec, ObservationTerm
from humimic.train.runner import load_run_config
from tests.export.helpers import exported, trained_run


@pytest.fixture(scope="module")
def controller() -> Path:
    return exported()


def robot_state(sim_state: object) -> RobotState:
    """What the deploy runtime would read: joints, IMU quaternion and gyro (env 0)."""
    s = sim_state
    return RobotState(
        joint_pos=s.joint_pos[0].double().numpy(),  # type: ignore[attr-defined]
        joint_vel=s.joint_vel[0].double().numpy(),  # type: ignore[attr-defined]
        quat_wxyz=s.root_quat_w[0].double().numpy(),  # type: ignore[attr-defined]
        gyro_b=s.root_ang_vel_b[0].double().numpy(),  # type: ignore[attr-defined]
    )


def clip_steps(manifest: ControllerManifest) -> int:
    """Policy steps in the controller's clip (the 1 s test clip: 25 at 25 Hz)."""
    return round(manifest.reference.duration_s / manifest.control_dt)


def builder_gap(controller: Path, run: Path) -> tuple[float, float]:
    """Random actions move the robot through the controller's clip; returns (the largest
    deploy-minus-training observation gap, the largest scaled gyro value seen)."""
    from humimic.envs.tracking_env import TrackingEnv

    manifest = load_manifest(controller)
    cfg = eval_config(load_run_config(run), None, 1)
    env = TrackingEnv(cfg.task, replace(cfg.sim, num_envs=1), seed=3)
    track = ReferenceTrack.load(controller / manifest.reference.arrays_file, manifest.joint_names)
    builder = ObservationBuilder(manifest, track)
    gen = torch.Generator().manual_seed(0)
    last_action = np.zeros(manifest.num_joints)
    worst, moved = 0.0, 0.0
    try:
        obs = env.get_observations()["actor"][0].numpy()
        for k in range(clip_steps(manifest)):  # the env starts a new episode at the end
            time_s = k * manifest.control_dt
            phase = time_s / manifest.reference.duration_s
            ours = builder.build(robot_state(env.d.robot), last_action, phase, time_s)
            worst = max(worst, float(np.max(np.abs(ours - obs))))
            action = torch.randn(1, manifest.num_joints, generator=gen) * 0.5
            last_action = action[0].double().numpy()
            obs = env.step(action)[0]["actor"][0].numpy()
            moved = max(moved, float(np.abs(obs[3:6]).max()))
    finally:
        env.close()
    return worst, moved


def test_same_vector_as_training_env(controller: Path) -> None:
    """Random actions move the robot; every step the two builders must agree to 1e-6."""
    worst, moved = builder_gap(controller, trained_run())
    assert moved > 0.05  # the robot really moved (scaled gyro)
    assert worst <= 1e-6


def test_heading_and_root_velocity_terms_match_training_env() -> None:
    """The opt-in reference terms, added from the command line, are built identically: the
    pelvis and torso heading errors as the robot turns (and twists its waist) under random
    actions, the root velocity of the clip."""
    extra = ("+task.observations.actor.terms.ref_heading_error.noise=0.05",
             "+task.observations.actor.terms.ref_torso_heading_error.noise=0.05",
             "+task.observations.actor.terms.ref_root_lin_vel_b.params.ahead_steps=2")  # fmt: skip
    controller = exported(extra=extra)
    kinds = [t.fn for t in load_manifest(controller).observation.terms]
    assert {"ref_heading_error", "ref_torso_heading_error", "ref_root_lin_vel_b"} <= set(kinds)
    worst, moved = builder_gap(controller, trained_run(extra=extra))
    assert moved > 0.05
    assert worst <= 1e-6


def test_residual_targets_match_training_env(controller: Path) -> None:
    """The zero-action target of the exported controller is the training env's, every step,
    and a step's target is that base plus action_scale times the ONNX output."""
    from humimic.envs.tracking_env import TrackingEnv

    manifest = load_manifest(controller)
    assert manifest.action_mode == "residual"  # the default preset trains residual actions
    policy = OnnxController(controller, manifest.variant)
    cfg = eval_config(load_run_config(trained_run()), None, 1)
    env = TrackingEnv(cfg.task, replace(cfg.sim, num_envs=1), seed=3)
    try:
        spread = 0.0
        for k in range(clip_steps(manifest)):
            ours = policy.action_base(k * manifest.control_dt)
            theirs = env._action_base()[0].double().numpy()
            np.testing.assert_allclose(ours, theirs, atol=1e-6)
            spread = max(spread, float(np.abs(ours - policy.default_pos).max()))
            env.step(torch.zeros(1, manifest.num_joints))
    finally:
        env.close()
    assert spread > 0.1  # the reference really moves away from the default pose
    state = RobotState(joint_pos=np.asarray(manifest.default_joint_pos), joint_vel=np.zeros(23),
                       quat_wxyz=np.array([1.0, 0, 0, 0]), gyro_b=np.zeros(3))  # fmt: skip
    policy.reset(state)
    target = policy.step(state)
    action = policy.infer(policy.last_obs)[0].astype(np.float64)
    expect = policy.action_base(0.0) + manifest.action_scale * action
    np.testing.assert_allclose(target, expect, atol=1e-9)


def simple_builder(history: int = 2) -> ObservationBuilder:
    manifest = load_manifest(exported())
    terms = [ObservationTerm("base_ang_vel", "base_ang_vel", 3, 0.25),
             ObservationTerm("projected_gravity", "projected_gravity", 3, 1.0),
             ObservationTerm("ref_motion_phase", "ref_motion_phase", 1, 1.0)]  # fmt: skip
    obs = ObservationSpec("actor", terms, history, ["base_ang_vel", "ref_motion_phase"], 1.0)
    return ObservationBuilder(replace(manifest, observation=obs))


def test_hand_computed_terms_history_and_clip() -> None:
    b = simple_builder()
    s = np.sin(np.pi / 4)
    state = RobotState(
        joint_pos=np.zeros(23), joint_vel=np.zeros(23),
        quat_wxyz=np.array([s, s, 0.0, 0.0]),  # +90 deg about x
        gyro_b=np.array([0.4, -8.0, 0.0]),
    )  # fmt: skip
    first = b.build(state, np.zeros(23), 0.25)
    # gravity (0,0,-1) in a frame rolled +90 deg about x is (0,-1,0); gyro·0.25 clipped to ±1
    np.testing.assert_allclose(first[:7], [0.1, -1.0, 0.0, 0.0, -1.0, 0.0, 0.25], atol=1e-7)
    np.testing.assert_array_equal(first[7:], np.zeros(8))  # empty history after reset
    second = b.build(state, np.zeros(23), 0.5)
    # newest history frame = previous step's scaled (unclipped then clipped) values
    np.testing.assert_allclose(second[7:11], [0.1, -1.0, 0.0, 0.25], atol=1e-7)
    np.testing.assert_array_equal(second[11:], np.zeros(4))
    third = b.build(state, np.zeros(23), 0.75)
    np.testing.assert_allclose(third[7:15], [0.1, -1.0, 0, 0.5, 0.1, -1.0, 0, 0.25], atol=1e-7)
    b.reset()
    np.testing.assert_array_equal(b.build(state, np.zeros(23), 0.0)[7:], np.zeros(8))


def test_old_manifest_term_names_build_the_same_vector() -> None:
    """A manifest exported before the rename names terms by PBHC's words (alias on read)."""
    manifest = load_manifest(exported())
    default = np.asarray(manifest.default_joint_pos)

    def build(names: tuple[str, str, str]) -> np.ndarray:
        terms = [ObservationTerm(names[0], names[0], 3, 0.25),
                 ObservationTerm(names[1], names[1], 23, 1.0),
                 ObservationTerm(names[2], names[2], 23, 0.05)]  # fmt: skip
        obs = ObservationSpec("actor", terms, 1, list(names), 100.0)
        builder = ObservationBuilder(replace(manifest, observation=obs))
        return builder.build(state, np.zeros(23), 0.0)

    state = RobotState(
        joint_pos=default + 0.1, joint_vel=np.full(23, 2.0),
        quat_wxyz=np.array([1.0, 0.0, 0.0, 0.0]), gyro_b=np.array([0.4, -0.8, 1.2]),
    )  # fmt: skip
    new = build(("root_ang_vel_b", "joint_pos_rel", "joint_vel"))
    np.testing.assert_allclose(new[:3], [0.1, -0.2, 0.3], atol=1e-12)
    np.testing.assert_allclose(new[3:26], np.full(23, 0.1), atol=1e-12)
    np.testing.assert_allclose(new[26:49], np.full(23, 0.1), atol=1e-12)
    np.testing.assert_array_equal(build(("base_ang_vel", "dof_pos", "dof_vel")), new)


def test_refuses_terms_it_cannot_build() -> None:
    manifest = load_manifest(exported())
    terms = [ObservationTerm("ref_future", "ref_future", 5 * 29, 1.0)]
    obs = ObservationSpec("actor", terms, 0, [], 100.0)
    with pytest.raises(ConfigError, match=r"ref_future.*cannot be built on the robot"):
        ObservationBuilder(replace(manifest, observation=obs))
    terms = [ObservationTerm("dof_pos", "dof_pos", 12, 1.0)]
    with pytest.raises(ConfigError, match="size 12, expected 23"):
        ObservationBuilder(replace(manifest, observation=ObservationSpec("actor", terms, 0, [], 1)))


def test_heading_error_rebases_the_imu_yaw_onto_the_clip() -> None:
    """The clip turns at 0.5 rad/s; the IMU's yaw origin is 1.0 rad off the clip's. The
    first step after a reset faces the clip's heading, so later errors are relative to it."""
    manifest = load_manifest(exported())
    dt, turn = manifest.control_dt, 0.5
    t_frames = np.arange(101) / 50.0
    yaw = turn * t_frames
    quats = np.stack([np.cos(yaw / 2), 0 * yaw, 0 * yaw, np.sin(yaw / 2)], axis=1)
    vel_w = np.zeros((101, 3))
    track = ReferenceTrack(np.zeros((101, 23)), np.zeros((101, 23)), quats, vel_w, fps=50.0)
    terms = [ObservationTerm("heading", "ref_heading_error", 2, 1.0)]
    obs = ObservationSpec("actor", terms, 0, [], 100.0)
    builder = ObservationBuilder(replace(manifest, observation=obs), track)

    def state(imu_yaw: float) -> RobotState:
        q = np.array([np.cos(imu_yaw / 2), 0.0, 0.0, np.sin(imu_yaw / 2)])
        return RobotState(np.zeros(23), np.zeros(23), q, np.zeros(3))

    offset = 1.0
    first = builder.build(state(turn * 0.2 + offset), np.zeros(23), 0.0, 0.2)
    # on the clip's heading at 0.2 s: the error is the clip's turn in one control step
    np.testing.assert_allclose(first, [np.sin(turn * dt), np.cos(turn * dt)], atol=1e-6)
    later = builder.build(state(0.3 + offset), np.zeros(23), 0.0, 0.8)  # robot at 0.3 rad
    diff = turn * (0.8 + dt) - 0.3
    np.testing.assert_allclose(later, [np.sin(diff), np.cos(diff)], atol=1e-6)
    builder.reset()  # a new episode re-bases: now facing the clip at 0.8 s
    again = builder.build(state(0.3 + offset), np.zeros(23), 0.0, 0.8)
    np.testing.assert_allclose(again, [np.sin(turn * dt), np.cos(turn * dt)], atol=1e-6)


def test_torso_heading_adds_the_waist_joint_and_rebases_separately() -> None:
    """Both heading terms in one controller: the clip's pelvis turns at 0.5 rad/s with the
    waist held at -0.2 rad; each term re-bases its own yaw at the first step."""
    manifest = load_manifest(exported())
    dt, turn, ref_waist = manifest.control_dt, 0.5, -0.2
    waist = list(manifest.joint_names).index("waist_yaw_joint")
    yaw = turn * np.arange(101) / 50.0
    quats = np.stack([np.cos(yaw / 2), 0 * yaw, 0 * yaw, np.sin(yaw / 2)], axis=1)
    joints = np.zeros((101, 23))
    joints[:, waist] = ref_waist
    track = ReferenceTrack(joints, np.zeros((101, 23)), quats, np.zeros((101, 3)), fps=50.0)
    terms = [ObservationTerm("pelvis", "ref_heading_error", 2, 1.0),
             ObservationTerm("torso", "ref_torso_heading_error", 2, 1.0)]  # fmt: skip
    builder = ObservationBuilder(
        replace(manifest, observation=ObservationSpec("actor", terms, 0, [], 100.0)), track
    )

    def state(imu_yaw: float, waist_rad: float) -> RobotState:
        q = np.array([np.cos(imu_yaw / 2), 0.0, 0.0, np.sin(imu_yaw / 2)])
        joint_pos = np.zeros(23)
        joint_pos[waist] = waist_rad
        return RobotState(joint_pos, np.zeros(23), q, np.zeros(3))

    def sincos(angle: float) -> list[float]:
        return [np.sin(angle), np.cos(angle)]

    offset = 1.0  # IMU yaw origin against the clip's
    first = builder.build(state(0.1 + offset, 0.3), np.zeros(23), 0.0, 0.2)
    # each robot yaw is re-based onto the clip's at 0.2 s: only the clip's turn remains
    np.testing.assert_allclose(first, sincos(turn * dt) * 2, atol=1e-6)
    later = builder.build(state(0.5 + offset, -0.1), np.zeros(23), 0.0, 0.8)
    # pelvis: the robot turned 0.4 rad since the first step; torso: 0.4 - 0.4 = 0 rad
    pelvis = turn * (0.8 + dt) - (turn * 0.2 + 0.4)
    torso = turn * (0.8 + dt) + ref_waist - (turn * 0.2 + ref_waist + 0.0)
    np.testing.assert_allclose(later, sincos(pelvis) + sincos(torso), atol=1e-6)
