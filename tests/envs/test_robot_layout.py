"""Body groups of the resolved G1 layout, by name."""

from __future__ import annotations

from humimic.envs.robot_layout import resolve_layout
from humimic.robot.model import build_model
from humimic.robot.spec import load_robot_spec


def test_root_group_is_the_pelvis_and_vr_3point_is_hands_and_head() -> None:
    spec = load_robot_spec("g1_23dof_lock_wrist")
    layout = resolve_layout(spec, build_model(spec))
    tracked = spec.body_groups["tracked"]
    names = {group: [tracked[int(i)] for i in rows] for group, rows in layout.groups.items()}
    assert names["root"] == ["pelvis"]
    assert sorted(names["vr_3point"]) == ["head_point", "left_hand_point", "right_hand_point"]
    assert names["feet"] == ["left_ankle_roll_link", "right_ankle_roll_link"]
