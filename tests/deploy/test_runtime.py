"""DeployRuntime pieces that need no robot: LowCmd assembly, refusal without a robot, no torch."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from humimic.deploy.dds.channel import DdsNode
from humimic.deploy.dds.crc import check_crc
from humimic.deploy.runtime import DeployRuntime, RuntimeOptions
from humimic.deploy.safety import HoldDefaultController, JointCommand
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
