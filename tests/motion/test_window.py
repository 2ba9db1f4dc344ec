"""Cutting a time window out of a source motion (``normalize.start_s`` / ``end_s``)."""

from __future__ import annotations

import numpy as np
import pytest

from humimic.errors import ConfigError
from humimic.motion.normalize import NormalizeCfg, normalize, select_window
from tests.motion.test_normalize import line_motion


def test_window_keeps_the_frames_inside_it() -> None:
    src = line_motion(120, 100.0)  # frames at 0.00, 0.01, ..., 1.19 s
    out = select_window(src, 0.25, 0.5)
    assert out.num_frames == 26  # 0.25 .. 0.50 s inclusive
    np.testing.assert_array_equal(out.joint_pos_w, src.joint_pos_w[25:51])
    assert select_window(src, 0.0, None) is src
    assert select_window(src, 1.0, None).num_frames == 20


def test_normalize_applies_the_window_before_grounding() -> None:
    src = line_motion(120, 100.0)  # pelvis x = 2·t, z rises 0.3 m/s
    out, report = normalize(src, NormalizeCfg(target_fps=100.0, start_s=0.5, end_s=1.0))
    assert out.num_frames == 51
    assert report["frames_in"] == 120 and report["window_s"] == [0.5, 1.0]
    # The clip now starts at the old 0.5 s frame, centred and grounded from there.
    np.testing.assert_allclose(out.joint_pos_w[0, 0, :2], [0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(out.joint_pos_w[-1, 0, 0], 2.0 * 0.5, atol=1e-9)


@pytest.mark.parametrize(
    ("start", "end", "needle"),
    [(-1.0, None, "start_s must be >= 0"), (2.0, 1.0, "must be after")],
)
def test_bad_windows_name_the_option(start: float, end: float | None, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        NormalizeCfg(start_s=start, end_s=end)


def test_a_window_outside_the_motion_is_refused() -> None:
    with pytest.raises(ConfigError, match="fewer than two frames"):
        select_window(line_motion(50, 100.0), 3.0, 4.0)
