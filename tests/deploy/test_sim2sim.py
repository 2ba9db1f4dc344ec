"""Sim-to-sim gate: torque model, reference sampling, end-to-end runs and the gate logic."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import mujoco
import numpy as np
import pytest

from humimic.cli.main import main
from humimic.deploy.controller import HoldDefaultController
from humimic.deploy.policy import load_manifest
from humimic.deploy.sim2sim import (
    Sim2SimConfig,
    TorqueSim,
    eval_fail_distance_m,
    reference_at,
    run_sim2sim,
    torque_model,
)
from humimic.deploy.sim2sim_report import EpisodeOutcome, gate
from humimic.files import file_sha256
from humimic.motion.clip import load_clip
from humimic.robot.model import build_model
from humimic.robot.spec import load_robot_spec
from humimic.testing.synthetic_clips import arm_wave_clip
from tests.export.helpers import exported


def test_torque_model_applies_ctrl_as_clipped_torque() -> None:
    spec = load_robot_spec("g1_23dof_lock_wrist")
    model = torque_model(spec, 0.001)
    data = mujoco.MjData(model)
    data.qpos[7:] = 0.3  # away from 0: a position actuator would push back
    data.ctrl[:] = 0.0
    data.ctrl[3] = 12.5
    data.ctrl[0] = 1000.0
    mujoco.mj_forward(model, data)
    assert model.opt.timestep == 0.001
    assert data.actuator_force[3] == pytest.approx(12.5)
    assert data.actuator_force[0] == pytest.approx(spec.effort_limit[0])  # clipped
    assert data.actuator_force[5] == 0.0


def test_reference_sampling_interpolates_by_time() -> None:
    clip = arm_wave_clip(seconds=1.0, fps=25.0)
    ref = reference_at(clip, np.array([0.0, 0.02, 0.04, 1.0]), [0, 3], [15, 0])
    np.testing.assert_allclose(ref["joint_pos"][0], clip.joint_pos[0, [15, 0]])
    np.testing.assert_allclose(ref["joint_pos"][2], clip.joint_pos[1, [15, 0]])
    mid = 0.5 * (clip.joint_pos[0, 15] + clip.joint_pos[1, 15])
    assert ref["joint_pos"][1, 0] == pytest.approx(mid)
    np.testing.assert_allclose(ref["body_pos_w"][3], clip.body_pos_w[-1, [0, 3]])
    np.testing.assert_allclose(ref["root"][3, :3], clip.root_pos_w[-1])


def test_exported_policy_end_to_end(tmp_path: Path) -> None:
    controller = exported()
    report = run_sim2sim(controller, episodes=2, seed=1, out=tmp_path)
    written = json.loads((tmp_path / "metrics.json").read_text())
    verdict = written["gate"]
    assert set(verdict) == {"passed", "reasons", "thresholds", "controller_sha256",
                            "manifest_sha256"}  # fmt: skip
    assert verdict["thresholds"] == {"min_pelvis_height_m": 0.3, "max_tilt_rad": 1.0,
                                     "max_mpbpe_mm": 120.0, "fail_distance_m": 0.5,
                                     "every_episode_succeeds": True}  # fmt: skip
    # the hashes are of the files the gate ran, computed here independently
    assert verdict["controller_sha256"] == file_sha256(controller / "controller.onnx")
    assert verdict["manifest_sha256"] == file_sha256(controller / "controller.json")
    falls = [e["fall"] for e in written["episodes"]]
    succeeded = written["per_episode"]["success"]
    expect = not any(falls) and all(succeeded) and written["E_mpbpe"]["mean"] < 120.0
    assert verdict["passed"] == expect and (not verdict["reasons"]) == expect
    assert written["num_episodes"] == 2 and written["settings"]["physics_hz"] == 1000
    assert report.metrics.E_mpbpe.mean == written["E_mpbpe"]["mean"] > 0.0
    assert report.gate.passed == verdict["passed"] and written["schema_version"] == 2
    assert written["bodies"][0] == "pelvis" and "head_point" not in written["bodies"]
    assert (tmp_path / "sim2sim_errors_over_time.png").is_file()


@pytest.fixture(scope="module")
def standing() -> Path:
    return exported(0.0, 0.6)


def test_torque_pd_matches_the_training_position_actuators(standing: Path) -> None:
    """Holding the default pose, 1 kHz Python PD torques and MuJoCo's position actuators
    (the training model) give the same motion: the G1 default pose slowly tips forward."""
    spec = load_robot_spec("g1_23dof_lock_wrist")
    manifest = load_manifest(standing)
    clip = load_clip(standing / "reference.npz")
    sim = TorqueSim(spec, manifest, Sim2SimConfig(max_delay_ms=0.0, sensor_noise=False))
    sim.reset(clip)
    ref_model = build_model(spec, physics_dt=0.001)
    ref = mujoco.MjData(ref_model)
    ref.qpos[:] = sim.data.qpos
    ref.ctrl[:] = spec.default_joint_pos
    target = np.asarray(spec.default_joint_pos)
    ms_per_step = round(manifest.control_dt * 1000)  # 1 ms physics steps per control step
    for _ in range(round(0.8 / manifest.control_dt)):  # 0.8 s
        sim.advance(target, target, 0)
        for _ in range(ms_per_step):
            mujoco.mj_step(ref_model, ref)
    assert 0.02 < ref.qpos[0] < 0.5  # it did move forward
    np.testing.assert_allclose(sim.data.qpos[:3], ref.qpos[:3], atol=0.01)
    np.testing.assert_allclose(sim.data.qpos[sim.qadr], ref.qpos[sim.qadr], atol=0.02)
    # The IMU-site readings equal the free-joint state that training observes.
    reading = sim.sense(None)
    assert np.abs(sim.data.qvel[3:6]).max() > 0.05
    np.testing.assert_allclose(reading.gyro_b, sim.data.qvel[3:6], atol=1e-9)
    np.testing.assert_allclose(reading.quat_wxyz, sim.data.qpos[3:7], atol=1e-9)
    np.testing.assert_array_equal(reading.joint_pos, sim.data.qpos[sim.qadr])


def test_hold_default_on_standing_clip_does_not_fall(standing: Path, tmp_path: Path) -> None:
    manifest = load_manifest(standing)
    hold = HoldDefaultController(np.asarray(manifest.default_joint_pos))
    report = run_sim2sim(standing, episodes=1, out=tmp_path, controller=hold)
    frames = round(0.6 / manifest.control_dt) + 1  # the 0.6 s clip, both ends (16 at 25 Hz)
    assert report.episodes[0].fall == "" and report.episodes[0].frames == frames
    assert report.gate.passed, report.gate.reasons
    assert 0.0 < report.metrics.E_mpbpe.mean < 30.0  # PD sag and a slight lean, mm


def test_gate_reports_a_fall(standing: Path, tmp_path: Path) -> None:
    manifest = load_manifest(standing)
    hold = HoldDefaultController(np.asarray(manifest.default_joint_pos))
    # above the standing pelvis: "falls" at once
    strict = Sim2SimConfig(min_pelvis_height_m=2.0, max_delay_ms=0.0)
    report = run_sim2sim(standing, out=tmp_path, controller=hold, config=strict)
    result = report.gate
    assert not result.passed and len(result.reasons) == 1
    assert result.reasons[0].startswith(f"episode 0: fell at t = {manifest.control_dt:.2f} s")
    assert report.episodes[0].frames == 2
    assert report.settings["max_delay_ms"] == 0.0  # the config is not overridden


def test_gate_tracking_threshold() -> None:
    cfg = Sim2SimConfig(max_mpbpe_mm=50.0)
    ok = [EpisodeOutcome(0, "", 31)]
    success = [1.0]
    assert gate(49.9, success, ok, cfg).passed
    result = gate(50.0, success, ok, cfg)
    assert not result.passed and result.reasons == ("E_mpbpe 50.0 mm >= 50.0 mm",)
    assert not gate(float("nan"), success, ok, cfg).passed


def test_gate_requires_every_episode_to_succeed_as_in_eval() -> None:
    """The demo's case: no fall, E_mpbpe under the threshold, but a body beyond eval's
    deviation limit in one episode: the gate fails (it passed before)."""
    cfg = Sim2SimConfig(max_mpbpe_mm=120.0)
    two = [EpisodeOutcome(0, "", 31), EpisodeOutcome(1, "", 31)]
    result = gate(104.0, [1.0, 0.0], two, cfg)
    assert not result.passed
    assert result.reasons == (
        "episode 1: not a success (a body beyond 0.5 m of its reference or the clip not "
        "finished, as in humimic eval)",
    )
    assert not gate(10.0, None, two, cfg).passed  # success unknown: fail


def test_gate_deviation_limit_is_the_eval_one() -> None:
    """The limit the verdict shows is the one compute_metrics (which eval calls) applies."""
    from humimic.eval.metrics import episode_success

    assert eval_fail_distance_m() == 0.5
    robot = np.zeros((3, 2, 3))
    ref = robot.copy()
    ref[1, 0, 0] = 0.6  # 0.6 m > 0.5 m on one frame
    assert not episode_success(robot, ref, 3, 3)
    ref[1, 0, 0] = 0.4
    assert episode_success(robot, ref, 3, 3)


def test_cli_runs_without_torch(tmp_path: Path) -> None:
    controller = exported()
    code = (
        "import sys; from humimic.cli.main import main; "
        f"rc = main(['sim2sim', {str(controller)!r}, '--no-video', '--out', {str(tmp_path)!r}]); "
        "assert 'torch' not in sys.modules, 'torch imported'; sys.exit(rc)"
    )
    rc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert rc.returncode in (0, 1), rc.stderr
    verdict = json.loads((tmp_path / "metrics.json").read_text())["gate"]
    assert rc.returncode == (0 if verdict["passed"] else 1)
    assert "gate:" in rc.stdout


def test_cli_missing_folder(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["sim2sim", str(tmp_path / "nope"), "--no-video"]) == 2
    assert "controller.json: missing" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("option", "value"), [("--max-delay-ms", "nan"), ("--max-delay-ms", "-1"), ("--episodes", "0")]
)
def test_cli_numeric_options_are_checked(
    option: str, value: str, capsys: pytest.CaptureFixture
) -> None:
    """Before: --max-delay-ms nan passed the config's range check (NaN < 0 is false)."""
    assert main(["sim2sim", str(exported()), option, value, "--no-video"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{option}: {value}" in err[0]
