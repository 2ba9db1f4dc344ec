"""What a deploy controller sees and returns, independent of the policy and of DDS.

:class:`RobotState` is one control step's view of the robot (built from a validated
LowState), :class:`JointCommand` the motor-level command the safety machine hands to the
command writer, :class:`Controller` what runs in the POLICY state, and
:class:`HoldDefaultController` the built-in controller that holds the default pose.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass
class RobotState:
    """What the controller and the watchdogs see of the robot at one control step.

    Attributes:
        joint_pos: (J,) measured joint positions in policy order (rad).
        joint_vel: (J,) measured joint velocities (rad/s).
        quat_wxyz: (4,) pelvis IMU orientation, world ← pelvis.
        gyro_b: (3,) pelvis angular velocity in the pelvis frame (rad/s).
        buttons: remote (and keyboard) buttons held down.
        tick: robot tick of the LowState (ms counter on the G1).
        age_s: time since that LowState arrived (s).
        time_s: time since the runtime started (s).
    """

    joint_pos: np.ndarray
    joint_vel: np.ndarray
    quat_wxyz: np.ndarray
    gyro_b: np.ndarray
    buttons: frozenset[str] = frozenset()
    tick: int = 0
    age_s: float = 0.0
    time_s: float = 0.0


class Controller(Protocol):
    """What runs in the POLICY state (an ONNX policy, or the hold-default controller).

    ``control_dt`` (s) is the period it was trained for: the runtime calls :meth:`step`
    once per ``control_dt``, so a 25 Hz policy is not run at another rate.
    """

    control_dt: float

    def reset(self, state: RobotState) -> None:
        """Called once when POLICY is entered."""

    def step(self, state: RobotState) -> np.ndarray | None:
        """(J,) joint position targets (rad) for this step, or None when the clip has ended."""


class HoldDefaultController:
    """Holds the default pose; optionally "ends its clip" after ``duration_s``.

    Args:
        default_pos: (J,) default joint positions (rad).
        duration_s: clip length; None holds forever.
        control_dt: seconds per step.
    """

    def __init__(
        self, default_pos: np.ndarray, duration_s: float | None = None, control_dt: float = 0.02
    ) -> None:
        self.default_pos = np.asarray(default_pos, dtype=np.float64).copy()
        self.duration_s = duration_s
        self.control_dt = control_dt
        self._steps = 0

    def reset(self, state: RobotState) -> None:
        self._steps = 0

    def step(self, state: RobotState) -> np.ndarray | None:
        self._steps += 1
        if self.duration_s is not None and self._steps * self.control_dt > self.duration_s:
            return None
        return self.default_pos.copy()


@dataclass
class JointCommand:
    """Motor-level command for the policy joints, plus how to drive the locked motors.

    Attributes:
        q: (J,) position targets (rad); already clamped to joint limits by the runtime.
        kp: (J,) stiffness (N·m/rad).
        kd: (J,) damping (N·m·s/rad).
        locked: "off" (kp = kd = 0), "damp" (kp = 0, kd = damping) or "hold" (own gains).
    """

    q: np.ndarray
    kp: np.ndarray
    kd: np.ndarray
    locked: str
