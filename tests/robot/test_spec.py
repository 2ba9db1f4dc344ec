"""Robot spec files: contents against Unitree/PBHC tables, and rejection of bad YAML."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from humimic.errors import ConfigError, InputFileError
from humimic.paths import ROBOTS_DIR
from humimic.robot.spec import (
    LockedMotor,
    available_variants,
    load_robot_spec,
    load_robot_spec_file,
)

VARIANTS = ["g1_29dof", "g1_23dof_lock_wrist", "g1_23dof"]

# Unitree G1 SDK motor order (29 slots), written out from the SDK joint table.
SDK_ORDER = [
    "left_hip_pitch", "left_hip_roll", "left_hip_yaw", "left_knee", "left_ankle_pitch",
    "left_ankle_roll", "right_hip_pitch", "right_hip_roll", "right_hip_yaw", "right_knee",
    "right_ankle_pitch", "right_ankle_roll", "waist_yaw", "waist_roll", "waist_pitch",
    "left_shoulder_pitch", "left_shoulder_roll", "left_shoulder_yaw", "left_elbow",
    "left_wrist_roll", "left_wrist_pitch", "left_wrist_yaw", "right_shoulder_pitch",
    "right_shoulder_roll", "right_shoulder_yaw", "right_elbow", "right_wrist_roll",
    "right_wrist_pitch", "right_wrist_yaw",
]  # fmt: skip
SDK_JOINTS = [f"{n}_joint" for n in SDK_ORDER]

# (kp, kd, effort N·m, velocity rad/s) by joint type: PBHC gains, unitree_rl_gym wrist gains,
# Unitree URDF limits.
BY_TYPE = {
    "hip_pitch": (100, 2, 88, 32),
    "hip_roll": (100, 2, 139, 20),
    "hip_yaw": (100, 2, 88, 32),
    "knee": (150, 4, 139, 20),
    "ankle_pitch": (40, 2, 50, 37),
    "ankle_roll": (40, 2, 50, 37),
    "waist_yaw": (400, 5, 88, 32),
    "waist_roll": (400, 5, 50, 37),
    "waist_pitch": (400, 5, 50, 37),
    "shoulder_pitch": (100, 2, 25, 37),
    "shoulder_roll": (100, 2, 25, 37),
    "shoulder_yaw": (50, 2, 25, 37),
    "elbow": (50, 2, 25, 37),
    "wrist_roll": (20, 1, 25, 37),
    "wrist_pitch": (20, 1, 5, 22),
    "wrist_yaw": (20, 1, 5, 22),
}
PBHC_DEFAULT = {
    "left_hip_pitch_joint": -0.1,
    "right_hip_pitch_joint": -0.1,
    "left_knee_joint": 0.3,
    "right_knee_joint": 0.3,
    "left_ankle_pitch_joint": -0.2,
    "right_ankle_pitch_joint": -0.2,
    "left_shoulder_pitch_joint": 0.2,
    "right_shoulder_pitch_joint": 0.2,
    "left_shoulder_roll_joint": 0.2,
    "right_shoulder_roll_joint": -0.2,
    "left_elbow_joint": 0.9,
    "right_elbow_joint": 0.9,
}
REMOVED = {
    "g1_29dof": set(),
    "g1_23dof_lock_wrist": {
        f"{s}_wrist_{a}_joint" for s in ("left", "right") for a in ("roll", "pitch", "yaw")
    },
    "g1_23dof": {"waist_roll_joint", "waist_pitch_joint"}
    | {f"{s}_wrist_{a}_joint" for s in ("left", "right") for a in ("pitch", "yaw")},
}


def _joint_type(name: str) -> str:
    return name.removeprefix("left_").removeprefix("right_").removesuffix("_joint")


def test_available_variants_lists_the_three_g1_variants() -> None:
    assert set(VARIANTS) <= set(available_variants())


@pytest.mark.parametrize("variant", VARIANTS)
def test_joints_follow_sdk_motor_order(variant: str) -> None:
    spec = load_robot_spec(variant)
    expected = [n for n in SDK_JOINTS if n not in REMOVED[variant]]
    assert spec.joint_names == expected
    assert spec.motor_index.tolist() == [SDK_JOINTS.index(n) for n in expected]
    assert set(spec.removed_joints) == REMOVED[variant]
    assert spec.num_joints == 29 - len(REMOVED[variant])


def test_23dof_variants_use_the_documented_motor_slots() -> None:
    lock = load_robot_spec("g1_23dof_lock_wrist").motor_index.tolist()
    assert lock == [*range(15), 15, 16, 17, 18, 22, 23, 24, 25]
    consumer = load_robot_spec("g1_23dof").motor_index.tolist()
    assert consumer == [*range(13), 15, 16, 17, 18, 19, 22, 23, 24, 25, 26]


@pytest.mark.parametrize("variant", VARIANTS)
def test_gains_limits_and_default_pose_match_published_tables(variant: str) -> None:
    spec = load_robot_spec(variant)
    table = np.array([BY_TYPE[_joint_type(n)] for n in spec.joint_names], dtype=float)
    np.testing.assert_array_equal(spec.kp, table[:, 0])
    np.testing.assert_array_equal(spec.kd, table[:, 1])
    np.testing.assert_array_equal(spec.effort_limit, table[:, 2])
    np.testing.assert_array_equal(spec.velocity_limit, table[:, 3])
    expected_default = [PBHC_DEFAULT.get(n, 0.0) for n in spec.joint_names]
    np.testing.assert_array_equal(spec.default_joint_pos, expected_default)
    assert spec.default_root_height == pytest.approx(0.8)


def test_armature_is_reflected_rotor_inertia() -> None:
    def reflected(rotor: tuple[float, float, float], ratio: tuple[float, float]) -> float:
        return rotor[0] * (ratio[0] * ratio[1]) ** 2 + rotor[1] * ratio[1] ** 2 + rotor[2]

    m5020 = reflected((0.139e-4, 0.017e-4, 0.169e-4), (1 + 46 / 18, 1 + 56 / 16))
    m7520_14 = reflected((0.489e-4, 0.098e-4, 0.533e-4), (4.5, 1 + 48 / 22))
    m7520_22 = reflected((0.489e-4, 0.109e-4, 0.738e-4), (4.5, 5.0))
    m4010 = reflected((0.068e-4, 0.0, 0.0), (5.0, 5.0))
    spec = load_robot_spec("g1_29dof")
    expected = {
        "left_hip_pitch_joint": m7520_14,
        "waist_yaw_joint": m7520_14,
        "right_knee_joint": m7520_22,
        "left_hip_roll_joint": m7520_22,
        "left_ankle_roll_joint": 2 * m5020,
        "waist_pitch_joint": 2 * m5020,
        "right_elbow_joint": m5020,
        "left_wrist_roll_joint": m5020,
        "right_wrist_yaw_joint": m4010,
    }
    for name, value in expected.items():
        assert spec.armature[spec.joint_index(name)] == pytest.approx(value, rel=1e-6)


def test_locked_motors() -> None:
    lock = load_robot_spec("g1_23dof_lock_wrist")
    assert [(m.motor_index, m.kp, m.kd, m.pos) for m in lock.locked_motors] == [
        (i, 40.0, 1.0, 0.0) for i in (19, 20, 21, 26, 27, 28)
    ]
    assert {m.name for m in lock.locked_motors} == REMOVED["g1_23dof_lock_wrist"]
    assert load_robot_spec("g1_23dof").locked_motors == []
    assert load_robot_spec("g1_29dof").locked_motors == []


@pytest.mark.parametrize("variant", VARIANTS)
def test_body_groups(variant: str) -> None:
    spec = load_robot_spec(variant)
    groups = spec.body_groups
    assert sorted(groups["upper_body"] + groups["lower_body"]) == sorted(groups["tracked"])
    for point in ("left_hand_point", "right_hand_point", "head_point"):
        assert point in groups["tracked"]
    assert len(groups["key_points"]) == 16
    assert groups["feet"] == ["left_ankle_roll_link", "right_ankle_roll_link"]
    assert spec.imu_site == "imu_in_pelvis"
    assert len(spec.foot_geoms["left"]) == len(spec.foot_geoms["right"]) > 0


def test_joint_index_lookup() -> None:
    spec = load_robot_spec("g1_23dof_lock_wrist")
    assert spec.joint_index("right_shoulder_pitch_joint") == 19
    np.testing.assert_array_equal(
        spec.joint_indices(["waist_yaw_joint", "left_hip_pitch_joint"]), [12, 0]
    )
    with pytest.raises(ConfigError, match="left_wrist_roll_joint"):
        spec.joint_index("left_wrist_roll_joint")


def test_unknown_variant_lists_available_ones() -> None:
    with pytest.raises(ConfigError) as info:
        load_robot_spec("g1_31dof")
    message = str(info.value)
    assert "g1_31dof" in message
    for variant in VARIANTS:
        assert variant in message


def _raw(variant: str = "g1_23dof") -> dict:
    raw = yaml.safe_load((ROBOTS_DIR / "g1" / f"{variant}.yaml").read_text())
    raw["mjcf"] = str(ROBOTS_DIR / "g1" / "g1.xml")
    return raw


def _write(tmp_path: Path, raw: dict) -> Path:
    path = tmp_path / "robot.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_spec_file_copy_loads_with_absolute_mjcf(tmp_path: Path) -> None:
    spec = load_robot_spec_file(_write(tmp_path, _raw()))
    assert spec.joint_names == load_robot_spec("g1_23dof").joint_names
    assert spec.mjcf_path == (ROBOTS_DIR / "g1" / "g1.xml").resolve()


DELETE = object()
"""Marks a key to remove in the invalid-spec table."""
_LOCKED_BAD = [{"name": "x", "motor_index": 20, "kp": 1, "kd": 1, "pos": 0}]


@pytest.mark.parametrize(
    ("keys", "value", "message"),
    [
        (("joints", 3, "kp"), -5, "kp must be > 0"),
        (("joints", 3, "kd"), "soft", "kd must be a finite number"),
        (("joints", 3, "motor_index"), 29, "outside 0..28"),
        (("joints", 3, "motor_index"), 0, "repeated joint motor_index"),
        (("joints", 3, "name"), "left_hip_pitch_joint", "repeated joint names"),
        (("joints", 0, "armature"), DELETE, r"missing keys \['armature'\]"),
        (("colour",), "red", r"unknown keys \['colour'\]"),
        (("removed_joints",), ["left_knee_joint"], "both actuated and removed"),
        (("body_groups", "tracked"), DELETE, "body_groups lacks"),
        (("foot_geoms",), {"left": ["a"]}, "foot_geoms"),
        (("default_root_height",), 0, "default_root_height must be > 0"),
        (("mjcf",), "nowhere.xml", "not found"),
        (("locked_motors",), _LOCKED_BAD, "not in removed_joints"),
    ],
)
def test_invalid_spec_raises_config_error(
    tmp_path: Path, keys: tuple, value: object, message: str
) -> None:
    raw = _raw()
    parent = raw
    for key in keys[:-1]:
        parent = parent[key]
    if value is DELETE:
        del parent[keys[-1]]
    else:
        parent[keys[-1]] = value
    path = _write(tmp_path, raw)
    with pytest.raises(ConfigError, match=message) as info:
        load_robot_spec_file(path)
    assert str(path) in str(info.value)


def test_unreadable_spec_raises_input_file_error(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="not found"):
        load_robot_spec_file(tmp_path / "absent.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("joints: [unclosed\n")
    with pytest.raises(InputFileError, match="not valid YAML"):
        load_robot_spec_file(broken)
    scalar = tmp_path / "scalar.yaml"
    scalar.write_text("42\n")
    with pytest.raises(InputFileError, match="mapping"):
        load_robot_spec_file(scalar)


def test_locked_motor_dataclass_is_plain_data() -> None:
    motor = LockedMotor(name="left_wrist_yaw_joint", motor_index=21, kp=40.0, kd=1.0, pos=0.0)
    assert motor == load_robot_spec("g1_23dof_lock_wrist").locked_motors[2]
