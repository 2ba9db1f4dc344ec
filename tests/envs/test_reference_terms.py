"""Reference-conditioned observation terms and the residual action base, torch and deploy.

The clip is an arm wave whose shoulder pitch is ``default + A·sin(2πt/P)`` (hand formula),
so every expected value is computed from that formula, not from the code under test.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from humimic.deploy.observations import torso_yaw as deploy_torso_yaw
from humimic.deploy.reference import ReferenceTrack
from humimic.envs.motion_library import MotionLibrary
from humimic.envs.step_data import ContactState, StepData
from humimic.envs.terms import observations as obs
from humimic.errors import ConfigError
from humimic.geometry import quat_np
from humimic.motion.clip import save_clip
from humimic.robot.spec import load_robot_spec
from humimic.robot.torso import waist_columns
from humimic.sim.backend import SimState
from humimic.testing.synthetic_clips import arm_wave_clip, clip_from_joint_trajectory

AMP, PERIOD, FPS, DT = 0.4, 2.0, 50.0, 0.02
SPEC = load_robot_spec("g1_23dof_lock_wrist")
SHOULDERS = [j for j, n in enumerate(SPEC.joint_names) if "shoulder_pitch" in n]


SPEED, TURN = 0.6, 0.5  # m/s along the root's heading, rad/s of yaw


def yaw_quats(yaw: np.ndarray) -> np.ndarray:
    """(T, 4) w-first rotations about world z by ``yaw`` (T,) rad."""
    return np.stack([np.cos(yaw / 2), 0 * yaw, 0 * yaw, np.sin(yaw / 2)], axis=1)


def root_path_clip(turning: bool, waist_rad: float = 0.0) -> object:
    """Default pose on a moving root, 2 s at 50 fps. Turning: yaw ``TURN·t`` and forward at
    ``SPEED`` on the arc of radius SPEED/TURN. Not turning: facing +y, sliding along +x.
    The waist-yaw joint is held at ``waist_rad``."""
    t = np.arange(round(2.0 * FPS) + 1) / FPS
    height = float(SPEC.default_root_height)
    if turning:
        radius = SPEED / TURN
        xy = radius * np.stack([np.sin(TURN * t), 1 - np.cos(TURN * t)], axis=1)
        yaw = TURN * t
    else:
        xy, yaw = np.stack([SPEED * t, 0 * t], axis=1), np.full_like(t, np.pi / 2)
    root = np.column_stack([xy, np.full_like(t, height)])
    joints = np.tile(np.asarray(SPEC.default_joint_pos, float), (len(t), 1))
    joints[:, SPEC.joint_names.index("waist_yaw_joint")] = waist_rad
    return clip_from_joint_trajectory(SPEC.variant, FPS, root, yaw_quats(yaw), joints)


def wave(t: float) -> float:
    """Shoulder-pitch offset from the default pose at clip time t, rad."""
    return AMP * math.sin(2 * math.pi * t / PERIOD)


@pytest.fixture(scope="module")
def clip():
    return arm_wave_clip(seconds=2.0, fps=FPS, amplitude_rad=AMP, period_s=PERIOD)


def step_data(clip, times: list[float]) -> StepData:
    n, j = len(times), SPEC.num_joints
    lib = MotionLibrary([clip], list(SPEC.joint_names), list(clip.body_names[:2]))
    ids = torch.zeros(n, dtype=torch.long)
    t = torch.tensor(times)
    return StepData(
        robot=SimState.zeros(n, j, 2, "cpu"), ref=lib.state(ids, t), actions=torch.zeros(n, j),
        prev_actions=torch.zeros(n, j),
        default_joint_pos=torch.tensor(SPEC.default_joint_pos, dtype=torch.float32),
        joint_pos_limits=torch.zeros(j, 2), joint_vel_limits=torch.ones(j),
        effort_limits=torch.ones(j), groups={}, feet=ContactState.zeros(n, torch.device("cpu")),
        control_dt=DT, motion=lib, clip_ids=ids, times_s=t,
    )  # fmt: skip


def test_ref_joint_pos_is_the_wave_one_step_ahead(clip) -> None:
    d = step_data(clip, [0.0, 0.3, 0.51])
    got = obs.ref_joint_pos(d)
    for row, t in enumerate([0.0, 0.3, 0.51]):
        for j in SHOULDERS:
            # 0.51 + 0.02 = 0.53 s falls on frame 26.5: linear blend of frames 26 and 27
            f = (t + DT) * FPS
            lo, hi = math.floor(f + 1e-9), math.floor(f + 1e-9) + 1
            a = f - lo
            expect = (1 - a) * wave(lo / FPS) + a * wave(hi / FPS)
            assert got[row, j].item() == pytest.approx(expect, abs=1e-5)
    others = [j for j in range(SPEC.num_joints) if j not in SHOULDERS]
    assert got[:, others].abs().max().item() < 1e-6  # default pose elsewhere
    two_ahead = obs.ref_joint_pos(d, ahead_steps=2)
    assert two_ahead[1, SHOULDERS[0]].item() == pytest.approx(wave(0.34), abs=1e-5)


def test_ref_joint_vel_and_gravity(clip) -> None:
    d = step_data(clip, [0.5])
    vel = obs.ref_joint_vel(d)[0, SHOULDERS[0]].item()
    # d/dt A sin(2πt/P) at t = 0.52 s; the clip differentiates frames, so allow its error
    analytic = AMP * 2 * math.pi / PERIOD * math.cos(2 * math.pi * 0.52 / PERIOD)
    assert vel == pytest.approx(analytic, abs=0.02)
    grav = obs.ref_projected_gravity(d)[0]
    np.testing.assert_allclose(grav.numpy(), [0.0, 0.0, -1.0], atol=1e-6)  # root upright


def test_deploy_track_matches_the_training_library(clip, tmp_path) -> None:
    path = save_clip(clip, tmp_path / "reference.npz")
    track = ReferenceTrack.load(path, list(SPEC.joint_names))
    times = [0.0, 0.3, 0.51, 1.999, 5.0]  # 5 s is past the end: clamped to the last frame
    d = step_data(clip, times)
    default = np.asarray(SPEC.default_joint_pos)
    for row, t in enumerate(times):
        ours = track.joint_pos_at(t + DT) - default
        np.testing.assert_allclose(ours, obs.ref_joint_pos(d)[row].numpy(), atol=1e-6)
        ours_vel = track.joint_vel_at(t + DT)
        np.testing.assert_allclose(ours_vel, obs.ref_joint_vel(d)[row].numpy(), atol=1e-5)
    assert track.joint_pos_at(5.0)[SHOULDERS[0]] - default[SHOULDERS[0]] == pytest.approx(
        wave(2.0), abs=1e-6
    )


def test_deploy_track_slerps_the_root() -> None:
    yaw90 = quat_np.from_axis_angle([0.0, 0.0, 1.0], math.pi / 2)
    quats = np.stack([[1.0, 0.0, 0.0, 0.0], yaw90])
    track = ReferenceTrack(np.zeros((2, 1)), np.zeros((2, 1)), quats, np.zeros((2, 3)), fps=10.0)
    half = track.root_quat_at(0.05)  # halfway between the frames: 45 degrees about z
    expect = [math.cos(math.pi / 8), 0.0, 0.0, math.sin(math.pi / 8)]
    np.testing.assert_allclose(half, expect, atol=1e-9)


def test_deploy_track_refuses_a_clip_without_the_joint(clip, tmp_path) -> None:
    from humimic.errors import InputFileError

    path = save_clip(clip, tmp_path / "reference.npz")
    with pytest.raises(InputFileError, match="lacks joints"):
        ReferenceTrack.load(path, ["no_such_joint"])


def test_anchored_reference_follows_the_robot_root_and_heading() -> None:
    """Reference root (1, 0, 0.8) facing +x with a body 0.1 m ahead; the robot root at
    (0, 2, 0.7) facing +y: the re-based body is at (0, 2.1, 0.8), the root at (0, 2, 0.8)."""
    from humimic.envs.terms import rewards as rew

    d = step_data(arm_wave_clip(seconds=0.1), [0.0])
    d.ref.body_pos_w[:] = torch.tensor([[[1.0, 0.0, 0.8], [1.1, 0.0, 0.8]]])
    d.ref.root_quat_w[:] = torch.tensor([1.0, 0.0, 0.0, 0.0])
    yaw90 = torch.tensor([math.cos(math.pi / 4), 0.0, 0.0, math.sin(math.pi / 4)])
    d.robot.root_quat_w[:] = yaw90
    d.robot.body_pos_w[:] = torch.tensor([[[0.0, 2.0, 0.7], [0.0, 2.1, 0.8]]])
    got = rew.anchored_ref_body_pos(d)[0]
    np.testing.assert_allclose(got.numpy(), [[0.0, 2.0, 0.8], [0.0, 2.1, 0.8]], atol=1e-6)
    # only the root height differs (0.1 m on one of two bodies): mean over 6 values of 0.01
    assert rew.body_pos_error(d, frame="anchor")[0].item() == pytest.approx(0.01 / 6, abs=1e-7)
    assert rew.body_pos_error(d, frame="world")[0].item() > 1.0  # world: 2.2 m apart


def test_ref_root_lin_vel_is_in_the_reference_root_frame() -> None:
    # facing +y while moving along +x: the motion is to the root's right, body -y
    sideways = step_data(root_path_clip(turning=False), [0.5, 1.2])
    np.testing.assert_allclose(
        obs.ref_root_lin_vel_b(sideways).numpy(), [[0.0, -SPEED, 0.0]] * 2, atol=1e-4
    )
    # on the arc the velocity follows the heading: straight ahead in the root frame
    # (central differences over 0.04 s shorten it by (TURN·0.02)²/6, 2e-5 relative)
    turning = step_data(root_path_clip(turning=True), [0.3, 1.5])
    np.testing.assert_allclose(
        obs.ref_root_lin_vel_b(turning).numpy(), [[SPEED, 0.0, 0.0]] * 2, atol=1e-3
    )


def test_ref_heading_error_is_reference_yaw_minus_robot_yaw() -> None:
    times = [0.5, 1.5]
    d = step_data(root_path_clip(turning=True), times)
    robot_yaw = [0.3, -3.0]  # the second wraps: 0.77 + 3.0 rad is past pi
    d.robot.root_quat_w[:] = torch.tensor(yaw_quats(np.array(robot_yaw)), dtype=torch.float32)
    got = obs.ref_heading_error(d).numpy()
    for row, (t, psi) in enumerate(zip(times, robot_yaw, strict=True)):
        diff = TURN * (t + DT) - psi  # the reference one control step ahead
        np.testing.assert_allclose(got[row], [math.sin(diff), math.cos(diff)], atol=1e-5)


def test_ref_torso_heading_error_adds_the_waist_yaw_on_both_sides() -> None:
    times, ref_waist = [0.5, 1.5], 0.2
    d = step_data(root_path_clip(turning=True, waist_rad=ref_waist), times)
    d = replace(d, joint_names=tuple(SPEC.joint_names))
    robot_yaw, robot_waist = [0.3, -3.0], [0.1, -0.4]
    d.robot.root_quat_w[:] = torch.tensor(yaw_quats(np.array(robot_yaw)), dtype=torch.float32)
    d.robot.joint_pos[:, SPEC.joint_names.index("waist_yaw_joint")] = torch.tensor(robot_waist)
    got = obs.ref_torso_heading_error(d).numpy()
    for row, t in enumerate(times):
        # upright bodies, waist roll and pitch at 0: torso yaw = root yaw + waist yaw
        diff = TURN * (t + DT) + ref_waist - (robot_yaw[row] + robot_waist[row])
        np.testing.assert_allclose(got[row], [math.sin(diff), math.cos(diff)], atol=1e-5)
    with pytest.raises(ConfigError, match="none of the waist joints"):
        obs.ref_torso_heading_error(replace(d, joint_names=("left_knee_joint",)))


def test_torso_yaw_is_the_torso_link_yaw_of_the_model() -> None:
    """The formula against MuJoCo's own kinematics: a tilted pelvis, the 3-DoF waist turned,
    rolled and pitched (the default variant has all three)."""
    import mujoco

    model = mujoco.MjModel.from_xml_path(str(SPEC.mjcf_path))
    data = mujoco.MjData(model)
    tilt = quat_np.from_euler(np.array([0.3, -0.2, 1.1]), "xyz")  # roll, pitch, yaw
    data.qpos[3:7] = tilt
    joint_pos = np.zeros((1, SPEC.num_joints))
    for name, angle in (("waist_yaw_joint", 0.7), ("waist_roll_joint", 0.4),
                        ("waist_pitch_joint", -0.5)):  # fmt: skip
        data.qpos[model.joint(name).qposadr[0]] = angle
        joint_pos[0, SPEC.joint_names.index(name)] = angle
    mujoco.mj_kinematics(model, data)
    want = float(quat_np.yaw(data.body("torso_link").xquat))
    names = tuple(SPEC.joint_names)
    got = obs.torso_yaw(torch.tensor(tilt[None]), torch.tensor(joint_pos), names)
    np.testing.assert_allclose(got.numpy(), [want], atol=1e-9)
    assert abs(want - (1.1 + 0.7)) > 0.05  # tilt, roll and pitch matter: not a plain sum
    chain = waist_columns(names)
    assert deploy_torso_yaw(tilt, joint_pos[0], chain) == pytest.approx(want, abs=1e-9)


def test_deploy_root_velocity_matches_the_training_library(tmp_path) -> None:
    clip = root_path_clip(turning=True)
    track = ReferenceTrack.load(save_clip(clip, tmp_path / "reference.npz"), list(SPEC.joint_names))
    times = [0.0, 0.37, 1.999]
    d = step_data(clip, times)
    for row, t in enumerate(times):
        world = track.root_lin_vel_at(t + DT)
        q = track.root_quat_at(t + DT)
        ours = quat_np.rotate(quat_np.conjugate(q), world)
        np.testing.assert_allclose(ours, obs.ref_root_lin_vel_b(d)[row].numpy(), atol=1e-5)


def test_deploy_track_refuses_a_clip_without_its_root_body(clip, tmp_path) -> None:
    from humimic.errors import InputFileError

    path = save_clip(clip, tmp_path / "reference.npz")
    with pytest.raises(InputFileError, match="lacks the root body 'torso'"):
        ReferenceTrack.load(path, list(SPEC.joint_names), root_body="torso")
