"""The safety state machine and watchdogs, driven step by step without DDS."""

from __future__ import annotations

import numpy as np
import pytest

from humimic.deploy.controller import HoldDefaultController, RobotState
from humimic.deploy.safety import SafetyMachine, SafetyState
from humimic.deploy.watchdogs import SafetyConfig, tilt_angle, watchdog_faults
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


LIMITS = (np.array([-1.0, -1.0, -0.5]), np.array([1.0, 1.0, 2.0]))


@pytest.mark.parametrize(
    ("field", "index", "where"),
    [("joint_pos", 2, "joint_pos[2]"), ("joint_vel", 0, "joint_vel[0]"),
     ("quat_wxyz", 3, "quaternion[3]"), ("gyro_b", 1, "gyroscope[1]")],
)  # fmt: skip
def test_non_finite_state_is_a_fault_on_every_field(field: str, index: int, where: str) -> None:
    """Before: a NaN anywhere tripped no watchdog (NaN compares false with every limit)."""
    cfg = SafetyConfig(joint_vel_limit=np.full(J, 10.0))
    state = rs(0.0)
    value = getattr(state, field).astype(float)
    value[index] = np.nan
    setattr(state, field, value)
    faults = watchdog_faults(state, cfg, 0, False, LIMITS)
    assert faults == [f"non-finite LowState: {where} = nan"]
    setattr(state, field, np.where(np.isnan(value), np.inf, value))
    assert watchdog_faults(state, cfg, 0, False, LIMITS) == [f"non-finite LowState: {where} = inf"]


def test_quaternion_must_be_unit_and_tilt_is_read_from_its_direction() -> None:
    """Before: a zero quaternion read as upright and a short one under-reported tilt."""
    cfg = SafetyConfig(joint_vel_limit=np.full(J, 10.0))
    zero = watchdog_faults(rs(0.0, quat_wxyz=np.zeros(4)), cfg, 0, False)
    assert zero == ["IMU quaternion norm 0.000 is not 1 (tolerance 0.05)"]
    short = 0.5 * quat_np.from_axis_angle([1.0, 0, 0], 1.2)
    assert "norm 0.500" in watchdog_faults(rs(0.0, quat_wxyz=short), cfg, 0, False)[0]
    assert tilt_angle(short) == pytest.approx(1.2)  # its direction still tilts 1.2 rad
    assert np.isnan(tilt_angle(np.zeros(4)))
    slightly = 1.04 * quat_np.from_axis_angle([1.0, 0, 0], 0.3)  # within the tolerance
    assert watchdog_faults(rs(0.0, quat_wxyz=slightly), cfg, 0, False) == []


def test_joint_outside_limits_plus_margin_is_a_fault() -> None:
    cfg = SafetyConfig(joint_vel_limit=np.full(J, 10.0))  # margin 0.1 rad
    inside = rs(0.0, joint_pos=np.array([0.0, 1.09, 0.0]))
    assert watchdog_faults(inside, cfg, 0, False, LIMITS) == []
    outside = rs(0.0, joint_pos=np.array([0.0, 0.0, -0.61]))
    assert watchdog_faults(outside, cfg, 0, False, LIMITS) == [
        "joint 2 reads -0.610 rad, outside its limits [-0.500, 2.000] + 0.1 rad"
    ]


def test_jump_and_frozen_tick_between_two_new_states() -> None:
    cfg = SafetyConfig(joint_vel_limit=np.full(J, 10.0))  # jump margin 0.05 rad
    before = rs(0.0, tick=1000)
    # 20 ticks = 20 ms at 10 rad/s: 0.2 rad possible, + 0.05 margin
    ok = rs(0.02, tick=1020, joint_pos=np.array([0.0, 0.249, 0.0]))
    assert watchdog_faults(ok, cfg, 0, False, LIMITS, before) == []
    jump = rs(0.02, tick=1020, joint_pos=np.array([0.0, 0.26, 0.0]))
    assert watchdog_faults(jump, cfg, 0, False, LIMITS, before) == [
        "joint 1 jumped 0.260 rad in 20 ticks (at most 0.250 rad possible)"
    ]
    frozen = rs(0.02, tick=1000)
    assert watchdog_faults(frozen, cfg, 0, False, LIMITS, before) == [
        "LowState tick 1000 did not advance (previous 1000)"
    ]
    back = rs(0.02, tick=990)
    assert "did not advance" in watchdog_faults(back, cfg, 0, False, LIMITS, before)[0]
    wrapped = rs(0.02, tick=5, joint_pos=np.zeros(J))  # the 32-bit counter wraps around
    assert watchdog_faults(wrapped, cfg, 0, False, LIMITS, rs(0.0, tick=(1 << 32) - 15)) == []


class Raising(HoldDefaultController):
    """Holds the pose for one step, then raises as onnxruntime does on a bad input."""

    def step(self, state: RobotState) -> np.ndarray | None:
        if self._steps >= 1:
            raise RuntimeError("[ONNXRuntimeError] : 2 : INVALID_ARGUMENT")
        return super().step(state)


class NanTarget(HoldDefaultController):
    """Holds the pose for one step, then returns a NaN target."""

    def step(self, state: RobotState) -> np.ndarray | None:
        target = super().step(state)
        return target if self._steps <= 1 else np.array([0.0, np.nan, 0.0])


def to_policy(m: SafetyMachine) -> None:
    for t, b in [(0.0, ()), (0.02, ("start",)), (1.1, ()), (1.2, ()), (1.22, ("A",))]:
        m.step(rs(t, b))
    assert m.state == SafetyState.POLICY


@pytest.mark.parametrize(
    ("controller", "reason"),
    [(Raising(DEFAULT), "controller error: RuntimeError: [ONNXRuntimeError] : 2 : INVALID_ARG"),
     (NanTarget(DEFAULT), "policy output non-finite: joint 1 target = nan")],
)  # fmt: skip
def test_controller_error_or_nan_target_is_fatal_damping(controller: object, reason: str) -> None:
    """Before: the exception escaped the loop; a NaN target went out with full stiffness."""
    cfg = SafetyConfig(joint_vel_limit=np.full(J, 10.0), move_to_default_s=1.0)
    m = SafetyMachine(cfg, controller, DEFAULT.copy(), KP, KD)
    to_policy(m)
    cmd = m.step(rs(1.24))
    assert m.state == SafetyState.DAMPING and m.fatal is not None and m.fatal.startswith(reason)
    assert np.isfinite(cmd.q).all() and (cmd.kp == 0).all() and (cmd.kd == 3.0).all()
    m.step(rs(1.26))
    m.step(rs(1.28, ("start",)))
    assert m.state == SafetyState.DAMPING  # a fatal fault is never restarted


def test_damping_targets_are_finite_whatever_the_state_says() -> None:
    """Before: DAMPING sent the measured (possibly NaN) positions as targets."""
    m = make_machine()
    bad = rs(0.0, joint_pos=np.array([np.nan, 0.0, 0.0]))
    cmd = m.step(bad, faults=["non-finite LowState: joint_pos[0] = nan"])
    assert m.state == SafetyState.DAMPING and np.isfinite(cmd.q).all()
    assert m.faults == [(0.0, "non-finite LowState: joint_pos[0] = nan")]
    m.step(bad, faults=["non-finite LowState: joint_pos[0] = nan"])
    assert len(m.faults) == 1  # a run of faulty steps is recorded once
