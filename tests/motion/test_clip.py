"""The clip file contract: round trip, validation and atomic writes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from humimic.errors import HumimicError, InputFileError
from humimic.files import atomic_write
from humimic.motion.clip import RobotClip, load_clip, report_path_for, save_clip


def make_clip(num_frames: int = 5) -> RobotClip:
    """A small valid clip with two joints and two bodies."""
    t = np.arange(num_frames, dtype=np.float64)
    quat = np.tile([1.0, 0.0, 0.0, 0.0], (num_frames, 1))
    return RobotClip(
        robot="g1",
        variant="g1_29dof",
        fps=50.0,
        joint_names=["a_joint", "b_joint"],
        body_names=["pelvis", "foot"],
        root_pos_w=np.stack([t * 0.02, 0 * t, 0.8 + 0 * t], axis=1),
        root_quat_w=quat,
        joint_pos=np.stack([0.1 * t, -0.1 * t], axis=1),
        joint_vel=np.full((num_frames, 2), 5.0),
        body_pos_w=np.zeros((num_frames, 2, 3)),
        body_quat_w=np.tile(quat[:, None], (1, 2, 1)),
        body_lin_vel_w=np.zeros((num_frames, 2, 3)),
        body_ang_vel_w=np.zeros((num_frames, 2, 3)),
        contact_mask=np.ones((num_frames, 2)),
        report={"verdict": "pass", "reasons": []},
    )


def test_round_trip_keeps_every_field(tmp_path: Path) -> None:
    clip = make_clip()
    path = save_clip(clip, tmp_path / "c.npz")
    loaded = load_clip(path)
    assert loaded.joint_names == clip.joint_names and loaded.body_names == clip.body_names
    np.testing.assert_array_equal(loaded.joint_pos, clip.joint_pos)
    np.testing.assert_array_equal(loaded.root_pos_w, clip.root_pos_w)
    assert loaded.fps == 50.0 and loaded.report["verdict"] == "pass"
    assert report_path_for(path).read_text().strip().startswith("{")
    assert loaded.duration_s == pytest.approx(4 / 50.0)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("joint_pos", np.full((5, 2), np.nan), "joint_pos contains NaN"),
        ("joint_pos", np.zeros((5, 3)), "joint_pos has shape (5, 3)"),
        ("joint_pos", np.full((5, 2), 90.0), "wrong units"),
        ("root_quat_w", np.tile([2.0, 0, 0, 0], (5, 1)), "not unit-norm"),
        ("contact_mask", np.full((5, 2), 0.5), "0 or 1"),
    ],
)
def test_invalid_clip_is_refused_with_the_reason(
    tmp_path: Path, field: str, value: np.ndarray, message: str
) -> None:
    clip = make_clip()
    setattr(clip, field, value)
    with pytest.raises(InputFileError, match=message.replace("(", r"\(").replace(")", r"\)")):
        save_clip(clip, tmp_path / "bad.npz")
    assert not list(tmp_path.iterdir()), "nothing may be written for an invalid clip"


def test_load_rejects_missing_corrupt_and_foreign_files(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="file not found"):
        load_clip(tmp_path / "none.npz")
    corrupt = tmp_path / "corrupt.npz"
    corrupt.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(InputFileError, match="not a readable"):
        load_clip(corrupt)
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, joint_pos=np.zeros((3, 2)))
    with pytest.raises(InputFileError, match="not a humimic clip"):
        load_clip(foreign)


def test_atomic_write_leaves_nothing_when_the_writer_fails(tmp_path: Path) -> None:
    def failing(tmp: Path) -> None:
        tmp.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(tmp_path / "out.txt", failing)
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_names_an_unwritable_folder(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(HumimicError, match="cannot write output"):
        atomic_write(blocker / "sub" / "out.txt", lambda t: t.write_text("x"))
