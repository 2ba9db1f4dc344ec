"""Two PPO iterations end to end on MuJoCo Warp (Warp's CPU device) through the command line:
the same env, runner and evaluation code that a CUDA run uses.

Marked ``gpu`` (needs mujoco-warp) but runs on the CPU in about a minute; Warp's kernels
are compiled once and cached in ``~/.cache/warp``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from humimic.cli.main import main
from humimic.paths import MOTIONS_DIR

CLIP = MOTIONS_DIR / "cmu_01_01_crouch.npz"
"""The shortest shipped clip (1.36 s): evaluation rolls out one clip length."""


@pytest.mark.gpu
def test_train_checkpoint_and_evaluate_on_warp_cpu(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("mujoco_warp")
    clip = CLIP
    out = tmp_path / "run"
    args = ["train", str(clip), "--backend", "mujoco_warp", "sim.device=cpu",
            "--num-envs", "8", "--iterations", "2", "--out", str(out), "--no-progress"]  # fmt: skip
    assert main(args) == 0, capsys.readouterr().err
    saved = torch.load(out / "model_2.pt", weights_only=False)
    assert saved["iter"] == 2
    assert "backend: mujoco_warp" in (out / "config.yaml").read_text()
    assert list(out.glob("events.out.tfevents*"))
    env_state = saved["infos"]["env"]
    # σ lives on the device during collection and was read back into the checkpoint (the
    # default cpu preset holds it at PBHC's initial values: configs/train.yaml).
    assert all(math.isfinite(v) for v in env_state["sigma"]["sigma"].values())
    assert env_state["sigma"]["sigma"]["joint_pos"] == pytest.approx(0.3)
    for value in saved["actor_state_dict"].values():
        assert torch.isfinite(value).all()

    assert main(["eval", str(out), "--episodes", "2", "--no-video"]) == 0
    metrics = json.loads((out / "eval_model_2" / "metrics.json").read_text())
    assert metrics["checkpoint"].endswith("model_2.pt")
    assert metrics["E_mpbpe"]["mean"] >= 0.0 and 0.0 <= metrics["success_rate"]["mean"] <= 1.0
