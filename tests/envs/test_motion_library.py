"""Motion library: interpolation, name matching, sampling, variant checks."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from humimic.envs.motion_library import MotionLibrary, load_clips
from humimic.errors import ConfigError
from humimic.geometry.quat_torch import slerp
from humimic.motion.clip import save_clip
from humimic.testing.synthetic_clips import arm_wave_clip


@pytest.fixture(scope="module")
def clip():  # type: ignore[no-untyped-def]
    return arm_wave_clip(seconds=1.0, fps=10.0)


def test_interpolates_between_frames_and_matches_names(clip) -> None:  # type: ignore[no-untyped-def]
    joints = ["left_elbow_joint", "left_shoulder_pitch_joint"]  # not in clip order
    bodies = ["pelvis", "left_elbow_link"]
    lib = MotionLibrary([clip], joints, bodies)
    ids = torch.zeros(2, dtype=torch.long)
    ref = lib.state(ids, torch.tensor([0.25, 0.3]))  # frames 2.5 and 3
    j = clip.joint_index("left_shoulder_pitch_joint")
    expected = 0.5 * (clip.joint_pos[2, j] + clip.joint_pos[3, j])
    assert ref.joint_pos[0, 1].item() == pytest.approx(expected, abs=1e-6)
    assert ref.joint_pos[1, 1].item() == pytest.approx(clip.joint_pos[3, j], abs=1e-6)
    b = clip.body_index("left_elbow_link")
    assert ref.body_pos_w[1, 1].numpy() == pytest.approx(clip.body_pos_w[3, b], abs=1e-6)
    assert ref.phase.tolist() == pytest.approx([0.25, 0.3])
    past_end = lib.state(ids[:1], torch.tensor([5.0]))  # clamps to the last frame
    assert past_end.joint_pos[0, 1].item() == pytest.approx(clip.joint_pos[-1, j], abs=1e-6)


def test_slerp_halfway_about_z() -> None:
    a = torch.tensor([1.0, 0.0, 0.0, 0.0])
    b = torch.tensor([math.cos(0.5), 0.0, 0.0, math.sin(0.5)])  # 1 rad about z
    mid = slerp(a, b, torch.tensor([0.5]))
    assert mid.tolist() == pytest.approx([math.cos(0.25), 0, 0, math.sin(0.25)], abs=1e-6)
    assert slerp(a, -b, torch.tensor([0.5])).tolist() == pytest.approx(mid.tolist(), abs=1e-6)


def test_missing_body_and_wrong_variant_fail(clip, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match=r"lacks .*no_such_link"):
        MotionLibrary([clip], ["left_elbow_joint"], ["pelvis", "no_such_link"])
    clip.variant = "g1_29dof"
    path = save_clip(clip, tmp_path / "other.npz")
    clip.variant = "g1_23dof_lock_wrist"
    with pytest.raises(
        ConfigError, match=r"task.motion.files: .*other.npz is for robot 'g1_29dof'"
    ):
        load_clips([path], "g1_23dof_lock_wrist")


def test_adaptive_sampling_prefers_failing_bins() -> None:
    clip = arm_wave_clip(seconds=4.0, fps=10.0)
    lib = MotionLibrary([clip], ["left_elbow_joint"], ["pelvis"], bin_s=1.0)
    assert lib.num_bins.tolist() == [4]
    ids = torch.zeros(400, dtype=torch.long)
    failed = torch.ones(400, dtype=torch.bool)
    lib.record_episodes(ids, torch.full((400,), 2.5), failed, alpha=0.5)  # all fail in bin 2
    gen = torch.Generator().manual_seed(0)
    times = lib.sample_times(ids, adaptive=True, uniform_ratio=0.2, generator=gen)
    share = ((times >= 2.0) & (times < 3.0)).float().mean().item()
    assert share == pytest.approx(0.8 + 0.2 / 4, abs=0.06)  # (1-r)·1 + r/4
    uniform = lib.sample_times(ids, adaptive=False, generator=gen)
    assert float(uniform.min()) >= 0.0 and float(uniform.max()) <= 4.0
    assert lib.sampling_entropy() == pytest.approx(0.0, abs=1e-6)
    assert np.isfinite(lib.failure_ema.numpy()).all()
