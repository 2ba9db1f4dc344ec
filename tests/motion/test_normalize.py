"""Resampling, ground placement and centring on hand-made motions."""

from __future__ import annotations

import numpy as np
import pytest

from humimic.errors import ConfigError
from humimic.geometry import quat_np
from humimic.motion.human import HumanMotion
from humimic.motion.normalize import (
    NormalizeCfg,
    center_xy,
    normalize,
    place_on_ground,
    resample,
)

NAMES = ["pelvis", "left_ankle", "left_toe", "right_ankle", "right_toe"]


def line_motion(t: int, fps: float) -> HumanMotion:
    """Joints translating at constant velocity (x = 2·time + k, y = k, z = 0.1·k + 0.3·time)."""
    time = np.arange(t) / fps
    k = np.arange(len(NAMES), dtype=np.float64)
    pos = np.stack(
        [
            2.0 * time[:, None] + k,
            np.broadcast_to(k, (t, k.size)),
            0.1 * k + 0.3 * time[:, None],
        ],
        axis=-1,
    )
    return HumanMotion(
        fps=fps,
        joint_names=list(NAMES),
        parents=np.full(len(NAMES), -1, dtype=np.int64),
        joint_pos_w=pos,
        canonical={n: n for n in NAMES},
    )


def expected_line(time: np.ndarray) -> np.ndarray:
    k = np.arange(len(NAMES), dtype=np.float64)
    return np.stack(
        [
            2.0 * time[:, None] + k,
            np.broadcast_to(k, (time.size, k.size)),
            0.1 * k + 0.3 * time[:, None],
        ],
        axis=-1,
    )


def test_resample_keeps_endpoints_and_duration_and_is_exact_for_lines() -> None:
    src = line_motion(345, 120.0)  # 344 / 120 = 2.8667 s
    out = resample(src, 50.0)
    assert out.num_frames == 144  # round(2.8667 s * 50 Hz) = 143 periods
    assert out.duration_s == pytest.approx(src.duration_s, abs=1e-12)
    assert out.fps == pytest.approx(143 / (344 / 120))
    np.testing.assert_allclose(out.joint_pos_w[0], src.joint_pos_w[0], atol=1e-12)
    np.testing.assert_allclose(out.joint_pos_w[-1], src.joint_pos_w[-1], atol=1e-12)
    np.testing.assert_allclose(out.joint_pos_w, expected_line(np.arange(144) / out.fps), atol=1e-12)


def test_resample_exact_fps_drops_only_the_partial_last_period() -> None:
    out = resample(line_motion(345, 120.0), 50.0, exact_fps=True)
    assert out.fps == 50.0
    assert out.num_frames == 144  # 0 .. 2.86 s of 2.8667 s
    np.testing.assert_allclose(out.joint_pos_w, expected_line(np.arange(144) / 50.0), atol=1e-12)


def test_slerp_halfway_of_a_90_degree_rotation_is_45_degrees() -> None:
    motion = line_motion(2, 1.0)
    axis = np.array([0.0, 0.0, 1.0])
    q = np.stack([quat_np.from_axis_angle(axis, 0.0), quat_np.from_axis_angle(axis, np.pi / 2)])
    motion.joint_quat_w = np.repeat(q[:, None], len(NAMES), axis=1)
    out = resample(motion, 2.0)
    assert out.num_frames == 3
    mid = out.joint_quat_w[1]
    expected = quat_np.from_axis_angle(axis, np.pi / 4)
    np.testing.assert_allclose(quat_np.angle_between(mid, expected), 0.0, atol=1e-7)
    np.testing.assert_allclose(out.joint_quat_w[[0, 2]], motion.joint_quat_w, atol=1e-12)


def test_resample_carries_com_and_ground_points() -> None:
    motion = line_motion(11, 10.0)
    motion.com_w = motion.joint_pos_w[:, 0].copy()
    motion.ground_points_w = motion.joint_pos_w[:, 1:3].copy()
    out = resample(motion, 20.0)
    assert out.num_frames == 21
    np.testing.assert_allclose(out.com_w, out.joint_pos_w[:, 0], atol=1e-12)
    np.testing.assert_allclose(out.ground_points_w, out.joint_pos_w[:, 1:3], atol=1e-12)
    assert motion.num_frames == 11  # the input is untouched


def test_single_frame_motion_only_changes_fps() -> None:
    out = resample(line_motion(1, 30.0), 50.0)
    assert out.num_frames == 1 and out.fps == 50.0


def test_ground_ignores_a_glitch_frame() -> None:
    motion = line_motion(100, 30.0)
    motion.joint_pos_w[..., 2] = 0.3  # feet floating 0.3 m, one frame 0.5 m under the floor
    motion.joint_pos_w[40, 1, 2] = -0.5
    out, offset = place_on_ground(motion, percentile=5.0)
    assert offset == pytest.approx(0.3)
    np.testing.assert_allclose(out.joint_pos_w[:40, :, 2], 0.0, atol=1e-12)
    _, plain_min = place_on_ground(motion, percentile=0.0)
    assert plain_min == pytest.approx(-0.5)


def test_ground_uses_ground_points_when_present() -> None:
    motion = line_motion(10, 30.0)
    motion.joint_pos_w[..., 2] = 0.1
    motion.ground_points_w = np.zeros((10, 2, 3))
    motion.ground_points_w[..., 2] = 0.04  # a mesh sole 6 cm below the foot joints
    out, offset = place_on_ground(motion)
    assert offset == pytest.approx(0.04)
    np.testing.assert_allclose(out.ground_points_w[..., 2], 0.0, atol=1e-12)
    np.testing.assert_allclose(out.joint_pos_w[..., 2], 0.06, atol=1e-12)


def test_center_xy_puts_frame_zero_pelvis_at_origin() -> None:
    motion = line_motion(5, 30.0)
    motion.joint_pos_w[..., 0] += 3.0
    out, xy = center_xy(motion)
    np.testing.assert_allclose(xy, [3.0, 0.0])
    np.testing.assert_allclose(out.canonical_pos_w("pelvis")[0, :2], 0.0, atol=1e-12)
    np.testing.assert_allclose(out.joint_pos_w[..., 2], motion.joint_pos_w[..., 2])


def test_normalize_reports_what_it_did() -> None:
    motion = line_motion(121, 120.0)
    motion.joint_pos_w[..., 0] += 1.0
    motion.joint_pos_w[..., 2] += 0.25
    out, report = normalize(motion, NormalizeCfg(target_fps=30.0, ground_percentile=0.0))
    assert report["ground_offset_m"] == pytest.approx(0.25 + 0.1)  # lowest foot joint: k = 1
    assert report["xy_offset_m"] == [1.0, 0.0]
    assert report["frames_in"] == 121 and report["frames_out"] == 31
    assert report["fps"] == 30.0 and report["duration_s"] == 1.0
    assert out.joint_pos_w[:, 1:, 2].min() == pytest.approx(0.0, abs=1e-12)


def test_config_errors_name_the_field() -> None:
    with pytest.raises(ConfigError, match=r"NormalizeCfg\.target_fps"):
        NormalizeCfg(target_fps=0.0)
    with pytest.raises(ConfigError, match=r"NormalizeCfg\.ground_percentile"):
        NormalizeCfg(ground_percentile=75.0)
