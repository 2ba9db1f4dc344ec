"""A tiny trained run and its exported controller, shared by export and deploy tests.

Training one PPO iteration with small networks takes a few seconds; the folders are made
once per test session (cached) in a temporary directory.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

from humimic.config.store import compose
from humimic.export.onnx import export_controller
from humimic.motion.clip import save_clip
from humimic.testing.synthetic_clips import arm_wave_clip
from humimic.train.runner import train

TINY = [
    "sim.num_envs=4",
    "runner.progress=false",
    "runner.iterations=1",
    "algo.actor_hidden_dims=[32,32]",
    "algo.critic_hidden_dims=[32,32]",
    "algo.num_steps_per_env=8",
    "algo.num_learning_epochs=1",
    "algo.num_mini_batches=1",
]


@functools.cache
def trained_run(
    amplitude_rad: float = 0.4, seconds: float = 1.0, extra: tuple[str, ...] = ()
) -> Path:
    """Run folder of a 1-iteration policy on an arm-wave clip (amplitude 0: standing still);
    ``extra``: more config overrides (e.g. observation terms)."""
    root = Path(tempfile.mkdtemp(prefix="humimic_export_test_"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    wave = arm_wave_clip(seconds=seconds, amplitude_rad=amplitude_rad)
    clip = save_clip(wave, root / "clip.npz")
    files, run_dir = f"task.motion.files=[{clip}]", f"runner.run_dir={root / 'run'}"
    cfg = compose("train", [*TINY, files, run_dir, *extra])
    return train(cfg)


@functools.cache
def exported(amplitude_rad: float = 0.4, seconds: float = 1.0, extra: tuple[str, ...] = ()) -> Path:
    """Controller folder exported from :func:`trained_run` (treat as read-only)."""
    run = trained_run(amplitude_rad, seconds, extra)
    return export_controller(run, run.parent / "controller")
