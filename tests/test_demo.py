"""``humimic demo``, the README's first command, end to end at a tiny size."""

from __future__ import annotations

import json
from pathlib import Path

from humimic.cli.main import main
from humimic.demo import DEFAULT_CLIP, EVAL_KEYS, LEARNING_TAGS


def test_demo_writes_every_stage(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    args = ["demo", "-o", str(out), "--iterations", "2", "--num-envs", "4", "--no-video"]
    assert main(args) == 0
    figures = json.loads((out / "demo.json").read_text())
    assert set(figures) == {"robot", "clip", "training", "eval", "sim2sim_gate"}
    assert all(v["stands"] for v in figures["robot"].values())
    assert figures["clip"]["verdict"] == "pass"
    assert set(figures["training"]) == set(LEARNING_TAGS)
    assert set(figures["eval"]) == set(EVAL_KEYS)
    assert figures["eval"]["episode_length_ratio"]["untrained"] > 0
    for name in ("training_curves.png", "eval/metrics.json", "eval_untrained/metrics.json",
                 "controller/controller.onnx", DEFAULT_CLIP.name, "run/model_0.pt",
                 "run/model_2.pt"):  # fmt: skip
        assert (out / name).is_file(), name
    # A second run into the same folder starts a fresh training log.
    assert main(args) == 0
    assert len(list((out / "run").glob("events.out.tfevents.*"))) == 1
