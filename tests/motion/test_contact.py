"""Foot contact masks on hand-made foot trajectories and on a real CMU walk."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from humimic.errors import ConfigError
from humimic.motion.contact import (
    ContactCfg,
    contact_mask_from_points,
    contact_summary,
    foot_contact_mask,
    mask_runs,
    point_speed_mps,
    remove_short_runs,
)
from humimic.motion.human import HumanMotion

TOE_OFFSET = np.array([0.12, 0.0, -0.06])  # toe joint ahead of and below the ankle


def feet_motion(left_ankle: np.ndarray, right_ankle: np.ndarray, fps: float) -> HumanMotion:
    """Motion with pelvis, ankles and toes; toes are rigidly ahead of the ankles."""
    t = left_ankle.shape[0]
    joints = {
        "pelvis": np.tile([0.0, 0.0, 0.95], (t, 1)),
        "left_ankle": left_ankle,
        "left_toe": left_ankle + TOE_OFFSET,
        "right_ankle": right_ankle,
        "right_toe": right_ankle + TOE_OFFSET,
    }
    names = list(joints)
    return HumanMotion(
        fps=fps,
        joint_names=names,
        parents=np.full(len(names), -1, dtype=np.int64),
        joint_pos_w=np.stack([joints[n] for n in names], axis=1),
        canonical={n: n for n in names},
    )


def standing(t: int, y: float) -> np.ndarray:
    """``(t, 3)`` ankle standing still at (0, y, 0.07)."""
    return np.tile([0.0, y, 0.07], (t, 1))


def stepping_left_ankle() -> np.ndarray:
    """75 frames at 30 fps: stance 0–29 at x=0, swing 30–44 (0.1 m/frame, 0.2 m up), stance."""
    ankle = standing(75, 0.1)
    i = np.arange(75)
    ankle[:, 0] = np.clip(0.1 * (i - 29), 0.0, 1.6)
    ankle[30:45, 2] += 0.2
    return ankle


def test_stance_swing_stance_gives_the_expected_mask() -> None:
    motion = feet_motion(stepping_left_ankle(), standing(75, -0.1), fps=30.0)
    mask = foot_contact_mask(motion, ContactCfg())
    # Frame 29 is still on the ground but its centred difference (frames 28..30) sees the
    # swing start at 1.5 m/s; frame 45 likewise sees the landing (frames 44..46).
    expected = np.zeros(75, dtype=bool)
    expected[:29] = True
    expected[46:] = True
    np.testing.assert_array_equal(mask[:, 0], expected)
    assert mask[:, 1].all()
    summary = contact_summary(mask, 30.0)
    assert summary["contact_fraction"] == [round(58 / 75, 4), 1.0]
    assert summary["contact_runs"] == [2, 1]


def test_ankle_or_toe_decides_and_heights_are_per_point() -> None:
    tiptoe = standing(30, 0.1)
    tiptoe[:, 2] = 0.20  # ankle above its 0.15 m limit; the toe height is set below
    motion = feet_motion(tiptoe, standing(30, -0.1), fps=30.0)
    left_toe = motion.index("left_toe")
    motion.joint_pos_w[:, left_toe, 2] = 0.02  # standing on the toe: contact through the toe
    assert foot_contact_mask(motion, ContactCfg())[:, 0].all()
    motion.joint_pos_w[:, left_toe, 2] = 0.12  # toe above 0.10 and ankle above 0.15: no contact
    assert not foot_contact_mask(motion, ContactCfg())[:, 0].any()


def test_one_frame_glitch_is_removed_by_the_minimum_duration() -> None:
    fps = 120.0
    left = standing(120, 0.1)
    left[60, 2] += 0.3  # a single glitch frame
    motion = feet_motion(left, standing(120, -0.1), fps)
    raw = foot_contact_mask(motion, ContactCfg(min_duration_s=0.0))
    # The glitch breaks the raw mask on its own frame (height) and on the frames whose centred
    # difference ends on it (k = 4 frames each side at 120 fps).
    np.testing.assert_array_equal(np.flatnonzero(~raw[:, 0]), [56, 60, 64])
    cleaned = foot_contact_mask(motion, ContactCfg(min_duration_s=0.1))
    assert cleaned[:, 0].all()


def test_remove_short_runs_flips_interior_runs_only() -> None:
    np.testing.assert_array_equal(
        remove_short_runs([1, 1, 1, 0, 1, 1, 1], 2), [1, 1, 1, 1, 1, 1, 1]
    )
    np.testing.assert_array_equal(remove_short_runs([0, 0, 0, 1, 0, 0], 2), [0, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(remove_short_runs([1, 0, 0, 0, 0], 2), [1, 0, 0, 0, 0])
    # A flickering stretch (1,0,1,0) between long runs collapses; the shortest goes first.
    flicker = [1, 1, 1, 1, 0, 1, 0, 0, 0, 0]
    np.testing.assert_array_equal(remove_short_runs(flicker, 2), [1, 1, 1, 1, 1, 1, 0, 0, 0, 0])
    starts, lengths = mask_runs(np.array([True, True, False, True]))
    np.testing.assert_array_equal(starts, [0, 2, 3])
    np.testing.assert_array_equal(lengths, [2, 1, 1])


def smooth_step_ankle(times: np.ndarray) -> np.ndarray:
    """Ankle of a continuous step: stance to 1 s, swing 1–1.5 s (0.6 m, 15 cm high), stance."""
    s = np.clip((times - 1.0) / 0.5, 0.0, 1.0)
    ankle = np.zeros((times.size, 3))
    ankle[:, 0] = 0.6 * s * s * (3 - 2 * s)
    ankle[:, 1] = 0.1
    ankle[:, 2] = 0.07 + 0.15 * np.sin(np.pi * s)
    return ankle


def test_mask_does_not_depend_on_the_frame_rate() -> None:
    masks = {}
    for fps in (30.0, 120.0):
        times = np.arange(int(2.5 * fps) + 1) / fps
        motion = feet_motion(smooth_step_ankle(times), standing(times.size, -0.1), fps)
        masks[fps] = foot_contact_mask(motion, ContactCfg())
    assert not masks[30.0][:, 0].all() and masks[30.0][:, 0].any()
    np.testing.assert_array_equal(masks[120.0][::4], masks[30.0])


def test_point_speed_is_in_metres_per_second() -> None:
    fps = 50.0
    p = np.zeros((11, 1, 3))
    p[:, 0, 0] = 2.0 * np.arange(11) / fps  # 2 m/s along x
    np.testing.assert_allclose(point_speed_mps(p, fps, 1 / 15), 2.0)


def test_points_api_and_errors() -> None:
    pts = np.zeros((10, 3, 3))
    mask = contact_mask_from_points(pts, pts + np.array([0.0, 0.0, 0.5]), 30.0, ContactCfg())
    assert mask.shape == (10, 2)
    assert mask[:, 0].all() and not mask[:, 1].any()
    with pytest.raises(ValueError, match="max_height_m"):
        contact_mask_from_points(pts, pts, 30.0, ContactCfg(), max_height_m=[0.1])
    with pytest.raises(ConfigError, match=r"ContactCfg\.max_speed_mps"):
        ContactCfg(max_speed_mps=-1.0)
    with pytest.raises(ConfigError, match=r"ContactCfg\.min_duration_s"):
        ContactCfg(min_duration_s=float("nan"))


def test_real_walk_has_alternating_contacts(shared_motions: Path) -> None:
    bvh = pytest.importorskip(
        "humimic.motion.io.bvh", reason="BVH reader humimic.motion.io.bvh.read_bvh missing"
    )
    from humimic.motion.normalize import NormalizeCfg, normalize

    motion, _ = normalize(bvh.read_bvh(shared_motions / "cmu/bvh/02_01.bvh"), NormalizeCfg())
    mask = foot_contact_mask(motion, ContactCfg())
    assert not np.any(~mask[:, 0] & ~mask[:, 1])  # walking: never both feet up
    swings = []
    for foot in (0, 1):
        starts, _ = mask_runs(mask[:, foot])
        swings += [(s, foot) for s in starts if not mask[s, foot]]
    feet_in_order = [foot for _, foot in sorted(swings)]
    assert len(feet_in_order) >= 3
    assert all(a != b for a, b in itertools.pairwise(feet_in_order))
    fractions = contact_summary(mask, motion.fps)["contact_fraction"]
    assert 0.45 < np.mean(fractions) < 0.75
