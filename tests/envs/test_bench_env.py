"""tools/bench_env.py runs the env for the robot variant of the clip it is given."""

from __future__ import annotations

from pathlib import Path

from humimic.motion.clip import save_clip
from humimic.testing.synthetic_clips import arm_wave_clip
from tests.tool_module import load_tool


def test_bench_env_takes_the_variant_from_a_29_dof_clip(tmp_path: Path) -> None:
    clip = save_clip(arm_wave_clip("g1_29dof", seconds=1.0), tmp_path / "wave29.npz")
    env_rate, bare_rate = load_tool("bench_env").bench(clip, num_envs=2, steps=3, rounds=1)
    assert 0.0 < env_rate < bare_rate  # the env's work is on top of the physics
