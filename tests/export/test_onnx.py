"""ONNX export: one self-contained file, manifest embedded, parity with rsl-rl's policy."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from tensordict import TensorDict

from humimic.eval.runner import resolve_checkpoint
from humimic.export.manifest import METADATA_KEY, ControllerManifest
from humimic.export.onnx import ParityError, check_parity
from humimic.train.runner import build_runner, load_run_config
from tests.export.helpers import exported, trained_run


@pytest.fixture(scope="module")
def controller() -> Path:
    return exported()


def test_folder_is_self_contained(controller: Path) -> None:
    names = sorted(p.name for p in controller.iterdir())
    assert names == ["controller.json", "controller.onnx", "parity.npz", "reference.npz"]
    model = onnx.load(str(controller / "controller.onnx"), load_external_data=False)
    onnx.checker.check_model(model, full_check=True)
    assert model.graph.initializer, "weights must be inside the graph"
    for tensor in model.graph.initializer:
        assert tensor.data_location == onnx.TensorProto.DEFAULT and not tensor.external_data
    assert [i.name for i in model.graph.input] == ["obs"]
    assert [o.name for o in model.graph.output] == ["actions"]


def test_manifest_embedded_and_beside(controller: Path) -> None:
    model = onnx.load(str(controller / "controller.onnx"))
    meta = {p.key: p.value for p in model.metadata_props}
    beside = (controller / "controller.json").read_text()
    assert json.loads(meta[METADATA_KEY]) == json.loads(beside)
    m = ControllerManifest.from_json(beside)
    assert m.variant == "g1_23dof_lock_wrist" and m.action_scale == 0.25
    # 76 proprioceptive values now + 4 x 76 history + reference joints, velocities, gravity
    assert m.observation.dim == 76 * 5 + 23 + 23 + 3
    assert m.observation.history_order == "newest_first" and m.action_mode == "residual"
    assert m.reference.frames == 51 and m.reference.duration_s == pytest.approx(1.0)
    assert m.checkpoint["file"] == "model_1.pt"
    assert m.train_config["task"]["action_scale"] == 0.25
    assert m.code_version["humimic"]


def test_parity_against_rsl_rl_inference_policy(controller: Path) -> None:
    """onnxruntime vs rsl-rl's own inference path (MLPModel.forward), not the export wrapper."""
    with np.load(controller / "parity.npz") as data:
        obs = data["obs"]
    assert obs.shape == (50, 429) and float(obs.std(axis=0).max()) > 0.01  # real rollouts
    run, ckpt = resolve_checkpoint(trained_run())
    cfg = load_run_config(run)
    cfg = replace(cfg, runner=replace(cfg.runner, resume=str(ckpt)),
                  sim=replace(cfg.sim, num_envs=1))  # fmt: skip
    runner = build_runner(cfg, None)
    try:
        policy = runner.get_inference_policy()
        with torch.no_grad():
            expected = policy(TensorDict({"actor": torch.from_numpy(obs)}, batch_size=[50]))
    finally:
        runner.env.close()
    session = ort.InferenceSession(str(controller / "controller.onnx"))
    got = np.concatenate([session.run(None, {"obs": row[None]})[0] for row in obs])
    assert got.shape == (50, 23)
    assert np.max(np.abs(got - expected.numpy())) <= 1e-5
    # The normaliser is inside: raw observations of different scale give different actions.
    assert np.max(np.abs(got[0] - got[-1])) > 1e-4


def test_check_parity_fails_loudly(controller: Path) -> None:
    with np.load(controller / "parity.npz") as data:
        obs, actions = data["obs"], data["actions"]
    assert check_parity(controller / "controller.onnx", obs, actions) <= 1e-5
    bad = actions.copy()
    bad[3, 4] += 1e-3
    with pytest.raises(ParityError, match="differs from torch"):
        check_parity(controller / "controller.onnx", obs, bad)


def test_cli_export(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from humimic.cli.main import main

    assert main(["export", str(trained_run()), "-o", str(tmp_path / "c")]) == 0
    assert (tmp_path / "c" / "controller.onnx").is_file()
    assert f"controller: {tmp_path / 'c'}" in capsys.readouterr().out
    assert main(["export", str(tmp_path)]) == 2
    assert "no model_<iteration>.pt checkpoint" in capsys.readouterr().err
