"""``humimic simrobot --fault``: option checks, the bad-command audit, and a full CLI run of
``humimic deploy`` (ONNX controller, real gate, unattended) against an injected fault."""

from __future__ import annotations

import json
import math
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from humimic.deploy.dds.crc import set_crc
from humimic.deploy.dds.messages import zero_lowcmd
from humimic.deploy.simrobot import SimulatedG1
from tests.signals import sigint_reaches_child

CLI = [sys.executable, "-m", "humimic.cli.main"]


@pytest.mark.parametrize(
    ("args", "needle"),
    [(["--fault", "melt"], "--fault 'melt': unknown 'melt'"),
     (["--fault", "stale@nan"], "--fault 'stale@nan': the time must be a finite number"),
     (["--fault", "stale@soon"], "'soon' is not a number of seconds"),
     (["--press", "start@-1"], "--press 'start@-1': the time must be"),
     (["--physics-dt", "nan"], "--physics-dt: nan is not a finite number")],
)  # fmt: skip
def test_bad_options_are_one_line_and_exit_2(args: list[str], needle: str) -> None:
    result = subprocess.run([*CLI, "simrobot", *args], capture_output=True, text=True, timeout=60)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and needle in lines[0], result.stderr


def test_audit_counts_non_finite_and_out_of_limit_commands(domain_id: int) -> None:
    robot = SimulatedG1("g1_23dof_lock_wrist", "lo", domain_id, gantry=True)  # not stepping
    try:
        good = zero_lowcmd()
        good.mode_machine = 5
        knee = good.motor_cmd[3]  # left knee, limits [-0.087267, 2.8798]
        knee.mode, knee.q, knee.kp, knee.kd = 1, 2.8798, 150.0, 4.0
        set_crc(good)
        robot._on_cmd(good)  # at the limit: fine
        knee.q = 2.95
        set_crc(good)
        robot._on_cmd(good)  # outside the limit
        knee.q, good.motor_cmd[30].kd = 0.3, math.nan  # NaN in an unused slot counts too
        set_crc(good)
        robot._on_cmd(good)
        good.motor_cmd[30].kd = 0.0
        knee.kp = 0.0
        good.crc ^= 1  # even a frame the robot drops for its CRC is audited
        robot._on_cmd(good)
        assert robot.received_count == 4 and robot.bad_command_count == 2
        assert robot.bad_command_examples == ["slot 3 target 2.950 rad outside [-0.087267, 2.8798]",
                                              "slot 30 kd non-finite"]  # fmt: skip
        assert [d for _, d in robot.damping_changes] == [False, True]  # the last was damping
        robot.inject("bad-quat")
        assert robot.lowstate().imu_state.quaternion == [0.0, 0.0, 0.0, 0.0]
        report = robot.report()
        assert report["bad_commands"] == 2 and report["faults"][0]["fault"] == "bad-quat"
        assert report["faults"][0]["damping_after_s"] == 0.0  # damping was already in force
    finally:
        robot.node.close()


def test_deploy_cli_against_simrobot_cli_fault(gated: Path, domain_id: int, tmp_path: Path):
    """Two CLI processes: the simulated G1 goes NaN in its gyro 6 s after it starts (the
    deploy then holds the robot stiff, moving to or at the default pose, or runs the policy),
    deploy damps it, exits 1 naming the fault; the robot received no bad command."""
    robot = subprocess.Popen(
        [*CLI, "simrobot", "--domain-id", str(domain_id), "--gantry", "--fault", "nan-state@6",
         "--duration", "60"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=sigint_reaches_child,
    )  # fmt: skip
    try:
        assert "simrobot: running" in robot.stderr.readline()
        deploy = subprocess.run(
            [*CLI, "deploy", str(gated), "--iface", "lo", "--domain-id", str(domain_id),
             "--unattended", "--duration", "30", "--stale-state-ms", "400",
             "--max-period-ms", "400", "--log-dir", str(tmp_path)],
            capture_output=True, text=True, timeout=90,
        )  # fmt: skip
    finally:
        time.sleep(0.2)
        robot.send_signal(signal.SIGINT)
        out, _ = robot.communicate(timeout=30)
    assert deploy.returncode == 1, deploy.stderr
    assert "stopped after a fault: non-finite LowState: gyroscope[1] = nan" in deploy.stderr
    report = json.loads(out.strip().splitlines()[-1])
    assert report["bad_commands"] == 0 and report["commands_received"] > 100
    (fault,) = report["faults"]
    assert fault["fault"] == "nan-state" and 6.0 <= fault["t_s"] < 6.5
    assert fault["damping_after_s"] is not None and fault["damping_after_s"] <= 0.5
