"""ASF/AMC reader: a hand-made skeleton with a known answer, bad files, real CMU walks/runs."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from humimic.errors import InputFileError
from humimic.motion.io.asfamc import read_asf_amc
from tests.motion.test_bvh import check_plausible_human, toe_skate

ASF = """# hand-made
:version 1.10
:name test
:units
  mass 1.0
  length {length}
  angle {angle}
:root
   order TX TY TZ RX RY RZ
   axis XYZ
   position 0 0 0
   orientation 0 0 0
:bonedata
  begin
     id 1
     name a
     direction 1 0 0
     length 10
     axis 0 0 {quarter} XYZ
    dof rx
  end
  begin
     id 2
     name b
     direction 0 1 0
     length 5
     axis 0 0 0 XYZ
    dof rz
  end
:hierarchy
  begin
    root a
    a b
  end
"""
AMC = """#!OML:ASF test.asf
:FULLY-SPECIFIED
:DEGREES
1
root 1 2 3 0 0 0
a {a}
b {b}
"""


def write_pair(tmp_path: Path, length: float = 1.0, radians: bool = False) -> Path:
    angle = "rad" if radians else "deg"
    quarter = np.pi / 2 if radians else 90.0
    (tmp_path / "01-test.asf").write_text(ASF.format(length=length, angle=angle, quarter=quarter))
    amc = AMC.replace(":DEGREES\n", "" if radians else ":DEGREES\n")
    (tmp_path / "01_01-test.amc").write_text(amc.format(a=quarter, b=quarter))
    return tmp_path / "01_01-test.amc"


@pytest.mark.parametrize(("length", "radians"), [(1.0, False), (0.45, True)])
def test_hand_made_skeleton_has_known_positions(
    tmp_path: Path, length: float, radians: bool
) -> None:
    m = read_asf_amc(write_pair(tmp_path, length, radians), up_axis="y")
    assert m.joint_names == ["root", "a", "b", "b_end"]
    np.testing.assert_array_equal(m.parents, [-1, 0, 1, 2])
    # Bone a: C = Rz90, E = Rx90 -> G_a = C E C^-1 = Ry90; (10,0,0) -> (0,0,-10).
    # Bone b: G_b = G_a Rz90; (0,5,0) -> Rz90 (-5,0,0) -> Ry90 (0,0,5).
    # Joints sit at the bones' proximal ends; file frame is Y-up, (x,y,z) -> (x,-z,y) in z-up.
    file_pos = np.array([[1, 2, 3], [1, 2, 3], [1, 2, -7], [1, 2, -2]], dtype=float)
    expected = np.stack([file_pos[:, 0], -file_pos[:, 2], file_pos[:, 1]], axis=-1)
    np.testing.assert_allclose(m.joint_pos_w[0], expected * 0.0254 / length, atol=1e-12)
    assert m.meta["unit_scale"] == pytest.approx(0.0254 / length)
    # G_a = Ry(90) about the Y-up frame's up axis is Rz(90) in z-up.
    half = np.sqrt(0.5)
    np.testing.assert_allclose(m.joint_quat_w[0, 1], [half, 0, 0, half], atol=1e-12)


def test_asf_is_found_beside_the_amc(tmp_path: Path) -> None:
    amc = write_pair(tmp_path)
    assert read_asf_amc(amc, up_axis="y").meta["asf"] == str(tmp_path / "01-test.asf")
    (tmp_path / "01-test.asf").rename(tmp_path / "01.asf")
    assert read_asf_amc(amc, up_axis="y").meta["asf"] == str(tmp_path / "01.asf")
    shutil.copy(tmp_path / "01.asf", tmp_path / "01-other.asf")
    with pytest.raises(InputFileError, match="cannot pick the skeleton"):
        read_asf_amc(amc)
    for asf in tmp_path.glob("*.asf"):
        asf.unlink()
    with pytest.raises(InputFileError, match="found none"):
        read_asf_amc(amc)


def amc_error(tmp_path: Path, text: str) -> str:
    write_pair(tmp_path)
    amc = tmp_path / "01_01-test.amc"
    amc.write_text(text)
    with pytest.raises(InputFileError) as info:
        read_asf_amc(amc, up_axis="y")
    message = str(info.value)
    assert "\n" not in message and "01_01-test.amc" in message
    return message


def test_bad_amc_files_raise_one_line_errors(tmp_path: Path) -> None:
    good = AMC.format(a=10, b=20)
    two_frames = good + "2\nroot 1 2 3 0 0 0\na 11\nb 21\n"
    assert "truncated: frame 2" in amc_error(tmp_path, two_frames.rsplit("b 21", 1)[0])
    assert "has 2 values, expected 1" in amc_error(tmp_path, good.replace("a 10", "a 10 11"))
    assert "not a number" in amc_error(tmp_path, good.replace("a 10", "a ten"))
    assert "non-finite" in amc_error(tmp_path, good.replace("a 10", "a nan"))
    assert "not in the ASF" in amc_error(tmp_path, good.replace("a 10", "c 10"))
    assert "zero frames" in amc_error(tmp_path, ":FULLY-SPECIFIED\n:DEGREES\n")
    with pytest.raises(InputFileError, match="file not found"):
        read_asf_amc(tmp_path / "nothing.amc", tmp_path / "01-test.asf")


def test_bad_asf_raises(tmp_path: Path) -> None:
    amc = write_pair(tmp_path)
    asf = tmp_path / "01-test.asf"
    good = ASF.format(length=1, angle="deg", quarter=90)
    asf.write_text(good.replace("a b\n", "a zz\n"))
    with pytest.raises(InputFileError, match="without bonedata"):
        read_asf_amc(amc)
    asf.write_text(good.replace("length 10", "length ten"))
    with pytest.raises(InputFileError, match="cannot parse"):
        read_asf_amc(amc)
    asf.write_text(good.replace("    a b\n", "    a b\n    b a\n"))
    with pytest.raises(InputFileError, match="not a tree"):
        read_asf_amc(amc)


# --- the shared CMU files ---------------------------------------------------------------------

SHARED = {"07_05-walk.amc": 517, "09_06-run.amc": 141}  # frames, from shared/data/README.md


@pytest.mark.parametrize("name", sorted(SHARED))
def test_shared_cmu_asf_amc(shared_motions: Path, name: str) -> None:
    m = read_asf_amc(shared_motions / "cmu" / "asfamc" / name)
    assert (m.num_frames, m.fps, m.meta["up_axis"]) == (SHARED[name], 120.0, "y")
    assert m.meta["unit_scale"] == pytest.approx(0.056444, rel=1e-4)
    assert m.canonical["left_shoulder"] == "lhumerus" and m.canonical["left_hip"] == "lfemur"
    check_plausible_human(m, upright_fraction=0.99)
    pelvis = m.canonical_pos_w("pelvis")
    assert np.linalg.norm(pelvis[-1, :2] - pelvis[0, :2]) > 1.0


def test_cmu_walk_feet_alternate_and_stay_planted(shared_motions: Path) -> None:
    m = read_asf_amc(shared_motions / "cmu" / "asfamc" / "07_05-walk.amc")
    lower = np.sign(m.canonical_pos_w("left_ankle")[:, 2] - m.canonical_pos_w("right_ankle")[:, 2])
    lower = lower[:: int(m.fps // 10)]
    assert np.count_nonzero(np.diff(lower[lower != 0])) >= 3
    # C^-1 E C instead of C E C^-1, or the reversed Euler order, slide stance feet 0.3-0.5 m/s.
    assert toe_skate(m) < 0.2
