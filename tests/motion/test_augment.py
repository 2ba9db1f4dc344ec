"""Clip augmentation: the mirror image against reflected kinematics, retiming against the source."""

from __future__ import annotations

import json

import numpy as np
import pytest

from humimic.errors import ConfigError
from humimic.geometry import quat_np
from humimic.motion.augment import mirror_clip, mirror_joint_map, mirror_name, retime_clip
from humimic.motion.clip import load_clip
from humimic.paths import REPO_ROOT
from humimic.robot.model import build_model
from humimic.robot.spec import load_robot_spec
from tests.tool_module import load_tool

CROUCH = REPO_ROOT / "motions" / "cmu_01_01_crouch.npz"


@pytest.fixture(scope="module")
def robot():
    spec = load_robot_spec("g1_23dof_lock_wrist")
    return spec, build_model(spec)


@pytest.fixture(scope="module")
def walk(robot):
    """A short clip that moves sideways, turns and swings every joint differently."""
    from humimic.motion.robot_clip import make_robot_clip

    spec, model = robot
    t = np.arange(40) / 30.0
    root_pos = np.stack([0.4 * t, 0.2 * t, 0.78 + 0.01 * np.sin(6 * t)], axis=1)
    root_quat = quat_np.from_axis_angle(
        np.array([0.1, 0.2, 0.97]) / np.linalg.norm([0.1, 0.2, 0.97]), 0.5 * t
    )
    phases = np.linspace(0.0, 3.0, len(spec.joint_names))
    joints = spec.default_joint_pos + 0.25 * np.sin(4 * t[:, None] + phases)
    contact = np.stack([t < 0.6, t >= 0.3], axis=1).astype(float)
    return make_robot_clip(spec, model, root_pos, root_quat, joints, 30.0, contact_mask=contact)


def test_mirror_names():
    assert mirror_name("left_hip_roll_joint") == "right_hip_roll_joint"
    assert mirror_name("right_elbow_link") == "left_elbow_link"
    assert mirror_name("waist_yaw_joint") == "waist_yaw_joint"


def test_mirror_joint_map_pairs_by_name_and_flips_roll_and_yaw(robot):
    spec, model = robot
    source, sign = mirror_joint_map(model, spec)
    names = list(spec.joint_names)
    expected = {  # pitch axes keep their sign; roll and yaw axes flip
        "left_hip_pitch_joint": ("right_hip_pitch_joint", 1),
        "left_hip_roll_joint": ("right_hip_roll_joint", -1),
        "left_hip_yaw_joint": ("right_hip_yaw_joint", -1),
        "right_knee_joint": ("left_knee_joint", 1),
        "waist_yaw_joint": ("waist_yaw_joint", -1),
        "waist_roll_joint": ("waist_roll_joint", -1),
        "waist_pitch_joint": ("waist_pitch_joint", 1),
        "left_shoulder_roll_joint": ("right_shoulder_roll_joint", -1),
        "right_elbow_joint": ("left_elbow_joint", 1),
    }
    for name, (partner, s) in expected.items():
        j = names.index(name)
        assert (names[source[j]], sign[j]) == (partner, s)


def test_mirrored_bodies_are_the_reflected_partners(robot, walk):
    """Forward kinematics of the mirrored joints = the original bodies reflected, sides swapped."""
    spec, model = robot
    mirrored = mirror_clip(walk, spec, model)
    partner = [walk.body_index(mirror_name(b)) for b in mirrored.body_names]
    reflected = walk.body_pos_w[:, partner] * np.array([1.0, -1.0, 1.0])
    # The G1 model is symmetric to about 10 µm.
    np.testing.assert_allclose(mirrored.body_pos_w, reflected, atol=1e-4)
    lin = walk.body_lin_vel_w[:, partner] * np.array([1.0, -1.0, 1.0])
    np.testing.assert_allclose(mirrored.body_lin_vel_w, lin, atol=1e-3)
    np.testing.assert_array_equal(mirrored.contact_mask, walk.contact_mask[:, ::-1])
    assert mirrored.settings["augment"] == [{"mirror": True}]


def test_mirroring_twice_gives_the_clip_back(robot, walk):
    spec, model = robot
    twice = mirror_clip(mirror_clip(walk, spec, model), spec, model)
    np.testing.assert_array_equal(twice.joint_pos, walk.joint_pos)
    np.testing.assert_allclose(twice.root_quat_w, walk.root_quat_w, atol=1e-12)
    np.testing.assert_allclose(twice.body_pos_w, walk.body_pos_w, atol=1e-9)


def test_retime_samples_the_source_at_speed_times_the_frame(robot, walk):
    spec, model = robot
    fast = retime_clip(walk, spec, model, 2.0)
    assert fast.num_frames == 20  # 39 frame intervals / 2 = 19.5 whole intervals -> 19, plus one
    assert fast.fps == walk.fps
    np.testing.assert_allclose(fast.joint_pos, walk.joint_pos[0:39:2], atol=1e-12)
    np.testing.assert_allclose(fast.root_pos_w[5], walk.root_pos_w[10], atol=1e-12)
    slow = retime_clip(walk, spec, model, 0.5)
    assert slow.num_frames == 79
    mid = 0.5 * (walk.joint_pos[3] + walk.joint_pos[4])
    np.testing.assert_allclose(slow.joint_pos[7], mid, atol=1e-12)
    q = quat_np.slerp(walk.root_quat_w[3], walk.root_quat_w[4], 0.5)
    np.testing.assert_allclose(slow.root_quat_w[7], q, atol=1e-9)
    # Root speed halves: 0.447 m/s in the plane becomes 0.224 m/s.
    speed = np.linalg.norm(np.diff(slow.root_pos_w[:, :2], axis=0), axis=1) * slow.fps
    np.testing.assert_allclose(speed, np.hypot(0.4, 0.2) / 2, rtol=1e-9)


@pytest.mark.parametrize("speed", [0.0, -1.0, float("nan"), 100.0])
def test_retime_rejects_bad_speeds(robot, walk, speed):
    spec, model = robot
    with pytest.raises(ConfigError, match="speed"):
        retime_clip(walk, spec, model, speed)


def test_tool_writes_an_assessed_clip_with_notes(tmp_path):
    out = tmp_path / "crouch_fast_mirror.npz"
    assert (
        load_tool("augment_clip").main([str(CROUCH), "--speed", "1.5", "--mirror", "-o", str(out)])
        == 0
    )
    clip, source = load_clip(out), load_clip(CROUCH)
    assert clip.num_frames == (source.num_frames - 1) * 2 // 3 + 1
    report = json.loads(out.with_name("crouch_fast_mirror.report.json").read_text())
    assert report["source"]["notes"] == [
        "augmented: played 1.5x as fast",
        "augmented: mirrored left-right (y -> -y)",
    ]
    assert report["verdict"] in ("pass", "warn", "fail")
    assert set(report["feasibility"]["checks"]) >= {"torque", "support", "joint_speed"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "nothing to do"),
        (["--speed", "-2"], "speed must be a positive number"),
        (["--mirror", "--out-suffix"], "must end in .npz"),
    ],
)
def test_tool_bad_input_exits_2_and_writes_nothing(tmp_path, capsys, args, message):
    out = tmp_path / ("x.npy" if "--out-suffix" in args else "x.npz")
    args = [a for a in args if a != "--out-suffix"]
    assert load_tool("augment_clip").main([str(CROUCH), *args, "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and err.count("\n") == 0
    assert list(tmp_path.iterdir()) == []


def test_tool_names_a_file_that_is_not_a_clip(tmp_path, capsys):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    assert (
        load_tool("augment_clip").main([str(bad), "--mirror", "-o", str(tmp_path / "o.npz")]) == 2
    )
    assert str(bad) in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.npz"]
