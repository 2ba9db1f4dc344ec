"""make_robot_clip: forward kinematics, finite-difference velocities, contacts, round trip."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest

from humimic.errors import ConfigError
from humimic.geometry import quat_np
from humimic.motion.clip import load_clip, save_clip
from humimic.motion.robot_clip import make_robot_clip
from humimic.robot.lookup import joint_trajectory_to_qpos, robot_foot_sole_points_b
from humimic.robot.model import build_model
from humimic.robot.spec import load_robot_spec

FPS = 30.0
T = 60


@pytest.fixture(scope="module")
def robot():
    spec = load_robot_spec("g1_23dof_lock_wrist")
    return spec, build_model(spec)


def _standing(spec, t_len=T, height=0.8):
    root_pos = np.tile([0.0, 0.0, height], (t_len, 1))
    root_quat = np.tile([1.0, 0.0, 0.0, 0.0], (t_len, 1))
    joints = np.tile(spec.default_joint_pos, (t_len, 1)).astype(np.float64)
    return root_pos, root_quat, joints


def test_body_poses_match_mj_kinematics(robot):
    spec, model = robot
    root_pos, _, joints = _standing(spec)
    time = np.arange(T) / FPS
    joints = joints + 0.3 * np.sin(2.0 * time)[:, None] * np.linspace(-0.3, 0.3, len(joints[0]))
    root_quat = quat_np.from_axis_angle(
        np.array([0.3, 0.2, 0.9]) / np.linalg.norm([0.3, 0.2, 0.9]), time
    )
    clip = make_robot_clip(spec, model, root_pos, root_quat, joints, FPS)
    assert clip.body_names == [model.body(b).name for b in range(1, model.nbody)]
    data = mujoco.MjData(model)
    for t in (0, 17, T - 1):
        data.qpos[:] = model.qpos0
        data.qpos[:3], data.qpos[3:7] = root_pos[t], root_quat[t]
        for j, name in enumerate(spec.joint_names):
            data.qpos[model.joint(name).qposadr[0]] = joints[t, j]
        mujoco.mj_kinematics(model, data)
        np.testing.assert_allclose(clip.body_pos_w[t], data.xpos[1:], atol=1e-12)
        angle = quat_np.angle_between(clip.body_quat_w[t], data.xquat[1:])
        assert angle.max() < 1e-6


def test_constant_joint_speed_gives_that_joint_vel(robot):
    spec, model = robot
    root_pos, root_quat, joints = _standing(spec)
    knee = spec.joint_names.index("left_knee_joint")
    joints[:, knee] = 0.2 + 0.5 * np.arange(T) / FPS  # 0.5 rad/s
    clip = make_robot_clip(spec, model, root_pos, root_quat, joints, FPS)
    np.testing.assert_allclose(
        clip.joint_vel[:, clip.joint_index("left_knee_joint")], 0.5, atol=1e-9
    )
    others = np.delete(clip.joint_vel, clip.joint_index("left_knee_joint"), axis=1)
    assert np.abs(others).max() < 1e-12


def test_constant_yaw_rate_gives_pelvis_angular_velocity(robot):
    spec, model = robot
    root_pos, _, joints = _standing(spec)
    omega = 1.3  # rad/s about world z
    root_quat = quat_np.from_axis_angle(np.array([0.0, 0.0, 1.0]), omega * np.arange(T) / FPS)
    clip = make_robot_clip(spec, model, root_pos, root_quat, joints, FPS)
    pelvis = clip.body_ang_vel_w[:, clip.body_index("pelvis")]
    np.testing.assert_allclose(pelvis, np.tile([0.0, 0.0, omega], (T, 1)), atol=1e-9)
    # Every body of a rigidly spinning robot has the same angular velocity.
    np.testing.assert_allclose(clip.body_ang_vel_w[:, :, 2], omega, atol=1e-9)


def test_translation_gives_linear_velocity(robot):
    spec, model = robot
    root_pos, root_quat, joints = _standing(spec)
    root_pos[:, 0] = 1.0 * np.arange(T) / FPS  # 1 m/s forward
    clip = make_robot_clip(spec, model, root_pos, root_quat, joints, FPS)
    expected = np.broadcast_to([1.0, 0.0, 0.0], clip.body_lin_vel_w.shape)
    np.testing.assert_allclose(clip.body_lin_vel_w, expected, atol=1e-9)
    assert np.abs(clip.body_ang_vel_w).max() < 1e-9


def test_velocity_smoothing_is_gaussian_of_raw_differences(robot):
    spec, model = robot
    root_pos, root_quat, joints = _standing(spec)
    knee = spec.joint_names.index("left_knee_joint")
    joints[:, knee] = 0.6 + 0.3 * np.sin(4.0 * np.arange(T) / FPS)
    raw = make_robot_clip(spec, model, root_pos, root_quat, joints, FPS, velocity_sigma_frames=0)
    smooth = make_robot_clip(spec, model, root_pos, root_quat, joints, FPS, velocity_sigma_frames=2)
    np.testing.assert_allclose(raw.joint_vel[:, knee], np.gradient(joints[:, knee]) * FPS)
    assert np.abs(smooth.joint_vel[:, knee] - raw.joint_vel[:, knee]).max() > 1e-3
    assert smooth.settings["velocity_sigma_frames"] == 2


def test_contact_mask_from_sole_points(robot):
    spec, model = robot
    root_pos, root_quat, joints = _standing(spec)
    on_ground = make_robot_clip(spec, model, root_pos, root_quat, joints, FPS)
    lifted = make_robot_clip(spec, model, root_pos + np.array([0, 0, 0.5]), root_quat, joints, FPS)
    assert on_ground.contact_mask.min() == 1.0
    assert lifted.contact_mask.max() == 0.0


def test_sole_points_are_the_bottoms_of_the_foot_geoms(robot):
    spec, model = robot
    soles = robot_foot_sole_points_b(model, spec)
    # 4 corner spheres (one point each) and a heel-to-toe capsule (two end points) per foot.
    assert soles["left"].shape == (6, 3) and soles["right"].shape == (6, 3)
    np.testing.assert_allclose(soles["left"][:, 2], -0.035, atol=1e-12)  # sole plane in the MJCF
    np.testing.assert_allclose(soles["left"][:, 0].min(), -0.052, atol=1e-12)  # capsule heel end
    np.testing.assert_allclose(soles["left"][:, 1], -soles["right"][:, 1], atol=1e-12)


def test_joint_trajectory_to_qpos_places_joints_by_name(robot):
    spec, model = robot
    root_pos, root_quat, joints = _standing(spec, t_len=2)
    joints[:, spec.joint_names.index("right_elbow_joint")] = 1.234
    qpos = joint_trajectory_to_qpos(model, spec, root_pos, root_quat, joints)
    assert qpos.shape == (2, model.nq)
    assert qpos[0, model.joint("right_elbow_joint").qposadr[0]] == 1.234
    with pytest.raises(ConfigError, match="joint_pos has shape"):
        joint_trajectory_to_qpos(model, spec, root_pos, root_quat, joints[:, :5])


def test_save_load_round_trip(robot, tmp_path):
    spec, model = robot
    root_pos, root_quat, joints = _standing(spec, t_len=10)
    clip = make_robot_clip(
        spec, model, root_pos, root_quat, joints, FPS, settings={"a": 1}, report={"verdict": "pass"}
    )
    loaded = load_clip(save_clip(clip, tmp_path / "c.npz"))
    assert loaded.joint_names == clip.joint_names and loaded.body_names == clip.body_names
    assert loaded.settings["a"] == 1 and loaded.report == {"verdict": "pass"}
    for name in ("root_pos_w", "root_quat_w", "joint_pos", "body_pos_w", "body_ang_vel_w"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(clip, name))
