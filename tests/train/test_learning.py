"""A short CPU training run must track an easy clip clearly better than the untrained policy.

Takes about 3 minutes on 2 shared cores (100 iterations x 64 envs x 24 steps).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from humimic.config.store import compose
from humimic.envs.synthetic import arm_wave_clip
from humimic.eval.runner import evaluate
from humimic.motion.clip import save_clip
from humimic.train.runner import build_runner, train


@pytest.mark.slow
def test_short_training_improves_body_position_error(tmp_path: Path) -> None:
    clip = save_clip(arm_wave_clip(seconds=2.0, amplitude_rad=0.2), tmp_path / "wave.npz")
    run = tmp_path / "run"
    cfg = compose(
        "train",
        [
            "sim.num_envs=64",
            f"task.motion.files=[{clip}]",
            f"runner.run_dir={run}",
            "runner.iterations=100",
            "runner.save_interval=1000",
            "runner.progress=false",
            "algo.init_std=0.3",  # small batches on CPU: less exploration noise than PBHC's 0.8
            "task.randomization.enabled=false",
            "task.randomization.pushes=false",
            "task.noise=false",
        ],
    )
    untrained = build_runner(cfg, run)
    untrained.logger.init_logging_writer()
    untrained.save(str(run / "model_0.pt"))
    untrained.env.close()
    train(cfg)

    def e_mpbpe(checkpoint: str) -> float:
        metrics = json.loads(evaluate(run / checkpoint, episodes=2, video=False).read_text())
        return float(metrics["E_mpbpe"]["mean"])

    before, after = e_mpbpe("model_0.pt"), e_mpbpe("model_100.pt")
    assert after < 0.75 * before, (before, after)  # measured: 180 mm -> 95 mm
