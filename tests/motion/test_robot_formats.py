"""Readers and writers of other tools' robot-clip formats (Unitree CSV, BeyondMimic, PBHC)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from humimic.errors import HumimicError, InputFileError
from humimic.geometry import quat_np
from humimic.motion.io.robot_formats import (
    read_beyondmimic_npz,
    read_lafan_csv,
    read_pbhc_pkl,
    unitree_motor_joint_names,
    write_beyondmimic_npz,
    write_unitree_csv,
)
from humimic.motion.robot_clip import make_robot_clip
from humimic.robot.model import build_model
from humimic.robot.spec import load_robot_spec

VARIANT = "g1_23dof_lock_wrist"
T = 6
YAW_90_XYZW = [0.0, 0.0, np.sin(np.pi / 4), np.cos(np.pi / 4)]
MOTORS = [
    "left_hip_pitch_joint", "left_hip_roll_joint", "left_hip_yaw_joint", "left_knee_joint",
    "left_ankle_pitch_joint", "left_ankle_roll_joint", "right_hip_pitch_joint",
    "right_hip_roll_joint", "right_hip_yaw_joint", "right_knee_joint", "right_ankle_pitch_joint",
    "right_ankle_roll_joint", "waist_yaw_joint", "waist_roll_joint", "waist_pitch_joint",
    "left_shoulder_pitch_joint", "left_shoulder_roll_joint", "left_shoulder_yaw_joint",
    "left_elbow_joint", "left_wrist_roll_joint", "left_wrist_pitch_joint", "left_wrist_yaw_joint",
    "right_shoulder_pitch_joint", "right_shoulder_roll_joint", "right_shoulder_yaw_joint",
    "right_elbow_joint", "right_wrist_roll_joint", "right_wrist_pitch_joint",
    "right_wrist_yaw_joint",
]  # fmt: skip
"""Unitree G1 motor order (SDK LowCmd slots 0-28), written out independently of the specs."""


@pytest.fixture(scope="module")
def robot():
    spec = load_robot_spec(VARIANT)
    return spec, build_model(spec)


def _lafan_rows() -> np.ndarray:
    rows = np.zeros((T, 36))
    rows[:, :3] = [1.0, 2.0, 0.79]
    rows[:, 3:7] = YAW_90_XYZW
    rows[:, 7:] = 0.01 * (np.arange(29) + 1)  # motor i holds 0.01 * (i + 1) rad
    rows[:, 7 + MOTORS.index("left_knee_joint")] += 0.02 * np.arange(T)
    return rows


def _write_csv(path, rows) -> None:
    path.write_text("\n".join(",".join(f"{v:.9g}" for v in row) for row in rows) + "\n")


def test_motor_order_matches_unitree():
    assert unitree_motor_joint_names("g1") == MOTORS


def test_lafan_csv_root_quaternion_and_joints_by_name(tmp_path):
    path = tmp_path / "walk.csv"
    _write_csv(path, _lafan_rows())
    clip = read_lafan_csv(path, VARIANT)
    assert clip.fps == 30.0 and clip.num_frames == T
    expected = np.array([np.cos(np.pi / 4), 0.0, 0.0, np.sin(np.pi / 4)])  # wxyz, yaw +90°
    np.testing.assert_allclose(clip.root_quat_w, np.tile(expected, (T, 1)), atol=1e-9)
    np.testing.assert_allclose(clip.root_pos_w[0], [1.0, 2.0, 0.79])
    for name in ("left_elbow_joint", "right_shoulder_pitch_joint", "waist_pitch_joint"):
        value = 0.01 * (MOTORS.index(name) + 1)
        np.testing.assert_allclose(clip.joint_pos[:, clip.joint_index(name)], value)
    knee = clip.joint_pos[:, clip.joint_index("left_knee_joint")]
    np.testing.assert_allclose(knee, 0.04 + 0.02 * np.arange(T))
    assert sorted(clip.settings["dropped_joints"]) == sorted(n for n in MOTORS if "wrist" in n)
    assert clip.source_sha256 and clip.source_file == str(path)


@pytest.mark.parametrize(
    ("line", "text", "problem"),
    [(3, "1,2,3", "line 3: expected 36"), (2, None, "line 2: not all values are numbers")],
)
def test_corrupt_csv_names_file_and_line(tmp_path, line, text, problem):
    lines = [",".join(f"{v:.6g}" for v in row) for row in _lafan_rows()]
    lines[line - 1] = text if text is not None else lines[line - 1].replace("0.79", "abc", 1)
    path = tmp_path / "bad.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputFileError, match=problem) as err:
        read_lafan_csv(path, VARIANT)
    assert str(path) in str(err.value)


def test_unitree_csv_write_read_round_trip(robot, tmp_path):
    spec, model = robot
    clip = _moving_clip(spec, model)
    path = write_unitree_csv(clip, tmp_path / "out.csv")
    table = np.loadtxt(path, delimiter=",")
    assert table.shape == (T, 36)
    np.testing.assert_allclose(table[:, 3:7], quat_np.wxyz_to_xyzw(clip.root_quat_w), atol=1e-7)
    assert np.all(table[:, 7 + MOTORS.index("left_wrist_yaw_joint")] == 0.0)
    back = read_lafan_csv(path, VARIANT)
    np.testing.assert_allclose(back.joint_pos, clip.joint_pos, atol=1e-7)
    np.testing.assert_allclose(back.root_pos_w, clip.root_pos_w, atol=1e-7)


def _moving_clip(spec, model):
    time = np.arange(T) / 30.0
    joints = np.tile(spec.default_joint_pos, (T, 1)) + 0.1 * np.sin(time)[:, None]
    root = np.stack([0.3 * time, 0.1 * time, np.full(T, 0.8)], axis=1)
    quat = quat_np.from_axis_angle(np.array([0.0, 0.0, 1.0]), 0.5 * time)
    return make_robot_clip(spec, model, root, quat, joints, 30.0)


def test_beyondmimic_npz_round_trip(robot, tmp_path):
    spec, model = robot
    clip = _moving_clip(spec, model)
    path = write_beyondmimic_npz(clip, tmp_path / "m.npz")
    with np.load(path) as data:
        assert data["fps"].shape == (1,) and data["joint_pos"].shape == (T, len(spec.joint_names))
        assert data["body_pos_w"].dtype == np.float32 and str(data["body_names"][0]) == "pelvis"
    back = read_beyondmimic_npz(path, VARIANT)
    assert back.fps == 30.0 and back.joint_names == clip.joint_names
    np.testing.assert_allclose(back.joint_pos, clip.joint_pos, atol=1e-6)
    np.testing.assert_allclose(back.root_pos_w, clip.root_pos_w, atol=1e-6)
    np.testing.assert_allclose(back.body_pos_w, clip.body_pos_w, atol=1e-5)


def test_beyondmimic_without_names_and_holosoma_root_columns(robot, tmp_path):
    spec, model = robot
    clip = _moving_clip(spec, model)
    names = list(reversed(clip.joint_names))  # a different column order, matched by name
    joints = clip.joint_pos[:, ::-1]
    bare = tmp_path / "bare.npz"
    bodies = {"body_pos_w": clip.body_pos_w, "body_quat_w": clip.body_quat_w}
    np.savez(bare, fps=np.array([30.0]), joint_pos=joints, **bodies)
    with pytest.raises(InputFileError, match="joint_names"):
        read_beyondmimic_npz(bare, VARIANT)
    back = read_beyondmimic_npz(bare, VARIANT, joint_names=names)
    np.testing.assert_allclose(back.joint_pos, clip.joint_pos, atol=1e-12)
    holo = tmp_path / "holo.npz"
    qpos = np.concatenate([clip.root_pos_w, clip.root_quat_w, joints], axis=1)
    np.savez(holo, fps=30, joint_pos=qpos, joint_names=np.array(names))
    back = read_beyondmimic_npz(holo, VARIANT)
    np.testing.assert_allclose(back.root_quat_w, clip.root_quat_w, atol=1e-12)
    np.testing.assert_allclose(back.joint_pos, clip.joint_pos, atol=1e-12)


def test_beyondmimic_without_names_uses_isaaclab_order(tmp_path):
    spec = load_robot_spec("g1_29dof")
    clip = _moving_clip(spec, build_model(spec))
    # Isaac Lab's breadth-first G1 order: one tree depth at a time, left, right, waist.
    depth = [
        ["hip_pitch", "waist_yaw"], ["hip_roll", "waist_roll"], ["hip_yaw", "waist_pitch"],
        ["knee"], ["shoulder_pitch"], ["ankle_pitch"], ["shoulder_roll"], ["ankle_roll"],
        ["shoulder_yaw"], ["elbow"], ["wrist_roll"], ["wrist_pitch"], ["wrist_yaw"],
    ]  # fmt: skip
    isaac = []
    for joints in depth:
        isaac += [f"left_{joints[0]}_joint", f"right_{joints[0]}_joint"]
        isaac += [f"{j}_joint" for j in joints[1:]]
    assert len(isaac) == 29
    path = tmp_path / "bm.npz"
    order = [clip.joint_index(n) for n in isaac]
    bodies = {"body_pos_w": clip.body_pos_w, "body_quat_w": clip.body_quat_w}
    np.savez(path, fps=np.array([50]), joint_pos=clip.joint_pos[:, order], **bodies)
    back = read_beyondmimic_npz(path, "g1_29dof")
    np.testing.assert_allclose(back.joint_pos, clip.joint_pos, atol=1e-12)
    assert back.fps == 50.0 and "joint_order_assumed" in back.settings


def test_missing_joints_are_listed(robot, tmp_path):
    spec, model = robot
    clip = _moving_clip(spec, model)
    path = tmp_path / "short.npz"
    qpos = np.concatenate([clip.root_pos_w, clip.root_quat_w, clip.joint_pos[:, 1:]], axis=1)
    np.savez(path, fps=30, joint_pos=qpos, joint_names=np.array(clip.joint_names[1:]))
    with pytest.raises(InputFileError, match=clip.joint_names[0]):
        read_beyondmimic_npz(path, VARIANT)


def _pbhc_file(tmp_path):
    spec = load_robot_spec("g1_23dof_lock_wrist")  # PBHC's 23-DoF order
    dof = np.tile(0.02 * (np.arange(23) + 1), (T, 1)).astype(np.float32)
    contact = np.zeros((T, 2), np.float32)
    contact[:3, 0] = 1.0
    motion = {
        "root_trans_offset": np.tile([0.0, 0.0, 0.8], (T, 1)).astype(np.float32),
        "root_rot": np.tile(YAW_90_XYZW, (T, 1)).astype(np.float32),
        "dof": dof,
        "fps": 30,
        "contact_mask": contact,
    }
    path = tmp_path / "kick.pkl"
    with open(path, "wb") as handle:
        pickle.dump({"kick_S0-30_E100-30": motion}, handle)
    return path, spec.joint_names, contact


def test_pbhc_pickle_refused_without_trust(tmp_path):
    path, _, _ = _pbhc_file(tmp_path)
    with pytest.raises(HumimicError, match="--trust-pickle"):
        read_pbhc_pkl(path, VARIANT, trust_pickle=False)


def test_pbhc_pickle_read_with_trust(tmp_path):
    path, pbhc_names, contact = _pbhc_file(tmp_path)
    clip = read_pbhc_pkl(path, VARIANT, trust_pickle=True)
    yaw_90 = [np.cos(np.pi / 4), 0, 0, np.sin(np.pi / 4)]
    np.testing.assert_allclose(clip.root_quat_w, np.tile(yaw_90, (T, 1)), atol=1e-6)
    for i, name in enumerate(pbhc_names):
        np.testing.assert_allclose(clip.joint_pos[:, clip.joint_index(name)], 0.02 * (i + 1))
    np.testing.assert_array_equal(clip.contact_mask, contact)
    with pytest.raises(InputFileError, match="left_wrist_roll_joint"):  # 23-DoF file, 29-DoF robot
        read_pbhc_pkl(path, "g1_29dof", trust_pickle=True)
