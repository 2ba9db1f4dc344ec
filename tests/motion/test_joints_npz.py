"""Joint-position npz: round trips, unit and up-axis conversion, bad files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from humimic.errors import InputFileError
from humimic.geometry import quat_np
from humimic.motion.io.bvh import read_bvh
from humimic.motion.io.joints_npz import read_joints_npz, write_joints_npz
from tests.motion.test_bvh import human_bvh

NAMES = ["pelvis", "left_hip", "left_knee"]


def save(path: Path, **arrays) -> Path:
    np.savez(path, **arrays)
    return path


def test_bvh_motion_round_trips(tmp_path: Path) -> None:
    (tmp_path / "m.bvh").write_text(human_bvh("y", 0.01))
    motion = read_bvh(tmp_path / "m.bvh")
    written = write_joints_npz(tmp_path / "out" / "m.npz", motion)
    assert sorted(p.name for p in written.parent.iterdir()) == ["m.npz"]  # no temp file left
    back = read_joints_npz(written)
    assert back.joint_names == motion.joint_names and back.canonical == motion.canonical
    np.testing.assert_array_equal(back.parents, motion.parents)
    np.testing.assert_array_equal(back.joint_pos_w, motion.joint_pos_w)
    np.testing.assert_array_equal(back.joint_quat_w, motion.joint_quat_w)
    assert back.fps == motion.fps and back.source_format == "joints"


def test_y_up_centimetres_are_converted(tmp_path: Path) -> None:
    pos = np.zeros((2, 3, 3))
    pos[:, 0] = [10.0, 90.0, -20.0]  # Y-up cm: x=0.1 m, up 0.9 m, z=-0.2 m (-> y=+0.2)
    m = read_joints_npz(save(tmp_path / "a.npz", joint_names=NAMES, positions=pos, fps=30,
                             up_axis="y", unit="cm"))  # fmt: skip
    np.testing.assert_allclose(m.joint_pos_w[:, 0], [[0.1, 0.2, 0.9]] * 2)
    np.testing.assert_array_equal(m.parents, [-1, -1, -1])
    assert m.canonical["pelvis"] == "pelvis" and m.joint_quat_w is None


def test_y_up_quaternions_are_conjugated(tmp_path: Path) -> None:
    quat = np.tile(quat_np.from_axis_angle([0.0, 1.0, 0.0], np.pi / 2), (1, 3, 1))
    m = read_joints_npz(save(tmp_path / "q.npz", joint_names=NAMES, joint_pos=np.zeros((1, 3, 3)),
                             fps=30, up_axis="y", joint_quat=quat))  # fmt: skip
    expected = quat_np.from_axis_angle([0.0, 0.0, 1.0], np.pi / 2)  # about Y-up's up = z
    assert np.all(quat_np.angle_between(m.joint_quat_w, expected) < 1e-9)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"fps": None}, "missing key 'fps'"),
        ({"joint_pos": np.zeros((2, 4, 3))}, "expected (T, 3, 3)"),
        ({"joint_pos": np.zeros((0, 3, 3))}, "zero frames"),
        ({"joint_pos": np.full((2, 3, 3), np.nan)}, "non-finite"),
        ({"unit": "ft"}, "unit must be"),
        ({"up_axis": "x"}, "up_axis must be"),
        ({"parents": np.array([-1, 2, 0])}, "parents must be"),
        ({"fps": -1.0}, "fps must be positive"),
    ],
)
def test_bad_files(tmp_path: Path, change: dict, problem: str) -> None:
    arrays = {"joint_names": NAMES, "joint_pos": np.zeros((2, 3, 3)), "fps": 30.0, **change}
    path = save(tmp_path / "bad.npz", **{k: v for k, v in arrays.items() if v is not None})
    with pytest.raises(InputFileError) as info:
        read_joints_npz(path)
    assert problem in str(info.value) and str(path) in str(info.value)


def test_missing_and_corrupt_files(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="file not found"):
        read_joints_npz(tmp_path / "absent.npz")
    (tmp_path / "junk.npz").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(InputFileError, match="not a readable"):
        read_joints_npz(tmp_path / "junk.npz")
