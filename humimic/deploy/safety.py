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
computes its targets here. Every LowState is validated (:mod:`humimic.deploy.watchdogs`)
before any of its values is used.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from humimic.deploy.controller import Controller, JointCommand, RobotState
from humimic.deploy.watchdogs import (
    SafetyConfig,
)


class SafetyState(StrEnum):
    """States of the deploy state machine."""

    ZERO_TORQUE = "ZERO_TORQUE"
    DAMPING = "DAMPING"
    MOVE_TO_DEFAULT = "MOVE_TO_DEFAULT"
    WAIT_START = "WAIT_START"
    POLICY = "POLICY"
    BLEND_TO_DEFAULT = "BLEND_TO_DEFAULT"


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
