"""tools/drift_report.py: the pelvis error split into along-track, cross-track and yaw."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.tool_module import load_tool


def root(x: float, y: float, z: float, yaw_deg: float) -> list[float]:
    half = math.radians(yaw_deg) / 2
    return [x, y, z, math.cos(half), 0.0, 0.0, math.sin(half)]


def test_drift_is_split_in_the_reference_heading_frame():
    # the reference faces +y at (1, 1); episode 0 is 0.2 m ahead of it and 0.1 m to its
    # right, turned 10 degrees further left; episode 1 has fallen and does not count
    ref = np.array([[root(1.0, 1.0, 0.75, 90.0)], [root(1.0, 1.0, 0.75, 90.0)]])
    robot = np.array([[root(1.1, 1.2, 0.74, 100.0)], [root(3.0, 3.0, 0.10, 0.0)]])
    r = load_tool("drift_report").drift_at(robot, ref, 0)
    assert r["upright"] == 0.5
    assert r["along_mm"] == pytest.approx(200.0, abs=1e-6)
    assert r["cross_mm"] == pytest.approx(-100.0, abs=1e-6)
    assert r["error_mm"] == pytest.approx(1000.0 * math.hypot(0.1, 0.2), abs=1e-6)
    assert r["yaw_deg"] == pytest.approx(10.0, abs=1e-6)
    assert r["along_mm_std"] == 0.0


def test_yaw_error_wraps_and_all_fallen_gives_nan():
    ref = np.array([[root(0.0, 0.0, 0.75, 170.0)], [root(0.0, 0.0, 0.75, 170.0)]])
    robot = np.array([[root(0.0, 0.0, 0.75, -170.0)], [root(0.0, 0.0, 0.75, -150.0)]])
    r = load_tool("drift_report").drift_at(robot, ref, 0)
    assert r["yaw_deg"] == pytest.approx(30.0, abs=1e-6)  # +20 and +40, not -340
    assert r["yaw_deg_std"] == pytest.approx(10.0, abs=1e-6)
    robot[:, :, 2] = 0.2
    fallen = load_tool("drift_report").drift_at(robot, ref, 0)
    assert fallen["upright"] == 0.0 and math.isnan(fallen["cross_mm"])


def test_torso_yaw_error_is_counted_on_upright_episodes_only():
    ref = np.array([[root(0.0, 0.0, 0.75, 0.0)], [root(0.0, 0.0, 0.75, 0.0)]])
    robot = np.array([[root(0.0, 0.0, 0.75, 0.0)], [root(0.0, 0.0, 0.10, 0.0)]])
    # episode 0's torso is 15 degrees left of the reference torso; episode 1 has fallen
    robot_torso = np.radians([[175.0], [90.0]])
    ref_torso = np.radians([[160.0], [0.0]])
    r = load_tool("drift_report").drift_at(robot, ref, 0, (robot_torso, ref_torso))
    assert r["torso_deg"] == pytest.approx(15.0, abs=1e-6)
    assert r["torso_deg_std"] == 0.0
    assert "torso_deg" not in load_tool("drift_report").drift_at(robot, ref, 0)


def test_foot_travel_counts_path_net_and_lift_on_upright_episodes():
    # one foot (row 1) over three frames: 0.3 m east, then 0.4 m north, lifted 5 cm in the
    # middle; path 0.7 m, net 0.5 m. Episode 1 (fallen) would add 10 m and is ignored.
    t = np.zeros((2, 3, 2, 3))
    t[0, :, 1] = [[0.0, 0.0, 0.05], [0.3, 0.0, 0.10], [0.3, 0.4, 0.05]]
    t[1, :, 1] = [[0.0, 0.0, 0.05], [10.0, 0.0, 0.05], [10.0, 0.0, 0.05]]
    r = load_tool("drift_report").foot_travel(t, [1], np.array([True, False]))
    assert r["path_mm"] == pytest.approx(700.0, abs=1e-6)
    assert r["net_mm"] == pytest.approx(500.0, abs=1e-6)
    assert r["lift_mm"] == pytest.approx(50.0, abs=1e-6)
    none = load_tool("drift_report").foot_travel(t, [1], np.array([False, False]))
    assert math.isnan(none["path_mm"])
