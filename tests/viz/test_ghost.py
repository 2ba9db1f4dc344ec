"""The reference ghost: drawn in the robot's scene, in its own colour, and encoded to MP4."""

from __future__ import annotations

import os

# MuJoCo picks its GL backend when first imported; choose EGL (as render.py does) before that.
if "MUJOCO_GL" not in os.environ and not os.environ.get("DISPLAY"):
    os.environ["MUJOCO_GL"] = "egl"

import imageio.v2 as imageio
import numpy as np
import pytest

from humimic.errors import HumimicError
from humimic.robot.model import build_model, default_qpos
from humimic.robot.spec import load_robot_spec
from humimic.viz.ghost import ghost_frames, render_with_ghost
from humimic.viz.render import render_qpos_sequence

WIDTH, HEIGHT = 320, 240


@pytest.fixture(scope="module")
def g1():
    spec = load_robot_spec("g1_23dof_lock_wrist")
    model = build_model(spec)
    qpos = np.tile(default_qpos(model, spec), (3, 1))
    qpos[:, 0] += 0.02 * np.arange(3)  # walk forward a little so frames differ
    ghost = qpos.copy()
    ghost[:, 1] += 0.5  # reference 0.5 m to the side
    return model, qpos, ghost


def orange_pixels(image: np.ndarray) -> np.ndarray:
    """Pixels where red clearly dominates (the ghost is orange; the scene is grey and blue)."""
    rgb = image.astype(int)
    return (rgb[..., 0] - rgb[..., 2] > 40) & (rgb[..., 0] > rgb[..., 1] + 15)


def test_ghost_is_drawn_in_its_colour(g1):
    model, qpos, ghost = g1
    plain = list(ghost_frames(model, qpos, None, width=WIDTH, height=HEIGHT))
    with_ghost = list(ghost_frames(model, qpos, ghost, width=WIDTH, height=HEIGHT))
    assert len(plain) == len(with_ghost) == 3
    for a, b in zip(plain, with_ghost):
        assert a.shape == b.shape == (HEIGHT, WIDTH, 3)
        changed = np.abs(b.astype(int) - a.astype(int)).sum(axis=-1) > 30
        assert changed.sum() > 500  # a whole robot's worth of pixels
        assert orange_pixels(b).sum() > 500
        assert orange_pixels(a).sum() < 20
        assert (orange_pixels(b) & changed).sum() > 0.5 * orange_pixels(b).sum()


def test_no_ghost_matches_plain_render(g1):
    model, qpos, _ = g1
    plain = next(render_qpos_sequence(model, qpos[:1], width=WIDTH, height=HEIGHT))
    mine = next(ghost_frames(model, qpos[:1], None, width=WIDTH, height=HEIGHT))
    np.testing.assert_array_equal(plain, mine)


def test_video_has_one_frame_per_pose(g1, tmp_path):
    model, qpos, ghost = g1
    path = render_with_ghost(
        model, qpos, ghost, 30.0, tmp_path / "v.mp4", width=WIDTH, height=HEIGHT
    )
    assert path == tmp_path / "v.mp4"
    assert [p.name for p in tmp_path.iterdir()] == ["v.mp4"]  # no temporary left behind
    with imageio.get_reader(path, format="FFMPEG") as reader:
        frames = list(reader.iter_data())
        assert reader.count_frames() == 3
    assert len(frames) == 3
    assert frames[0].shape == (HEIGHT, WIDTH, 3)
    assert orange_pixels(frames[0]).sum() > 500  # the ghost survives encoding


def test_bad_shapes_are_rejected(g1, tmp_path):
    model, qpos, ghost = g1
    with pytest.raises(HumimicError, match="ghost_qpos"):
        next(ghost_frames(model, qpos, ghost[:2]))
    with pytest.raises(HumimicError, match="qpos"):
        next(ghost_frames(model, qpos[:, :-1], None))
    with pytest.raises(HumimicError, match="fps"):
        render_with_ghost(model, qpos, ghost, 0.0, tmp_path / "x.mp4")
    assert not (tmp_path / "x.mp4").exists()
