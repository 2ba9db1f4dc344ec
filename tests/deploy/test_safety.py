"""The safety state machine and watchdogs, driven step by step without DDS."""

from __future__ import annotations

import numpy as np
import pytest

from humimic.deploy.safety import (
    HoldDefaultController,
    RobotState,
    SafetyConfig,
    SafetyMachine,
    SafetyState,
    tilt_angle,
    watchdog_faults,
)
from humimic.geometry import quat_np

J = 3
DEFAULT = np.array([0.1, -0.2, 0.3])
KP, KD = np.array([100.0, 50.0, 20.0]), np.array([2.0, 1.0, 0.5])


def make_machine(clip_s: float | None = 0.1) -> SafetyMachine:
    cfg = SafetyConfig(
        joint_vel_limit=np.full(J, 10.0), move_to_default_s=1.0, blend_to_default_s=0.5
    )
    ctrl = HoldDefaultController(DEFAULT, duration_s=clip_s, control_dt=0.02)
    return SafetyMachine(cfg, ctrl, DEFAULT.copy(), KP, KD)


def rs(t: float, buttons: tuple[str, ...] = (), q: float = 0.0, **kw: object) -> RobotState:
    base = dict(
        joint_pos=np.full(J, q),
        joint_vel=np.zeros(J),
        quat_wxyz=np.array([1.0, 0, 0, 0]),
        gyro_b=np.zeros(3),
        buttons=frozenset(buttons),
        time_s=t,
    )
    base.update(kw)
    return RobotState(**base)


def test_tilt_angle_of_known_rotations() -> None:
    assert tilt_angle(np.array([1.0, 0, 0, 0])) == pytest.approx(0.0, abs=1e-7)
    q = quat_np.from_axis_angle([0.0, 1.0, 0.0], 0.7)
    assert tilt_angle(q) == pytest.approx(0.7)
    yaw_then_roll = quat_np.multiply(
        quat_np.from_axis_angle([0, 0, 1.0], 2.0), quat_np.from_axis_angle([1.0, 0, 0], 1.2)
    )
    assert tilt_angle(yaw_then_roll) == pytest.approx(1.2)  # yaw does not tilt


def test_watchdogs_fire_on_each_condition() -> None:
    cfg = SafetyConfig(joint_vel_limit=np.full(J, 10.0))
    assert watchdog_faults(rs(0.0), cfg, 0, False) == []
    assert "stale" in watchdog_faults(rs(0.0, age_s=0.15), cfg, 0, False)[0]
    tilted = quat_np.from_axis_angle([1.0, 0, 0], 1.1)
    assert "tilt" in watchdog_faults(rs(0.0, quat_wxyz=tilted), cfg, 0, False)[0]
    fast = rs(0.0, joint_vel=np.array([0.0, -10.5, 0.0]))
    assert "joint 1 speed" in watchdog_faults(fast, cfg, 0, False)[0]
    assert "CRC" in watchdog_faults(rs(0.0), cfg, 5, False)[0]
    assert watchdog_faults(rs(0.0), cfg, 4, False) == []
    assert "rt/lowcmd" in watchdog_faults(rs(0.0), cfg, 0, True)[0]


def test_full_walk_with_interpolation_values() -> None:
    m = make_machine()
    cmd = m.step(rs(0.0))
    assert m.state == SafetyState.DAMPING  # healthy stream: zero torque → damping at once
    assert (cmd.kp == 0).all() and (cmd.kd == 3.0).all() and cmd.locked == "damp"
    m.step(rs(0.02, ("start",)))
    assert m.state == SafetyState.MOVE_TO_DEFAULT
    half = m.step(rs(0.52, q=0.5))  # halfway: from the pose at entry (0) to default
    np.testing.assert_allclose(half.q, 0.5 * DEFAULT)
    np.testing.assert_allclose(half.kp, KP)
    m.step(rs(1.03))
    assert m.state == SafetyState.WAIT_START
    np.testing.assert_allclose(m.step(rs(1.04)).q, DEFAULT)
    m.step(rs(1.06, ("A",)))
    assert m.state == SafetyState.POLICY
    for k in range(6):
        m.step(rs(1.08 + 0.02 * k))
    assert m.state == SafetyState.BLEND_TO_DEFAULT  # the 0.1 s clip ended
    m.step(rs(1.8))
    assert m.state == SafetyState.DAMPING
    names = [(t.source, t.target) for t in m.transitions]
    assert names == [
        (SafetyState.ZERO_TORQUE, SafetyState.DAMPING),
        (SafetyState.DAMPING, SafetyState.MOVE_TO_DEFAULT),
        (SafetyState.MOVE_TO_DEFAULT, SafetyState.WAIT_START),
        (SafetyState.WAIT_START, SafetyState.POLICY),
        (SafetyState.POLICY, SafetyState.BLEND_TO_DEFAULT),
        (SafetyState.BLEND_TO_DEFAULT, SafetyState.DAMPING),
    ]


def test_held_button_does_not_start_and_faults_block_start() -> None:
    m = make_machine()
    m.step(rs(0.0, ("start",)))  # start held since before we looked: not a press
    m.step(rs(0.02, ("start",)))
    assert m.state == SafetyState.DAMPING
    m.step(rs(0.04))
    m.step(rs(0.06, ("start",)), faults=["tilt 1.2 rad > 1.00 rad"])
    assert m.state == SafetyState.DAMPING  # pressed while a watchdog fires: ignored
    m.step(rs(0.08))
    m.step(rs(0.10, ("start",)))
    assert m.state == SafetyState.MOVE_TO_DEFAULT


def test_faults_and_estop_force_damping_from_policy() -> None:
    m = make_machine(clip_s=None)
    for t, b in [(0.0, ()), (0.02, ("start",)), (1.1, ()), (1.2, ()), (1.22, ("A",))]:
        m.step(rs(t, b))
    assert m.state == SafetyState.POLICY
    cmd = m.step(rs(1.24), faults=["stale state: newest LowState is 150 ms old"])
    assert m.state == SafetyState.DAMPING and m.faulted
    assert (cmd.kp == 0).all() and (cmd.kd > 0).all()
    assert "stale" in m.transitions[-1].reason
    m2 = make_machine(clip_s=None)
    for t, b in [(0.0, ()), (0.02, ("start",)), (1.1, ()), (1.2, ("B",))]:
        m2.step(rs(t, b))
    assert m2.state == SafetyState.DAMPING and "B" in m2.transitions[-1].reason
    m2.step(rs(1.3, ("select",)))
    assert m2.exit_requested
