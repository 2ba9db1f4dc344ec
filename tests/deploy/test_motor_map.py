"""Motor slot maps, mode_machine table and remote-controller bytes."""

from __future__ import annotations

import numpy as np
import pytest

from humimic.deploy.dds.motor_map import (
    SDK_MOTOR_NAMES,
    SDK_POS_LIMITS,
    expected_mode_machine,
    motor_slots,
)
from humimic.deploy.remote import decode_buttons, decode_sticks, encode_remote
from humimic.errors import ConfigError
from humimic.robot.spec import load_robot_spec


@pytest.mark.parametrize("variant", ["g1_29dof", "g1_23dof_lock_wrist", "g1_23dof"])
def test_slots_by_name_agree_with_the_spec_motor_index(variant: str) -> None:
    spec = load_robot_spec(variant)
    np.testing.assert_array_equal(motor_slots(spec.joint_names), spec.motor_index)
    for lm in spec.locked_motors:
        assert motor_slots([lm.name])[0] == lm.motor_index


def test_slot_table_by_hand() -> None:
    assert len(SDK_MOTOR_NAMES) == 29
    assert motor_slots(["left_hip_pitch", "waist_yaw_joint", "right_wrist_yaw_joint"]).tolist() == [
        0,
        12,
        28,
    ]
    # PBHC 23-DoF: policy joints 19–22 are the right arm at motors 22–25
    assert motor_slots(["right_shoulder_pitch", "right_elbow"]).tolist() == [22, 25]
    np.testing.assert_allclose(SDK_POS_LIMITS[3], [-0.087267, 2.8798])  # left knee
    np.testing.assert_allclose(SDK_POS_LIMITS[7], [-2.9671, 0.5236])  # right hip roll


def test_unknown_or_duplicate_joint_names_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="left_tail"):
        motor_slots(["left_tail_joint"])
    with pytest.raises(ConfigError, match="same motor"):
        motor_slots(["left_knee", "left_knee_joint"])


def test_expected_mode_machine() -> None:
    assert expected_mode_machine("g1_29dof") == 5
    assert expected_mode_machine("g1_23dof_lock_wrist") == 5
    assert expected_mode_machine("g1_23dof") == 4
    with pytest.raises(ConfigError, match="h1"):
        expected_mode_machine("h1")


def test_remote_bytes_by_hand() -> None:
    remote = encode_remote(["start", "A"])
    assert len(remote) == 40
    assert remote[2:4] == bytes([0x04, 0x01])  # start = bit 2, A = bit 8, little endian
    assert decode_buttons(remote) == {"start", "A"}
    raw = bytearray(40)
    raw[2], raw[3] = 0x21, 0x80  # bits 0 (R1), 5 (L2), 15 (left)
    raw[4:8] = np.float32(0.5).tobytes()
    assert decode_buttons(raw) == {"R1", "L2", "left"}
    assert decode_sticks(raw)["lx"] == 0.5
    with pytest.raises(ConfigError, match="Z"):
        encode_remote(["Z"])
