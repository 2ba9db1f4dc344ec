"""The deploy safety state machine, independent of the policy and of DDS.

States (Unitree practice, g1_deploy.md §4)::

    ZERO_TORQUE ──checks pass──▶ DAMPING ──start──▶ MOVE_TO_DEFAULT ──timed──▶ WAIT_START
        ▲                         ▲  ▲                                          │ A
        │                         │  └──────── BLEND_TO_DEFAULT ◀──clip end── POLICY
        │                         └── any watchdog fault, B (e-stop), select (stop + exit)

ZERO_TORQUE (mode 1, kp = kd = 0) lasts until the state stream is healthy; DAMPING (kp 0,
kd > 0) is the safe state every fault leads to. Operator buttons act on a *press* (released →
held), so a stuck or still-held button never starts anything. The controller is only asked for
targets in POLICY; every other state computes its targets here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

import numpy as np

from humimic.geometry import quat_np


class SafetyState(StrEnum):
    """States of the deploy state machine."""

    ZERO_TORQUE = "ZERO_TORQUE"
    DAMPING = "DAMPING"
    MOVE_TO_DEFAULT = "MOVE_TO_DEFAULT"
    WAIT_START = "WAIT_START"
    POLICY = "POLICY"
    BLEND_TO_DEFAULT = "BLEND_TO_DEFAULT"


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
    """What runs in the POLICY state (an ONNX policy, or the hold-default controller)."""

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


@dataclass
class SafetyConfig:
    """Thresholds and timings of the state machine and its watchdogs.

    Attributes:
        stale_state_s: fault when the newest LowState is older than this (s).
        max_tilt_rad: fault when the pelvis z axis leans further than this from vertical.
        joint_vel_limit: (J,) fault when any |joint velocity| exceeds it (rad/s).
        max_bad_crc: fault after this many LowStates with a bad CRC in a row.
        move_to_default_s: duration of the interpolation to the default pose (s).
        blend_to_default_s: duration of the blend from the last policy target to default (s).
        damping_kd: kd of every motor in DAMPING (N·m·s/rad).
    """

    joint_vel_limit: np.ndarray
    stale_state_s: float = 0.1
    max_tilt_rad: float = 1.0
    max_bad_crc: int = 5
    move_to_default_s: float = 3.0
    blend_to_default_s: float = 1.0
    damping_kd: float = 3.0


def tilt_angle(quat_wxyz: np.ndarray) -> float:
    """Angle (rad) between the body z axis and world up, from a wxyz orientation."""
    up_b = quat_np.rotate(quat_np.conjugate(np.asarray(quat_wxyz)), np.array([0.0, 0.0, 1.0]))
    return float(np.arccos(np.clip(up_b[2], -1.0, 1.0)))


def watchdog_faults(
    state: RobotState, cfg: SafetyConfig, bad_crc_run: int, foreign_writer: bool
) -> list[str]:
    """Every watchdog that fires for this state (empty when all is well)."""
    faults = []
    if state.age_s > cfg.stale_state_s:
        faults.append(f"stale state: newest LowState is {state.age_s * 1e3:.0f} ms old")
    tilt = tilt_angle(state.quat_wxyz)
    if tilt > cfg.max_tilt_rad:
        faults.append(f"tilt {tilt:.2f} rad > {cfg.max_tilt_rad:.2f} rad")
    over = np.abs(state.joint_vel) > cfg.joint_vel_limit
    if over.any():
        j = int(np.argmax(np.abs(state.joint_vel) - cfg.joint_vel_limit))
        faults.append(f"joint {j} speed {state.joint_vel[j]:.1f} rad/s beyond its limit")
    if bad_crc_run >= cfg.max_bad_crc:
        faults.append(f"{bad_crc_run} LowStates in a row with a bad CRC")
    if foreign_writer:
        faults.append("another process publishes rt/lowcmd")
    return faults


@dataclass
class Transition:
    """One state change: when, from, to and why."""

    time_s: float
    source: SafetyState
    target: SafetyState
    reason: str


@dataclass
class SafetyMachine:
    """The state machine. Call :meth:`step` once per control step.

    Args:
        cfg: thresholds and timings.
        controller: runs in POLICY.
        default_pos: (J,) default joint positions (rad).
        kp: (J,) stiffness used outside damping (N·m/rad).
        kd: (J,) damping used outside damping (N·m·s/rad).
    """

    cfg: SafetyConfig
    controller: Controller
    default_pos: np.ndarray
    kp: np.ndarray
    kd: np.ndarray
    state: SafetyState = SafetyState.ZERO_TORQUE
    transitions: list[Transition] = field(default_factory=list)
    exit_requested: bool = False
    faulted: bool = False
    _entered_s: float = 0.0
    _start_pos: np.ndarray | None = None
    _last_target: np.ndarray | None = None
    _prev_buttons: frozenset[str] | None = None  # None until the first step

    def go(self, target: SafetyState, now: float, reason: str) -> None:
        """Switch state (no-op when already there)."""
        if target == self.state:
            return
        self.transitions.append(Transition(now, self.state, target, reason))
        self.state = target
        self._entered_s = now

    def fault(self, now: float, reason: str) -> None:
        """A watchdog or exit path fired: go to DAMPING from any state."""
        self.faulted = True
        self.go(SafetyState.DAMPING, now, reason)

    def _pressed(self, buttons: frozenset[str], *names: str) -> bool:
        """All ``names`` held now and at least one of them was not held last step."""
        held = all(n in buttons for n in names)
        prev = self._prev_buttons or frozenset()
        return held and not all(n in prev for n in names)

    def step(self, rs: RobotState, faults: Iterable[str] = ()) -> JointCommand:
        """Advance one control step and return the command for it.

        Args:
            rs: the newest robot state.
            faults: watchdog faults that fired this step (each forces DAMPING).
        """
        now = rs.time_s
        if self._prev_buttons is None:  # buttons held before we started are not presses
            self._prev_buttons = rs.buttons
        active = list(faults)
        for reason in active:
            self.fault(now, reason)
        if self.state == SafetyState.ZERO_TORQUE and not active:
            self.go(SafetyState.DAMPING, now, "state stream healthy")
        self._operator(rs, now, healthy=not active)
        cmd = self._command(rs, now)
        self._prev_buttons = rs.buttons
        return cmd

    def _operator(self, rs: RobotState, now: float, healthy: bool) -> None:
        if self._pressed(rs.buttons, "select"):
            self.exit_requested = True
            self.go(SafetyState.DAMPING, now, "operator: select (stop)")
        elif self._pressed(rs.buttons, "B"):
            self.go(SafetyState.DAMPING, now, "operator: B (e-stop)")
        elif self.state == SafetyState.DAMPING and self._pressed(rs.buttons, "start"):
            if healthy and not self.exit_requested:
                self.faulted = False
                self._start_pos = rs.joint_pos.copy()
                self.go(SafetyState.MOVE_TO_DEFAULT, now, "operator: start")
        elif self.state == SafetyState.WAIT_START and self._pressed(rs.buttons, "A"):
            self.controller.reset(rs)
            self.go(SafetyState.POLICY, now, "operator: A")

    def _ramp(self, now: float, duration: float) -> float:
        return float(np.clip((now - self._entered_s) / max(duration, 1e-9), 0.0, 1.0))

    def _command(self, rs: RobotState, now: float) -> JointCommand:
        zeros = np.zeros_like(self.default_pos)
        s = self.state
        if s == SafetyState.ZERO_TORQUE:
            return JointCommand(rs.joint_pos.copy(), zeros, zeros.copy(), "off")
        if s == SafetyState.DAMPING:
            kd = np.full_like(self.default_pos, self.cfg.damping_kd)
            return JointCommand(rs.joint_pos.copy(), zeros, kd, "damp")
        if s == SafetyState.MOVE_TO_DEFAULT:
            a = self._ramp(now, self.cfg.move_to_default_s)
            start = self._start_pos if self._start_pos is not None else rs.joint_pos
            q = (1.0 - a) * start + a * self.default_pos
            if a >= 1.0:
                self.go(SafetyState.WAIT_START, now, "at default pose")
            return self._stiff(q)
        if s == SafetyState.WAIT_START:
            return self._stiff(self.default_pos.copy())
        if s == SafetyState.POLICY:
            target = self.controller.step(rs)
            if target is not None:
                self._last_target = np.asarray(target, dtype=np.float64)
                return self._stiff(self._last_target.copy())
            self.go(SafetyState.BLEND_TO_DEFAULT, now, "clip ended")
        # BLEND_TO_DEFAULT
        a = self._ramp(now, self.cfg.blend_to_default_s)
        last = self._last_target if self._last_target is not None else rs.joint_pos
        q = (1.0 - a) * last + a * self.default_pos
        if a >= 1.0:
            self.go(SafetyState.DAMPING, now, "blend to default done")
        return self._stiff(q)

    def _stiff(self, q: np.ndarray) -> JointCommand:
        return JointCommand(q, self.kp.copy(), self.kd.copy(), "hold")
