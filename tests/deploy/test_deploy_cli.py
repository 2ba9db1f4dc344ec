"""``humimic deploy`` with an exported ONNX controller against the simulated G1 over DDS."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

from humimic.deploy.simrobot import SimulatedG1
from tests.export.helpers import exported


def deploy(*args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "humimic.cli.main", "deploy", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def test_unattended_run_walks_every_state_and_plays_the_clip(domain_id: int, tmp_path: Path):
    controller = exported()
    robot = SimulatedG1("g1_23dof_lock_wrist", "lo", domain_id, gantry=True)
    robot.start()
    try:
        result = deploy(
            str(controller), "--iface", "lo", "--domain-id", str(domain_id), "--unattended",
            "--no-gate", "--duration", "30", "--stale-state-ms", "400", "--log-dir", str(tmp_path),
        )  # fmt: skip
    finally:
        robot.stop()
    assert result.returncode == 0, result.stderr
    events = [json.loads(x) for x in (tmp_path / "events.jsonl").read_text().splitlines() if x]
    path = [e["dst"] for e in events if e["event"] == "transition"]
    assert path == [
        "DAMPING",
        "MOVE_TO_DEFAULT",
        "WAIT_START",
        "POLICY",
        "BLEND_TO_DEFAULT",
        "DAMPING",
    ]
    log = np.load(tmp_path / "steps.npz")
    names = list(log["state_names"])
    policy_steps = int((log["state"] == names.index("POLICY")).sum())
    manifest = json.loads((controller / "controller.json").read_text())
    clip_steps = round(manifest["reference"]["duration_s"] / manifest["control_dt"])
    assert abs(policy_steps - clip_steps) <= 2  # the whole clip was played, then blended out
    used = [m for m in robot.last_command.motor_cmd if m.mode == 1]
    assert used and all(m.kp == 0.0 and m.kd > 0.0 for m in used)  # ends in damping


def test_deploy_refuses_without_a_passed_gate(tmp_path: Path) -> None:
    controller = tmp_path / "controller"
    shutil.copytree(exported(), controller)
    (controller / "metrics.json").unlink(missing_ok=True)
    result = deploy(str(controller), "--iface", "lo")
    assert result.returncode == 2 and "humimic sim2sim" in result.stderr
    (controller / "metrics.json").write_text(
        json.dumps({"gate": {"passed": False, "reasons": ["fell at t = 0.4 s"]}})
    )
    result = deploy(str(controller), "--iface", "lo")
    assert result.returncode == 2 and "fell at t = 0.4 s" in result.stderr


def test_deploy_refuses_a_controller_for_another_variant(tmp_path: Path) -> None:
    controller = tmp_path / "controller"
    shutil.copytree(exported(), controller)
    manifest = json.loads((controller / "controller.json").read_text())
    manifest["joint_names"] = list(reversed(manifest["joint_names"]))
    (controller / "controller.json").write_text(json.dumps(manifest))
    result = deploy(str(controller), "--iface", "lo", "--no-gate")
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1


def test_controller_with_other_gains_than_the_installed_spec_is_refused() -> None:
    """``humimic deploy`` drives motors with the installed spec: its gains must be the ones
    the controller was exported with."""
    from dataclasses import replace

    import pytest

    from humimic.deploy.policy import check_against_spec, load_manifest
    from humimic.errors import HumimicError
    from humimic.robot.spec import load_robot_spec

    manifest = load_manifest(exported())
    spec = load_robot_spec(manifest.variant)
    check_against_spec(manifest, spec, "controller")  # as exported: accepted
    stiffer = replace(manifest, kp=[2.0 * k for k in manifest.kp])
    with pytest.raises(HumimicError, match="kp differs from the robot spec"):
        check_against_spec(stiffer, spec, "controller")
