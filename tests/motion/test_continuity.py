"""Continuity of retargeted clips: no joint flips, no root jumps beyond the human's motion."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from humimic.config.store import compose
from humimic.geometry import quat_np
from humimic.motion.clip import RobotClip, load_clip
from humimic.motion.pipeline import ClipMaker, InputOptions
from humimic.robot.spec import load_robot_spec
from tests.motion.test_bvh import HUMAN, bvh_text

FPS = 30.0


@pytest.fixture(scope="module")
def maker() -> ClipMaker:
    return ClipMaker(compose("retarget", []))


def turn_in_place_bvh(turn_deg: float, frames: int) -> str:
    """A 1.7 m human standing, arms down, turning ``turn_deg`` about the vertical at an even
    rate over ``frames`` frames at 30 fps (cm, Z-up)."""
    scale = 115.0  # the small human (1.5 m) in cm, scaled to about 1.7 m
    joints = [(n, p, np.array(o) * scale) for n, p, o in HUMAN]
    order = ["Zrotation", "Yrotation", "Xrotation"]
    channels = {n: list(order) for n, _, _ in HUMAN}
    channels["Hips"] = ["Xposition", "Yposition", "Zposition", *order]
    angles = np.zeros((frames, len(HUMAN), 3))
    angles[:, 0, 0] = np.linspace(0.0, turn_deg, frames)
    names = [n for n, _, _ in HUMAN]
    angles[:, names.index("LeftArm"), 2], angles[:, names.index("RightArm"), 2] = -70, 70
    root = np.tile([0.0, 0.0, 0.95 * scale], (frames, 1))
    text = bvh_text(
        joints, channels, np.concatenate([root, angles.reshape(frames, -1)], axis=1),
        np.array([0.0, 0.0, 5.0]),
    )  # fmt: skip
    return text.replace("Frame Time: 0.033333", f"Frame Time: {1 / FPS:.6f}")


def pelvis_yaw_rate(clip: RobotClip, human: bool) -> np.ndarray:
    """Yaw rate (rad/s) of the robot root or of the human hip line, per frame step."""
    if human:
        names = clip.human_joint_names
        left = clip.human_pos_w[:, names.index("LeftUpLeg")]
        right = clip.human_pos_w[:, names.index("RightUpLeg")]
        lateral = left - right
        heading = np.arctan2(-lateral[:, 0], lateral[:, 1])
    else:
        heading = quat_np.yaw(clip.root_quat_w)
    return np.abs(np.diff(np.unwrap(heading))) * clip.fps


def joint_speed_fraction(clip: RobotClip) -> np.ndarray:
    """Frame-to-frame |Δq| fps over each joint's velocity limit, (T-1, J)."""
    spec = load_robot_spec(clip.variant)
    limit = np.asarray(spec.velocity_limit)[[spec.joint_names.index(n) for n in clip.joint_names]]
    return np.abs(np.diff(clip.joint_pos, axis=0)) * clip.fps / limit


def test_a_180_degree_turn_in_place_has_no_flip(maker: ClipMaker, tmp_path: Path) -> None:
    path = tmp_path / "turn.bvh"
    path.write_text(turn_in_place_bvh(180.0, 45))  # 180 degrees in 1.5 s
    maker.run(path, tmp_path / "turn.npz", InputOptions())
    clip = load_clip(tmp_path / "turn.npz")
    human = pelvis_yaw_rate(clip, human=True)
    robot = pelvis_yaw_rate(clip, human=False)
    assert human.max() == pytest.approx(np.pi / 1.5, rel=0.1)
    # The root turns with the human: it does not lag and catch up in a jump (before the
    # root-velocity term it peaked at 1.9x the human's rate, stick-slipping on pinned feet).
    assert robot.max() < 1.3 * human.max(), (robot.max(), human.max())
    # it turns (the pinned feet hold it some 20 degrees short of the human's half turn)
    assert np.unwrap(quat_np.yaw(clip.root_quat_w))[-1] == pytest.approx(np.pi, abs=0.5)
    # no joint moves faster than the robot can between two frames
    assert joint_speed_fraction(clip).max() < 0.5


@pytest.mark.parametrize("name", ["01_01_forward_jumps.bvh", "05_06.bvh"])
def test_long_clip_frame_to_frame_maximum(
    maker: ClipMaker, shared_motions: Path, tmp_path: Path, name: str
) -> None:
    # 23 s of jumps and a 7 s dance: before, the dance's shoulder moved at 1.44x its limit
    # between frames and the jumps' root at 1.6x the (scaled) human pelvis's peak speed.
    out = tmp_path / "clip.npz"
    maker.run(shared_motions / "cmu" / "bvh" / name, out, InputOptions())
    clip = load_clip(out)
    assert joint_speed_fraction(clip).max() <= 1.0
    pelvis = clip.human_pos_w[:, clip.human_joint_names.index("Hips")]
    human_step = np.linalg.norm(np.diff(pelvis, axis=0), axis=1).max()
    leg_scale = clip.report["retarget"]["leg_scale"]
    robot_step = np.linalg.norm(np.diff(clip.root_pos_w, axis=0), axis=1).max()
    assert robot_step <= 1.25 * leg_scale * human_step, (robot_step, leg_scale * human_step)
