"""G1 motor slots (Unitree SDK order) and the mode_machine value each hardware variant reports.

The hg body arrays have 35 slots; slots 0–28 are the 29-DoF joints below, 29–34 are unused.
The 23-DoF hardware keeps the same indices (its waist roll/pitch and wrist pitch/yaw slots are
simply absent), so every variant maps joints to slots by *name* through ``SDK_MOTOR_NAMES``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from humimic.errors import ConfigError

MODE_PR = 0
"""``mode_pr`` for serial pitch/roll ankle and waist addressing (what every deploy stack uses)."""

MOTOR_ENABLE = 1
"""``MotorCmd_.mode`` that enables a motor (0 disables it: no torque)."""

SDK_MOTOR_NAMES: tuple[str, ...] = (
    "left_hip_pitch_joint",
    "left_hip_roll_joint",
    "left_hip_yaw_joint",
    "left_knee_joint",
    "left_ankle_pitch_joint",
    "left_ankle_roll_joint",
    "right_hip_pitch_joint",
    "right_hip_roll_joint",
    "right_hip_yaw_joint",
    "right_knee_joint",
    "right_ankle_pitch_joint",
    "right_ankle_roll_joint",
    "waist_yaw_joint",
    "waist_roll_joint",
    "waist_pitch_joint",
    "left_shoulder_pitch_joint",
    "left_shoulder_roll_joint",
    "left_shoulder_yaw_joint",
    "left_elbow_joint",
    "left_wrist_roll_joint",
    "left_wrist_pitch_joint",
    "left_wrist_yaw_joint",
    "right_shoulder_pitch_joint",
    "right_shoulder_roll_joint",
    "right_shoulder_yaw_joint",
    "right_elbow_joint",
    "right_wrist_roll_joint",
    "right_wrist_pitch_joint",
    "right_wrist_yaw_joint",
)
"""Joint name of each of the 29 used motor slots, in slot order."""

# Position limits (rad) of each slot, Unitree g1_29dof_rev_1_0 URDF.
_POS_LIMITS = {
    "hip_pitch": (-2.5307, 2.8798),
    "left_hip_roll": (-0.5236, 2.9671),
    "right_hip_roll": (-2.9671, 0.5236),
    "hip_yaw": (-2.7576, 2.7576),
    "knee": (-0.087267, 2.8798),
    "ankle_pitch": (-0.87267, 0.5236),
    "ankle_roll": (-0.2618, 0.2618),
    "waist_yaw": (-2.618, 2.618),
    "waist_roll": (-0.52, 0.52),
    "waist_pitch": (-0.52, 0.52),
    "shoulder_pitch": (-3.0892, 2.6704),
    "left_shoulder_roll": (-1.5882, 2.2515),
    "right_shoulder_roll": (-2.2515, 1.5882),
    "shoulder_yaw": (-2.618, 2.618),
    "elbow": (-1.0472, 2.0944),
    "wrist_roll": (-1.97222, 1.97222),
    "wrist_pitch": (-1.61443, 1.61443),
    "wrist_yaw": (-1.61443, 1.61443),
}


def _limits_of(name: str) -> tuple[float, float]:
    base = name.removesuffix("_joint")
    side_free = base.removeprefix("left_").removeprefix("right_")
    return _POS_LIMITS.get(base) or _POS_LIMITS[side_free]


SDK_POS_LIMITS = np.array([_limits_of(n) for n in SDK_MOTOR_NAMES], dtype=np.float64)
"""(29, 2) lower/upper position limit (rad) of each used motor slot."""

MODE_MACHINE_MODELS: dict[int, str] = {
    1: "g1_23dof",
    2: "g1_29dof",
    3: "g1_29dof_lock_waist",
    4: "g1_23dof_rev_1_0",
    5: "g1_29dof_rev_1_0",
    6: "g1_29dof_lock_waist_rev_1_0",
    9: "g1_dual_arm",
}
"""Hardware model reported by each ``LowState_.mode_machine`` value (unitree_rl_gym table)."""

EXPECTED_MODE_MACHINE: dict[str, int] = {
    "g1_29dof": 5,  # rev_1_0 with the waist unlocked
    "g1_23dof_lock_wrist": 5,  # the same 29-DoF hardware, wrists held in software
    "g1_23dof": 4,  # 23-DoF rev_1_0 hardware
}
"""mode_machine humimic expects from the robot for each of its robot variants."""


def _strip(name: str) -> str:
    return name.removesuffix("_joint")


_SLOT_BY_NAME = {_strip(n): i for i, n in enumerate(SDK_MOTOR_NAMES)}


def motor_slot(joint_name: str) -> int:
    """The SDK motor slot of one joint ("left_knee_joint" or "left_knee" → 3)."""
    slot = _SLOT_BY_NAME.get(_strip(joint_name))
    if slot is None:
        raise ConfigError(f"joint {joint_name!r} is not a G1 motor (known: {SDK_MOTOR_NAMES})")
    return slot


def motor_slots(joint_names: Sequence[str]) -> np.ndarray:
    """SDK motor slot of each joint, matched by name.

    Args:
        joint_names: (J,) joint names, with or without the ``_joint`` suffix.

    Returns:
        (J,) int64 slot indices into the 35-slot motor arrays.
    """
    slots = np.array([motor_slot(n) for n in joint_names], dtype=np.int64)
    if len(set(slots.tolist())) != len(slots):
        raise ConfigError(f"joint names map to the same motor twice: {list(joint_names)}")
    return slots


def expected_mode_machine(variant: str) -> int:
    """The mode_machine the robot reports for a humimic robot variant (e.g. "g1_29dof" → 5)."""
    try:
        return EXPECTED_MODE_MACHINE[variant]
    except KeyError:
        raise ConfigError(
            f"robot variant {variant!r} has no known mode_machine "
            f"(known: {sorted(EXPECTED_MODE_MACHINE)})"
        ) from None
