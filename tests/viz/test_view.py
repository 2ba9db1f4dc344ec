"""What ``humimic view`` draws of the human: beside the robot, at robot scale, real bones."""

from __future__ import annotations

import numpy as np
import pytest

from humimic.motion.report import ClipReport, RetargetSummary, SourceInfo
from humimic.motion.robot_clip import make_robot_clip
from humimic.robot.model import build_model
from humimic.robot.spec import load_robot_spec
from humimic.viz.robot_view import HUMAN_SIDE_OFFSET_M, human_overlay

T = 20
FPS = 30.0


def walking_clip(heading: float):
    """A robot walking 0.78x as far as a human whose skeleton hangs under a floor root.

    Human joints: ``Reference`` (root, left on the floor at the origin), ``Hips`` (walks 4 m
    along the heading), ``Head`` above the hips.
    """
    spec = load_robot_spec("g1_23dof_lock_wrist")
    model = build_model(spec)
    direction = np.array([np.cos(heading), np.sin(heading), 0.0])
    walk = np.linspace(0.0, 4.0, T)[:, None] * direction
    hips = walk + np.array([0.0, 0.0, 0.95])
    human = np.stack([np.zeros((T, 3)), hips, hips + np.array([0.0, 0.0, 0.6])], axis=1)
    root = walk * 0.78 + np.array([0.0, 0.0, 0.78])
    yaw = np.tile([np.cos(heading / 2), 0.0, 0.0, np.sin(heading / 2)], (T, 1))
    joints = np.tile(spec.default_joint_pos, (T, 1))
    clip = make_robot_clip(spec, model, root, yaw, joints, FPS, contact_mask=np.ones((T, 2)))
    clip.human_joint_names = ["Reference", "Hips", "Head"]
    clip.human_parents = np.array([-1, 0, 1])
    clip.human_pos_w = human
    retarget = RetargetSummary(0.01, 0.02, {}, {}, leg_scale=0.78, solver_iterations=1,
                               solver_cost=(1.0, 0.1))  # fmt: skip
    source = SourceInfo("walk.bvh", "bvh", "", frames=T, fps=FPS, joints=3,
                        canonical_map={"pelvis": "Hips", "head": "Head"})  # fmt: skip
    clip.report = ClipReport("pass", source=source, retarget=retarget).to_json()
    return clip


@pytest.mark.parametrize("heading", [0.0, np.pi / 2])
def test_human_is_drawn_beside_the_robot_at_its_scale(heading: float) -> None:
    clip = walking_clip(heading)
    pos, parents = human_overlay(clip)
    left = np.array([-np.sin(heading), np.cos(heading), 0.0])
    # scaled by the leg scale about the origin, then moved to the robot's left
    np.testing.assert_allclose(pos, clip.human_pos_w * 0.78 + HUMAN_SIDE_OFFSET_M * left, atol=1e-9)
    # the human's pelvis keeps its place beside the robot's root all along (no drift onto it)
    beside = pos[:, 1, :2] - clip.root_pos_w[:, :2]
    np.testing.assert_allclose(beside, np.tile(HUMAN_SIDE_OFFSET_M * left[:2], (T, 1)), atol=1e-9)
    # the floor root's bone to the hips (up to 4 m long) is not drawn; the rest is
    assert parents.tolist() == [-1, -1, 1]


def test_a_bone_that_stretches_is_hidden_without_a_canonical_map() -> None:
    clip = walking_clip(0.0)
    clip.report = {}  # no report: no canonical map, leg scale 1
    _, parents = human_overlay(clip)
    assert parents.tolist() == [-1, -1, 1]  # Reference->Hips stretches from 0.95 to 4.1 m
