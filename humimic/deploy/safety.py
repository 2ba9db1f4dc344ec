"""The deploy safety state machine, independent of the policy and of DDS.

States (Unitree practice, g1_deploy.md §4)::

    ZERO_TORQUE ──checks pass──▶ DAMPING ──start──▶ MOVE_TO_DEFAULT ──timed──▶ WAIT_START
        ▲                         ▲  ▲                                          │ A
        │                         │  └──────── BLEND_TO_DEFAULT ◀──clip end── POLICY
        │                         └── any watchdog fault, B (e-stop), select (stop + exit)

ZERO_TORQUE (mode 1, kp = kd = 0) lasts until the state stream is healthy; DAMPING (kp 0,
kd > 0) is the safe state every fault leads to. A *fatal* fault (the controller raised or
returned a non-finite target, the command writer failed, the loop overran, the robot changed
``mode_machine``) also leads to DAMPING and forbids any restart: the runtime then exits.
Operator buttons act on a *press* (released → held), so a stuck or still-held button never
starts anything. The controller is only asked for targets in POLICY; every other state
computes its targets here. Every LowState is validated (:func:`state_faults`) before any of
its values is used.
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
        quat_norm_tol: fault when the IMU quaternion's norm differs from 1 by more than this.
        joint_pos_margin_rad: fault when a joint reads further than this outside its limits.
        joint_jump_margin_rad: fault when a joint moved between two LowStates by more than its
            speed limit allows in the tick interval plus this (rad).
        move_to_default_s: duration of the interpolation to the default pose (s).
        blend_to_default_s: duration of the blend from the last policy target to default (s).
        damping_kd: kd of every motor in DAMPING (N·m·s/rad).
    """

    joint_vel_limit: np.ndarray
    stale_state_s: float = 0.1
    max_tilt_rad: float = 1.0
    max_bad_crc: int = 5
    quat_norm_tol: float = 0.05
    joint_pos_margin_rad: float = 0.1
    joint_jump_margin_rad: float = 0.05
    move_to_default_s: float = 3.0
    blend_to_default_s: float = 1.0
    damping_kd: float = 3.0


TICK_PERIOD_S = 0.001
"""Seconds per LowState ``tick`` (the G1 counts milliseconds)."""


def tilt_angle(quat_wxyz: np.ndarray) -> float:
    """Angle (rad) between the body z axis and world up, from a wxyz orientation.

    The quaternion is normalised first, so a non-unit one reports its true tilt; a zero or
    non-finite one gives NaN (never "upright").
    """
    q = np.asarray(quat_wxyz, dtype=np.float64)
    norm = float(np.linalg.norm(q))
    if not np.isfinite(norm) or norm < 1e-9:
        return float("nan")
    up_b = quat_np.rotate(quat_np.conjugate(q / norm), np.array([0.0, 0.0, 1.0]))
    return float(np.arccos(np.clip(up_b[2], -1.0, 1.0)))


def state_faults(
    state: RobotState,
    cfg: SafetyConfig,
    pos_limits: tuple[np.ndarray, np.ndarray] | None = None,
    previous: RobotState | None = None,
) -> list[str]:
    """Why this LowState cannot be trusted (empty when it can).

    Args:
        state: the newest robot state.
        cfg: tolerances.
        pos_limits: (lo, hi), each (J,), joint position limits (rad); None skips that check.
        previous: the state of the previous *new* LowState (None for the first one, or when
            no new LowState arrived since): enables the jump and tick checks.
    """
    fields = {"joint_pos": state.joint_pos, "joint_vel": state.joint_vel,
              "quaternion": state.quat_wxyz, "gyroscope": state.gyro_b}  # fmt: skip
    for name, value in fields.items():
        bad = ~np.isfinite(np.asarray(value, dtype=np.float64))
        if bad.any():
            i = int(np.argmax(bad))
            return [f"non-finite LowState: {name}[{i}] = {value[i]}"]  # nothing else is readable
    faults = []
    norm = float(np.linalg.norm(state.quat_wxyz))
    if abs(norm - 1.0) > cfg.quat_norm_tol:
        faults.append(f"IMU quaternion norm {norm:.3f} is not 1 (tolerance {cfg.quat_norm_tol})")
    if pos_limits is not None:
        lo, hi = pos_limits
        m = cfg.joint_pos_margin_rad
        out = (state.joint_pos < lo - m) | (state.joint_pos > hi + m)
        if out.any():
            j = int(np.argmax(out))
            faults.append(
                f"joint {j} reads {state.joint_pos[j]:.3f} rad, outside its limits "
                f"[{lo[j]:.3f}, {hi[j]:.3f}] + {m} rad"
            )
    if previous is not None:
        advance = (state.tick - previous.tick) % (1 << 32)
        if advance == 0 or advance >= 1 << 31:
            faults.append(f"LowState tick {state.tick} did not advance (previous {previous.tick})")
        else:
            allowed = cfg.joint_vel_limit * advance * TICK_PERIOD_S + cfg.joint_jump_margin_rad
            jump = np.abs(state.joint_pos - previous.joint_pos)
            if (jump > allowed).any():
                j = int(np.argmax(jump - allowed))
                faults.append(
                    f"joint {j} jumped {jump[j]:.3f} rad in {advance} ticks "
                    f"(at most {allowed[j]:.3f} rad possible)"
                )
    return faults


def watchdog_faults(
    state: RobotState,
    cfg: SafetyConfig,
    bad_crc_run: int,
    foreign_writer: bool,
    pos_limits: tuple[np.ndarray, np.ndarray] | None = None,
    previous: RobotState | None = None,
) -> list[str]:
    """Every watchdog that fires for this state (empty when all is well).

    ``pos_limits`` and ``previous`` are passed on to :func:`state_faults`; tilt and joint
    speed are only judged on a state that passed it.
    """
    faults = []
    if state.age_s > cfg.stale_state_s:
        faults.append(f"stale state: newest LowState is {state.age_s * 1e3:.0f} ms old")
    invalid = state_faults(state, cfg, pos_limits, previous)
    faults += invalid
    if not invalid:
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
    fatal: str | None = None
    faults: list[tuple[float, str]] = field(default_factory=list)
    _entered_s: float = 0.0
    _start_pos: np.ndarray | None = None
    _last_target: np.ndarray | None = None
    _prev_buttons: frozenset[str] | None = None  # None until the first step
    _faulting: bool = False  # a watchdog fired on the previous step

    @property
    def fault_active(self) -> bool:
        """A watchdog fired on the latest step (or a fatal fault happened)."""
        return self._faulting or self.fatal is not None

    def go(self, target: SafetyState, now: float, reason: str) -> None:
        """Switch state (no-op when already there)."""
        if target == self.state:
            return
        self.transitions.append(Transition(now, self.state, target, reason))
        self.state = target
        self._entered_s = now

    def fault(self, now: float, reason: str, fatal: bool = False, record: bool = True) -> None:
        """A watchdog or exit path fired: go to DAMPING from any state.

        ``record`` keeps the fault in :attr:`faults` (the watchdogs record only the first step
        of a run of faulty steps); a ``fatal`` one (the first is kept in :attr:`fatal`) also
        forbids leaving DAMPING again.
        """
        self.faulted = True
        if record:
            self.faults.append((now, reason))
        if fatal and self.fatal is None:
            self.fatal = reason
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
            self.fault(now, reason, record=not self._faulting)
        self._faulting = bool(active)
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
            if healthy and not self.exit_requested and self.fatal is None:
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
        # With kp = 0 the target is ignored by the motor; the default pose keeps it finite
        # whatever the (possibly corrupt) state said.
        if s == SafetyState.ZERO_TORQUE:
            return JointCommand(self.default_pos.copy(), zeros, zeros.copy(), "off")
        if s == SafetyState.DAMPING:
            return self.damping()
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
            try:
                target = self.controller.step(rs)
            except Exception as err:  # an inference error must end in damping, not a crash
                self.fault(now, f"controller error: {type(err).__name__}: {err}", fatal=True)
                return self.damping()
            if target is not None:
                target = np.asarray(target, dtype=np.float64)
                problem = _target_problem(target, self.default_pos.shape)
                if problem:
                    self.fault(now, f"policy output {problem}", fatal=True)
                    return self.damping()
                self._last_target = target
                return self._stiff(self._last_target.copy())
            self.go(SafetyState.BLEND_TO_DEFAULT, now, "clip ended")
        # BLEND_TO_DEFAULT
        a = self._ramp(now, self.cfg.blend_to_default_s)
        last = self._last_target if self._last_target is not None else rs.joint_pos
        q = (1.0 - a) * last + a * self.default_pos
        if a >= 1.0:
            self.go(SafetyState.DAMPING, now, "blend to default done")
        return self._stiff(q)

    def damping(self) -> JointCommand:
        """The DAMPING command: default-pose targets (finite), kp 0, kd = damping_kd."""
        zeros = np.zeros_like(self.default_pos)
        kd = np.full_like(self.default_pos, self.cfg.damping_kd)
        return JointCommand(self.default_pos.copy(), zeros, kd, "damp")

    def _stiff(self, q: np.ndarray) -> JointCommand:
        return JointCommand(q, self.kp.copy(), self.kd.copy(), "hold")


def _target_problem(target: np.ndarray, shape: tuple[int, ...]) -> str:
    """Why a controller's targets cannot be sent ("" when they can)."""
    if target.shape != shape:
        return f"has shape {target.shape}, expected {shape}"
    bad = ~np.isfinite(target)
    if bad.any():
        j = int(np.argmax(bad))
        return f"non-finite: joint {j} target = {target[j]}"
    return ""
