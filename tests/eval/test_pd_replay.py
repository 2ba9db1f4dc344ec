"""tools/pd_replay.py: the upright time of a PD replay (reference joints as targets, no policy)."""

from __future__ import annotations

import numpy as np
import pytest

from humimic.paths import REPO_ROOT
from tests.tool_module import load_tool


def test_upright_seconds_is_the_first_frame_beyond_half_a_metre():
    err = np.zeros((10, 3))
    err[4, 1] = 0.51  # frame 4 is the first with a body beyond 0.5 m
    err[6, 0] = 2.0
    assert load_tool("pd_replay").upright_seconds(err, 0.02) == pytest.approx(0.08)
    assert load_tool("pd_replay").upright_seconds(np.full((10, 3), 0.5), 0.02) == pytest.approx(0.2)


def test_the_pd_loop_alone_drops_the_shipped_crouch():
    # Ankle kp (~40 N m/rad) is far below m g h (~240 N m/rad): without a learned balance
    # controller the robot falls before the 1.3 s clip ends, but not at once.
    result = load_tool("pd_replay").replay(REPO_ROOT / "motions" / "cmu_01_01_crouch.npz", [])
    assert result["clip_s"] == pytest.approx(1.34, abs=0.03)
    assert 0.3 < result["upright_s"] < result["clip_s"]
