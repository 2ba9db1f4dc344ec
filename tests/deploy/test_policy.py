"""OnnxController: the deploy Controller protocol and its refusals before anything moves."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from humimic.deploy.controller import RobotState
from humimic.deploy.policy import OnnxController
from humimic.errors import HumimicError, InputFileError
from tests.export.helpers import exported


@pytest.fixture(scope="module")
def controller() -> Path:
    return exported()


@pytest.fixture
def copy(controller: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(controller, tmp_path / "ctrl"))


def standing(m: OnnxController, rng: np.random.Generator) -> RobotState:
    return RobotState(
        joint_pos=m.default_pos + rng.normal(0, 0.05, 23), joint_vel=rng.normal(0, 0.5, 23),
        quat_wxyz=np.array([1.0, 0.0, 0.0, 0.0]), gyro_b=rng.normal(0, 0.2, 3),
    )  # fmt: skip


def test_targets_clock_and_end_of_clip(controller: Path) -> None:
    c = OnnxController(controller, "g1_23dof_lock_wrist")
    session = ort.InferenceSession(str(controller / "controller.onnx"))
    rng = np.random.default_rng(0)
    c.reset(standing(c, rng))
    assert c.num_steps == 25  # 1 s clip at the default preset's 25 Hz
    prev_action = np.zeros(23)  # no last action yet
    for k in range(c.num_steps):
        q = c.step(standing(c, rng))
        assert q is not None and not c.finished
        action = session.run(None, {"obs": c.last_obs[None]})[0][0]
        # residual: the base is the clip one step ahead; the test clip waves both shoulder
        # pitches by 0.4 sin(2πt / 2 s) around the default pose and holds the rest
        base = c.default_pos.copy()
        base[[15, 19]] += 0.4 * np.sin(2 * np.pi * (k + 1) * 0.04 / 2.0)
        np.testing.assert_allclose(q, base + 0.25 * action, atol=1e-5)
        assert c.last_obs[75] == pytest.approx(k / 25, abs=1e-7)  # phase = t / T
        np.testing.assert_allclose(c.last_obs[:23], prev_action, atol=1e-6)
        prev_action = action
    assert c.step(standing(c, rng)) is None and c.finished
    c.reset(standing(c, rng))
    assert not c.finished and c.step(standing(c, rng)) is not None


def test_refuses_another_variant(controller: Path) -> None:
    with pytest.raises(HumimicError, match="variant 'g1_23dof_lock_wrist' != robot 'g1_29dof'"):
        OnnxController(controller, "g1_29dof")


def edit_manifest(folder: Path, **changes: object) -> None:
    path = folder / "controller.json"
    raw = json.loads(path.read_text())
    raw.update(changes)
    path.write_text(json.dumps(raw))


def test_refuses_joint_order_mismatch(copy: Path) -> None:
    names = json.loads((copy / "controller.json").read_text())["joint_names"]
    names[0], names[1] = names[1], names[0]
    edit_manifest(copy, joint_names=names)
    with pytest.raises(HumimicError, match="joint names/order differ"):
        OnnxController(copy, "g1_23dof_lock_wrist")


def test_refuses_gain_mismatch(copy: Path) -> None:
    kp = json.loads((copy / "controller.json").read_text())["kp"]
    edit_manifest(copy, kp=[v * 2 for v in kp])
    with pytest.raises(HumimicError, match="kp differs from the robot spec"):
        OnnxController(copy, "g1_23dof_lock_wrist")


def test_refuses_json_that_differs_from_the_onnx(copy: Path) -> None:
    edit_manifest(copy, action_scale=0.5)
    with pytest.raises(HumimicError, match=r"embedded manifest differs from controller\.json"):
        OnnxController(copy, "g1_23dof_lock_wrist")


@pytest.mark.parametrize("name", ["controller.json", "controller.onnx"])
def test_missing_files(copy: Path, name: str) -> None:
    (copy / name).unlink()
    with pytest.raises(InputFileError, match=f"{name}: missing"):
        OnnxController(copy, "g1_23dof_lock_wrist")


def test_corrupt_files(copy: Path) -> None:
    onnx_path = copy / "controller.onnx"
    onnx_path.write_bytes(onnx_path.read_bytes()[:1000])
    with pytest.raises(InputFileError, match="not a loadable ONNX model"):
        OnnxController(copy, "g1_23dof_lock_wrist")
    (copy / "controller.json").write_text('{"robot": "g1"')
    with pytest.raises(HumimicError, match=r"controller\.json: not JSON"):
        OnnxController(copy, "g1_23dof_lock_wrist")


def test_parity_file_guards_the_weights(copy: Path) -> None:
    with np.load(copy / "parity.npz") as data:
        obs, actions = data["obs"], data["actions"]
    np.savez(copy / "parity.npz", obs=obs, actions=actions + 1e-3)
    with pytest.raises(HumimicError, match="differs from export"):
        OnnxController(copy, "g1_23dof_lock_wrist")


def test_deploy_modules_do_not_import_torch() -> None:
    code = ("import sys, humimic.deploy.policy, humimic.deploy.sim2sim, "
            "humimic.deploy.observations, humimic.export.manifest; "
            "assert 'torch' not in sys.modules, 'torch imported'")  # fmt: skip
    subprocess.run([sys.executable, "-c", code], check=True)
