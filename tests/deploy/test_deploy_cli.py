"""``humimic deploy`` with an exported ONNX controller against the simulated G1 over DDS."""

from __future__ import annotations

import ipaddress
import json
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from humimic.deploy.dds.channel import interface_addresses, is_loopback_interface
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
            "--no-gate", "--duration", "30", "--stale-state-ms", "400", "--max-period-ms", "400",
            "--log-dir", str(tmp_path),
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
    # at the controller's own rate: the clip takes its duration of wall time, not half of it
    policy_t = log["time_s"][log["state"] == names.index("POLICY")]
    duration = manifest["reference"]["duration_s"]
    assert policy_t[-1] - policy_t[0] == pytest.approx(duration, abs=3 * manifest["control_dt"])
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


def one_line_error(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert all(n in lines[0] for n in needles), lines[0]


@pytest.mark.parametrize(
    ("option", "value"),
    [("--stale-state-ms", "nan"), ("--stale-state-ms", "-5"), ("--stale-state-ms", "inf"),
     ("--duration", "nan"), ("--duration", "-1"), ("--max-period-ms", "nan")],
)  # fmt: skip
def test_numeric_options_are_checked_before_anything_starts(
    option: str, value: str, tmp_path: Path
) -> None:
    """Before: --stale-state-ms nan disabled the stale-state watchdog. The missing controller
    folder shows that nothing else was looked at first."""
    result = deploy(str(tmp_path / "none"), "--iface", "lo", option, value, timeout=30)
    one_line_error(result, option, value)


def test_unattended_and_no_gate_need_a_loopback_address(tmp_path: Path) -> None:
    others = [n for _, n in socket.if_nameindex() if n != "lo" and interface_addresses(n)]
    if not others:
        pytest.skip("no non-loopback interface with an address on this machine")
    for flag in ("--unattended", "--no-gate"):
        result = deploy(str(tmp_path), "--iface", others[0], flag, timeout=30)
        one_line_error(result, flag, "loopback", others[0])


def test_interface_addresses_match_ip_addr() -> None:
    """Addresses read by ioctl and /proc equal what iproute2 reports (independently)."""
    ip = shutil.which("ip")
    if ip is None:
        pytest.skip("no iproute2 here")
    listing = json.loads(subprocess.run([ip, "-j", "addr"], capture_output=True, text=True).stdout)
    for link in listing:
        want = {ipaddress.ip_address(a["local"]) for a in link.get("addr_info", [])}
        got = set(interface_addresses(link["ifname"]))
        assert got <= want and {a.version for a in got} == {a.version for a in want}
        assert is_loopback_interface(link["ifname"]) == (bool(want) and all(
            a.is_loopback for a in want))  # fmt: skip
    assert is_loopback_interface("lo")
    assert not is_loopback_interface("lo0")  # a name is not an address (before: accepted)


def alter_weights(onnx_file: Path) -> None:
    """Change one weight of the network, keeping its embedded manifest."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(onnx_file))
    init = next(i for i in model.graph.initializer if numpy_helper.to_array(i).size > 1)
    weights = numpy_helper.to_array(init).copy()
    weights.flat[0] += 0.5
    init.CopyFrom(numpy_helper.from_array(weights, init.name))
    onnx.save(model, str(onnx_file))


def test_gate_is_bound_to_the_exact_controller_even_without_parity(
    gated: Path, tmp_path: Path, domain_id: int
) -> None:
    """Before: a folder that passed once kept passing whatever controller.onnx became, and
    without parity.npz altered weights loaded silently."""
    from humimic.deploy.dds.channel import DdsNode
    from humimic.deploy.policy import OnnxController
    from humimic.deploy.runtime import DeployRuntime
    from humimic.errors import HumimicError
    from humimic.robot.spec import load_robot_spec

    folder = tmp_path / "controller"
    shutil.copytree(gated, folder)
    variant = "g1_23dof_lock_wrist"
    spec = load_robot_spec(variant)
    with DdsNode(domain_id, "lo") as node:
        DeployRuntime(OnnxController(folder, variant), spec, node, variant)  # accepted
        alter_weights(folder / "controller.onnx")
        (folder / "parity.npz").unlink()
        altered = OnnxController(folder, variant)  # loads: no parity file to catch it
        with pytest.raises(HumimicError, match=r"controller.onnx: sha256 \w+… is not the"):
            DeployRuntime(altered, spec, node, variant)  # any caller of the runtime
    result = deploy(str(folder), "--iface", "lo", timeout=60)
    one_line_error(result, "controller.onnx: sha256", "humimic sim2sim")


def test_a_verdict_without_hashes_is_refused(gated: Path, tmp_path: Path) -> None:
    """A verdict from an older humimic (no hashes) does not say which controller it tested."""
    folder = tmp_path / "controller"
    shutil.copytree(gated, folder)
    (folder / "metrics.json").write_text(json.dumps({"gate": {"passed": True, "reasons": []}}))
    result = deploy(str(folder), "--iface", "lo", timeout=60)
    one_line_error(result, "names no controller.onnx hash")
