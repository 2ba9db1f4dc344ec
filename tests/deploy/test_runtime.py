"""DeployRuntime pieces that need no robot: LowCmd assembly, refusal without a robot, no torch."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from humimic.deploy.controller import HoldDefaultController, JointCommand
from humimic.deploy.dds.channel import DdsNode
from humimic.deploy.dds.crc import check_crc
from humimic.deploy.runtime import DeployRuntime, RuntimeOptions, _control_period
from humimic.errors import HumimicError
from humimic.robot.spec import load_robot_spec


@pytest.fixture
def runtime(domain_id: int):
    spec = load_robot_spec("g1_23dof_lock_wrist")
    with DdsNode(domain_id, "lo") as node:
        ctrl = HoldDefaultController(spec.default_joint_pos)
        opts = RuntimeOptions(first_state_timeout_s=0.3)
        yield DeployRuntime(ctrl, spec, node, "g1_23dof_lock_wrist", options=opts)


def test_lowcmd_maps_joints_clamps_targets_and_holds_locked_motors(runtime: DeployRuntime):
    spec = runtime.spec
    n = spec.num_joints
    q = np.array(spec.default_joint_pos, dtype=float)
    knee = spec.joint_index("left_knee_joint")
    q[knee] = 5.0  # beyond the 2.8798 rad limit
    cmd = JointCommand(q, np.asarray(spec.kp, float), np.asarray(spec.kd, float), "hold")
    msg = runtime.lowcmd(cmd)
    assert check_crc(msg)
    assert (msg.mode_pr, msg.mode_machine) == (0, 5)
    m = msg.motor_cmd[3]  # left knee slot
    assert m.mode == 1 and m.q == pytest.approx(2.8798) and m.kp == 150.0 and m.kd == 4.0
    shoulder = msg.motor_cmd[22]  # right shoulder pitch: policy joint 19
    assert shoulder.q == pytest.approx(spec.default_joint_pos[19])
    for slot in (19, 20, 21, 26, 27, 28):  # locked wrists
        w = msg.motor_cmd[slot]
        assert (w.mode, w.q, w.kp, w.kd) == (1, 0.0, 40.0, 1.0)
    assert all(msg.motor_cmd[s].mode == 0 for s in range(29, 35))
    damp = runtime.lowcmd(runtime.damping_command())
    used = [c for c in damp.motor_cmd if c.mode == 1]
    assert len(used) == n + 6 and all(c.kp == 0.0 and c.kd == 3.0 for c in used)


def test_no_robot_is_a_clear_error_and_sends_nothing(runtime: DeployRuntime):
    with pytest.raises(HumimicError, match="no LowState on rt/lowstate"):
        runtime.run()


def test_deploy_modules_do_not_import_torch() -> None:
    code = (
        "import sys\n"
        "import humimic.deploy.runtime, humimic.deploy.simrobot, humimic.deploy.safety\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_commands_are_checked_before_they_are_written(runtime: DeployRuntime):
    spec = runtime.spec
    kp, kd = np.asarray(spec.kp, float), np.asarray(spec.kd, float)
    q = np.array(spec.default_joint_pos, dtype=float)
    assert runtime.command_problem(JointCommand(q, kp, kd, "hold")) == ""
    nan_q = q.copy()
    nan_q[4] = np.nan
    with pytest.raises(ValueError, match=r"non-finite command: q\[4\] = nan"):
        runtime.lowcmd(JointCommand(nan_q, kp, kd, "hold"))  # never becomes a LowCmd
    stiffer = kp.copy()
    stiffer[2] *= 2
    assert "gains of joint 2" in runtime.command_problem(JointCommand(q, stiffer, kd, "hold"))
    damp = runtime.damping_command()
    assert runtime.command_problem(damp) == "" and np.isfinite(damp.q).all()


@pytest.mark.parametrize(
    ("name", "value"),
    [("max_period_s", float("nan")), ("exit_damping_s", -1.0), ("max_duration_s", float("inf"))],
)
def test_runtime_options_refuse_nan_and_out_of_range(name: str, value: float):
    with pytest.raises(HumimicError, match=f"runtime option {name}"):
        RuntimeOptions(**{name: value})


def test_loop_period_is_the_controllers_control_dt(runtime: DeployRuntime):
    assert runtime.period_s == 0.02  # the fixture's hold-default controller, 50 Hz
    default = runtime.spec.default_joint_pos
    at_25_hz = HoldDefaultController(default, control_dt=0.04)
    assert _control_period(at_25_hz, RuntimeOptions()) == 0.04  # a 25 Hz policy runs at 25 Hz
    with pytest.raises(HumimicError, match=r"control_dt 40 ms exceeds .* max_period_s 30 ms"):
        _control_period(at_25_hz, RuntimeOptions(max_period_s=0.03))
    with pytest.raises(HumimicError, match=r"control_dt nan s is not in \[0.001, 1\]"):
        _control_period(HoldDefaultController(default, control_dt=float("nan")), RuntimeOptions())


def test_unattended_operator_follows_the_state_not_the_clock():
    """Before: start/A were pressed at fixed times from construction; on a slow start-up the
    first press landed on the first control step, where it counts as held-before-start and is
    ignored, so the run sat in damping. Now: slow start-up, then a stale blip before start."""
    import time

    from humimic.deploy.controller import RobotState
    from humimic.deploy.safety import SafetyMachine, SafetyState
    from humimic.deploy.unattended import UnattendedOperator
    from humimic.deploy.watchdogs import SafetyConfig

    n = 3
    cfg = SafetyConfig(joint_vel_limit=np.full(n, 10.0), move_to_default_s=0.1)
    hold = HoldDefaultController(np.zeros(n), duration_s=0.1)
    m = SafetyMachine(cfg, hold, np.zeros(n), np.ones(n), np.ones(n))
    op = UnattendedOperator(m, settle_steps=5)
    time.sleep(0.6)  # a slow start-up: longer than the old 0.5 s settle time
    states, t = [], 0.0
    for k in range(80):
        stale = ["stale state: newest LowState is 150 ms old"] if 3 <= k < 8 else []
        rs = RobotState(np.zeros(n), np.zeros(n), np.array([1.0, 0, 0, 0]), np.zeros(3),
                        buttons=frozenset(op()), time_s=t)  # fmt: skip
        m.step(rs, stale)
        states.append(m.state)
        t += 0.02
    assert SafetyState.POLICY in states and states[-1] == SafetyState.DAMPING
    start_step = states.index(SafetyState.MOVE_TO_DEFAULT)
    assert start_step >= 8 + 5  # pressed only after 5 healthy steps following the blip


def test_unattended_operator_never_restarts_after_a_fault():
    from humimic.deploy.controller import RobotState
    from humimic.deploy.safety import SafetyMachine, SafetyState
    from humimic.deploy.unattended import UnattendedOperator
    from humimic.deploy.watchdogs import SafetyConfig

    n = 3
    cfg = SafetyConfig(joint_vel_limit=np.full(n, 10.0), move_to_default_s=0.1)
    m = SafetyMachine(cfg, HoldDefaultController(np.zeros(n)), np.zeros(n), np.ones(n),
                      np.ones(n))  # fmt: skip
    op = UnattendedOperator(m, settle_steps=2)
    seen = []
    for k in range(60):
        fault = ["tilt 1.2 rad > 1.00 rad"] if k == 12 else []  # during the move to default
        rs = RobotState(np.zeros(n), np.zeros(n), np.array([1.0, 0, 0, 0]), np.zeros(3),
                        buttons=frozenset(op()), time_s=0.02 * k)  # fmt: skip
        m.step(rs, fault)
        seen.append(m.state)
    assert SafetyState.MOVE_TO_DEFAULT in seen[:12] and set(seen[13:]) == {SafetyState.DAMPING}
