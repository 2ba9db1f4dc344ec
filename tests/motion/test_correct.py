"""Ground correction, smoothing and blend-in/out on hand-made motions."""

from __future__ import annotations

import numpy as np
import pytest

from humimic.errors import ConfigError
from humimic.geometry import quat_np
from humimic.motion.contact import ContactCfg, foot_contact_mask
from humimic.motion.correct import (
    CorrectCfg,
    blend_with_pose,
    correct,
    correct_ground,
    smooth_positions,
)
from humimic.motion.human import HumanMotion

FPS = 30.0
TOE_OFFSET = np.array([0.12, 0.0, -0.08])  # toe 8 cm below the ankle: flat foot, toe at z = 0


def walker(t: int = 75) -> HumanMotion:
    """Pelvis + feet: the left foot steps (frames 30–44 in the air), the right one stands."""
    i = np.arange(t)
    left = np.tile([0.0, 0.1, 0.08], (t, 1))
    left[:, 0] = np.clip(0.1 * (i - 29), 0.0, 1.6)
    left[30:45, 2] += 0.2
    right = np.tile([0.0, -0.1, 0.08], (t, 1))
    joints = {
        "pelvis": np.tile([0.0, 0.0, 0.95], (t, 1)),
        "left_ankle": left,
        "left_toe": left + TOE_OFFSET,
        "right_ankle": right,
        "right_toe": right + TOE_OFFSET,
    }
    names = list(joints)
    return HumanMotion(
        fps=FPS,
        joint_names=names,
        parents=np.full(len(names), -1, dtype=np.int64),
        joint_pos_w=np.stack([joints[n] for n in names], axis=1),
        canonical={n: n for n in names},
    )


def lifted(motion: HumanMotion, dz: np.ndarray | float) -> HumanMotion:
    """Copy with every joint raised by ``dz`` (scalar or per frame)."""
    out = HumanMotion(**{**motion.__dict__, "joint_pos_w": motion.joint_pos_w.copy()})
    out.joint_pos_w[..., 2] += np.broadcast_to(dz, (motion.num_frames,))[:, None]
    return out


def contact_foot_heights(motion: HumanMotion, mask: np.ndarray) -> np.ndarray:
    """Lowest joint height of every foot in contact, over all contact frames."""
    heights = []
    for col, side in enumerate(("left", "right")):
        z = np.stack([motion.canonical_pos_w(f"{side}_{j}")[:, 2] for j in ("ankle", "toe")], 1)
        heights.append(z.min(axis=1)[mask[:, col]])
    return np.concatenate(heights)


@pytest.mark.parametrize("error_m", [0.05, -0.03])
def test_floating_and_penetrating_feet_end_on_the_ground(error_m: float) -> None:
    motion = lifted(walker(), error_m)
    mask = foot_contact_mask(motion, ContactCfg())
    assert mask[:, 1].all() and mask[:20, 0].all()
    fixed, offset = correct_ground(motion, mask, CorrectCfg())
    np.testing.assert_allclose(contact_foot_heights(fixed, mask), 0.0, atol=1e-3)
    np.testing.assert_allclose(offset, error_m, atol=1e-9)
    assert fixed.joint_pos_w[..., 2].min() >= -1e-9


def test_flight_holds_the_last_contact_offset() -> None:
    dz = np.concatenate([np.full(30, 0.05), np.full(30, 0.45), np.full(30, 0.02)])
    motion = lifted(walker(90), dz)
    motion.joint_pos_w[:, :, 0] = 0.0  # no stepping: only the vertical pattern matters
    mask = np.zeros((90, 2), dtype=bool)
    mask[10:30] = True  # frames 0-9: no contact yet; 30-59: flight
    mask[60:] = True
    _, offset = correct_ground(motion, mask, CorrectCfg(smooth_ground_s=0.0))
    np.testing.assert_allclose(offset[:60], 0.05, atol=1e-12)  # first offset before, held after
    np.testing.assert_allclose(offset[60:], 0.02, atol=1e-12)
    _, smooth = correct_ground(motion, mask, CorrectCfg(smooth_ground_s=0.1))
    np.testing.assert_allclose(smooth[35:45], 0.05, atol=1e-4)  # mid-flight, far from edges


def test_correction_never_pushes_below_the_ground() -> None:
    dz = np.concatenate([np.full(30, 0.08), np.full(30, 0.01), np.full(30, 0.08)])
    motion = lifted(walker(90), dz)
    motion.joint_pos_w[:, :, 0] = 0.0
    mask = np.zeros((90, 2), dtype=bool)
    mask[:30] = True  # the middle third is labelled no-contact but lower than the held offset
    mask[60:] = True
    fixed, offset = correct_ground(motion, mask, CorrectCfg())
    lowest = fixed.joint_pos_w[..., 2].min(axis=1)
    assert lowest.min() >= -1e-12
    assert lowest[35:55].min() == pytest.approx(0.0, abs=1e-9)  # raised exactly as needed
    np.testing.assert_allclose(offset[40:50], 0.01, atol=1e-9)


def test_one_offset_per_stance_so_heel_strike_does_not_bob() -> None:
    motion = walker(60)
    motion.joint_pos_w[:, :, 0] = 0.0
    toe = motion.index("left_toe")
    motion.joint_pos_w[:5, toe, 2] += 0.03  # heel strike: toe up, ankle unchanged
    mask = np.zeros((60, 2), dtype=bool)
    mask[:, 0] = True
    _, offset = correct_ground(motion, mask, CorrectCfg(smooth_ground_s=0.0))
    np.testing.assert_allclose(offset, 0.0, atol=1e-12)


def test_ground_points_use_the_per_frame_lowest_point() -> None:
    motion = lifted(walker(40), 0.1)  # joints well above the mesh sole
    motion.ground_points_w = np.zeros((40, 3, 3))
    motion.ground_points_w[:, :, 2] = 0.02 * np.sin(np.arange(40) / 5.0)[:, None] + 0.01
    mask = np.ones((40, 2), dtype=bool)
    fixed, offset = correct_ground(motion, mask, CorrectCfg(smooth_ground_s=0.0))
    np.testing.assert_allclose(offset, motion.ground_points_w[:, 0, 2], atol=1e-12)
    np.testing.assert_allclose(fixed.ground_points_w[..., 2], 0.0, atol=1e-12)


def test_disabled_correction_changes_nothing_and_report() -> None:
    motion = lifted(walker(), 0.05)
    mask = foot_contact_mask(motion, ContactCfg())
    same, offset = correct_ground(motion, mask, CorrectCfg(fix_ground=False))
    assert same is motion and not offset.any()
    _, report = correct(motion, mask, CorrectCfg(smooth_joints=True, smooth_sigma_s=0.02))
    assert report["ground_offset_min_m"] == pytest.approx(0.05)
    assert report["lowest_point_m"] == pytest.approx(0.0, abs=1e-9)
    assert report["smoothed_sigma_s"] == 0.02
    with pytest.raises(ValueError, match="contact mask"):
        correct_ground(motion, mask[:10], CorrectCfg())


def test_smooth_positions_reduces_noise_and_keeps_lines() -> None:
    rng = np.random.default_rng(0)
    motion = walker(200)
    motion.joint_pos_w[:, 0, 0] = np.arange(200) / FPS  # pelvis moves at 1 m/s
    motion.joint_pos_w[:, 3] += rng.normal(0.0, 0.01, (200, 3))  # noisy standing right ankle
    out = smooth_positions(motion, 0.1)
    np.testing.assert_allclose(out.joint_pos_w[20:180, 0, 0], np.arange(20, 180) / FPS, atol=1e-9)
    # White noise through a Gaussian of sigma = 3 frames keeps (2·sqrt(pi)·3)^-1/2 = 0.31 of it.
    ratio = np.std(out.joint_pos_w[:, 3, 2]) / np.std(motion.joint_pos_w[:, 3, 2])
    assert 0.2 < ratio < 0.45


def test_smooth_positions_is_sign_safe_for_quaternions() -> None:
    motion = walker(20)
    q = quat_np.from_axis_angle(np.array([0.0, 1.0, 0.0]), 0.7)
    signs = np.where(np.arange(20) % 2 == 0, 1.0, -1.0)  # q and -q: the same rotation
    motion.joint_quat_w = np.tile(q, (20, 5, 1)) * signs[:, None, None]
    out = smooth_positions(motion, 0.1)
    np.testing.assert_allclose(quat_np.angle_between(out.joint_quat_w, q), 0.0, atol=1e-6)


def test_blend_with_pose_starts_and_ends_at_the_default_under_the_motion() -> None:
    t, j = 10, 3
    yaw_q = quat_np.from_axis_angle(np.array([0.0, 0.0, 1.0]), np.pi / 2)  # facing +y
    root_pos = np.tile([2.0, 3.0, 0.7], (t, 1))
    root_pos[-1] = [4.0, 5.0, 0.7]
    root_quat = np.tile(yaw_q, (t, 1))
    joints = np.ones((t, j))
    default_quat = np.array([1.0, 0.0, 0.0, 0.0])
    pos, quat, q = blend_with_pose(
        root_pos, root_quat, joints, [0.0, 0.0, 0.79], default_quat, np.zeros(j), 50.0, 0.2, 0.1
    )
    assert pos.shape == (10 + 10 + 5, 3) and quat.shape == (25, 4) and q.shape == (25, j)
    np.testing.assert_allclose(pos[0], [2.0, 3.0, 0.79])  # default height under frame 0
    np.testing.assert_allclose(pos[-1], [4.0, 5.0, 0.79])
    np.testing.assert_allclose(pos[:10, :2], np.tile([2.0, 3.0], (10, 1)))  # no sliding
    np.testing.assert_allclose(quat_np.angle_between(quat[0], yaw_q), 0.0, atol=1e-7)
    np.testing.assert_array_equal(q[0], 0.0)
    np.testing.assert_array_equal(q[-1], 0.0)
    np.testing.assert_array_equal(q[10:20], joints)
    assert np.all(np.diff(q[:11, 0]) > 0) and np.all(np.diff(q[19:, 0]) < 0)
    # Smoothstep at the blend-in midpoint (s = 0.5) weighs both poses equally.
    assert q[5, 0] == pytest.approx(0.5)
    assert pos[5, 2] == pytest.approx(0.745)


def test_blend_slerps_the_root_tilt() -> None:
    tilt = quat_np.from_axis_angle(np.array([0.0, 1.0, 0.0]), 0.6)
    _, quat, _ = blend_with_pose(
        np.zeros((1, 3)), tilt[None], np.zeros((1, 1)), [0, 0, 0.8], [1, 0, 0, 0], [0.0], 10.0,
        0.2, 0.0,
    )  # fmt: skip
    assert quat.shape == (3, 4)
    half = quat_np.from_axis_angle(np.array([0.0, 1.0, 0.0]), 0.3)
    np.testing.assert_allclose(quat_np.angle_between(quat[1], half), 0.0, atol=1e-7)


def test_config_errors_name_the_field() -> None:
    with pytest.raises(ConfigError, match=r"CorrectCfg\.smooth_ground_s"):
        CorrectCfg(smooth_ground_s=-1.0)
    with pytest.raises(ConfigError, match=r"CorrectCfg\.stance_percentile"):
        CorrectCfg(stance_percentile=80.0)
