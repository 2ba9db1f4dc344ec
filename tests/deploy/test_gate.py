"""The sim-to-sim gate as a typed contract, enforced by the deploy runtime itself.

Each refusal is made by :class:`DeployRuntime` constructed directly (no CLI), against the
real simulated G1 on loopback, and the robot must have received no command at all.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from humimic.deploy.controller import Controller, HoldDefaultController, RobotState
from humimic.deploy.dds.channel import DdsNode
from humimic.deploy.gate import GateThresholds, GateVerdict, read_verdict
from humimic.deploy.policy import OnnxController
from humimic.deploy.runtime import DeployRuntime, RuntimeOptions
from humimic.deploy.sim2sim_report import read_sim2sim_report
from humimic.deploy.simrobot import SimulatedG1
from humimic.errors import HumimicError, InputFileError
from humimic.files import file_sha256
from humimic.robot.spec import load_robot_spec
from tests.export.helpers import exported

VARIANT = "g1_23dof_lock_wrist"


class Wrapped:
    """A controller that runs a gated ONNX policy but is not itself an OnnxController
    (before: the runtime checked the gate only for OnnxController instances)."""

    def __init__(self, inner: OnnxController) -> None:
        self.inner = inner
        self.control_dt = inner.control_dt

    def reset(self, state: RobotState) -> None:
        self.inner.reset(state)

    def step(self, state: RobotState) -> np.ndarray | None:
        return self.inner.step(state)


def _copy(folder: Path, tmp_path: Path, name: str = "controller") -> Path:
    out = tmp_path / name
    shutil.copytree(folder, out)
    return out


def _edit_gate(folder: Path, **changes: object) -> None:
    path = folder / "metrics.json"
    data = json.loads(path.read_text())
    data["gate"].update(changes)
    path.write_text(json.dumps(data))


Robot = tuple[SimulatedG1, int]
"""The simulated G1 (on its gantry, stepping) and its DDS domain."""


@pytest.fixture
def robot(sim: SimulatedG1, domain_id: int) -> Robot:
    return sim, domain_id


def _refused(robot: Robot, controller: Controller, match: str) -> None:
    """DeployRuntime refuses ``controller`` at construction; the robot saw no command."""
    sim, domain_id = robot
    spec = load_robot_spec(VARIANT)
    with DdsNode(domain_id, "lo") as node:
        with pytest.raises(HumimicError, match=match):
            DeployRuntime(controller, spec, node, VARIANT, options=RuntimeOptions())
        time.sleep(0.3)  # a command, had one been sent, would have arrived by now
    assert sim.received_count == 0 and sim.last_command is None


def test_runtime_refuses_a_controller_without_a_gate(robot: Robot, gated: Path, tmp_path: Path):
    folder = _copy(gated, tmp_path)
    (folder / "metrics.json").unlink()
    _refused(robot, OnnxController(folder, VARIANT), "no sim2sim result; run 'humimic sim2sim")


def test_runtime_refuses_a_failed_gate(robot: Robot, gated: Path, tmp_path: Path):
    folder = _copy(gated, tmp_path)
    _edit_gate(folder, passed=False, reasons=["episode 0: fell at t = 0.40 s"])
    _refused(
        robot,
        OnnxController(folder, VARIANT),
        r"gate failed \(episode 0: fell at t = 0.40 s",
    )


def test_runtime_refuses_a_stale_gate(robot: Robot, gated: Path, tmp_path: Path):
    """Another export into a checked folder: its old verdict names other bytes."""
    folder = _copy(exported(0.0, 0.6), tmp_path)  # a different policy (standing clip)
    shutil.copy(gated / "metrics.json", folder / "metrics.json")
    assert file_sha256(folder / "controller.onnx") != file_sha256(gated / "controller.onnx")
    _refused(robot, OnnxController(folder, VARIANT), r"controller.onnx: sha256 \w+… is not the")


def test_runtime_refuses_a_wrapped_policy_and_accepts_the_gated_one(
    robot: Robot, gated: Path, tmp_path: Path
):
    """A controller that is not an exported folder has no verdict that can name it; the
    same policy as an OnnxController passes and then really drives the robot."""
    policy = OnnxController(_copy(gated, tmp_path), VARIANT)
    _refused(robot, Wrapped(policy), "Wrapped controller has no sim2sim verdict")
    sim, domain_id = robot
    spec = load_robot_spec(VARIANT)
    opts = RuntimeOptions(max_duration_s=0.3)
    with DdsNode(domain_id, "lo") as node:
        runtime = DeployRuntime(policy, spec, node, VARIANT, options=opts)
        assert runtime.gate is not None and runtime.gate.passed
        assert runtime.gate.controller_sha256 == file_sha256(policy.dir / "controller.onnx")
        runtime.run()
    assert sim.received_count > 0  # the count above would have seen commands


def test_the_hold_default_controller_needs_no_gate(domain_id: int) -> None:
    """The bring-up baseline (spec default pose, no learned weights) runs without one."""
    spec = load_robot_spec(VARIANT)
    with DdsNode(domain_id, "lo") as node:
        hold = DeployRuntime(HoldDefaultController(spec.default_joint_pos), spec, node, VARIANT)
        assert hold.gate is None


def test_verdict_reads_version_1_and_refuses_newer_or_damaged(gated: Path, tmp_path: Path):
    folder = _copy(gated, tmp_path)
    path = folder / "metrics.json"
    data = json.loads(path.read_text())
    assert data["schema_version"] == 2
    verdict = read_verdict(folder)
    assert verdict == GateVerdict(
        True, (), GateThresholds(0.3, 1.0, 120.0, 0.5, True),
        file_sha256(folder / "controller.onnx"), file_sha256(folder / "controller.json"), 2,
    )  # fmt: skip
    del data["schema_version"]  # a file from before the version was written
    path.write_text(json.dumps(data))
    assert read_verdict(folder) == GateVerdict(**{**verdict.__dict__, "schema_version": 1})
    for change, problem in (
        ({"schema_version": 3}, "schema_version 3 is newer than this humimic reads (2)"),
        ({"schema_version": "2"}, "schema_version '2' is not a positive integer"),
        ({"gate": {**data["gate"], "passed": "yes"}}, "gate.passed is 'yes', not true or false"),
        (
            {"gate": {**data["gate"], "controller_sha256": "abc"}},
            "gate hashes must be 64 hex digits or null",
        ),
        ({"gate": [1]}, "'gate' is not an object"),
    ):
        path.write_text(json.dumps({**data, **change}))
        with pytest.raises(InputFileError) as err:
            read_verdict(folder)
        assert str(err.value) == f"{path}: {problem}"


def test_sim2sim_report_round_trip(gated: Path) -> None:
    """The whole report reads back (typed) with the values written, checked independently."""
    written = json.loads((gated / "metrics.json").read_text())
    report = read_sim2sim_report(gated / "metrics.json")
    assert report.to_json() == written
    assert report.metrics.E_mpbpe.mean == written["E_mpbpe"]["mean"]
    assert [e.fall for e in report.episodes] == [e["fall"] for e in written["episodes"]]
    assert report.gate == read_verdict(gated)
