"""Format detection by extension and stored keys, and the read_human_motion entry point."""

from __future__ import annotations

import pickle
import zlib
from pathlib import Path

import numpy as np
import pytest

from humimic.errors import ConfigError, InputFileError
from humimic.motion.io.detect import detect_format, read_human_motion
from tests.motion.test_bvh import human_bvh

Z = np.zeros((2, 3))


def npz(path: Path, **arrays) -> Path:
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize(
    ("name", "arrays", "fmt"),
    [
        ("clip.npz", {"schema_version": 1, "joint_pos": Z, "body_pos_w": Z}, "humimic_clip"),
        ("bm.npz", {"joint_pos": Z, "body_pos_w": Z, "fps": 50}, "beyondmimic"),
        ("j.npz", {"joint_pos": Z, "joint_names": ["a"], "fps": 30}, "joints"),
        ("j2.npz", {"positions": Z, "joint_names": ["a"], "fps": 30}, "joints"),
        ("amass.npz", {"poses": Z, "trans": Z, "betas": Z}, "smpl"),
        ("amass_x.npz", {"root_orient": Z, "pose_body": Z, "trans": Z}, "smpl"),
        ("SMPLX_NEUTRAL.npz", {"v_template": Z, "shapedirs": Z, "J_regressor": Z}, "smpl_model"),
    ],
)
def test_npz_formats_by_keys(tmp_path: Path, name: str, arrays: dict, fmt: str) -> None:
    assert detect_format(npz(tmp_path / name, **arrays)) == fmt


def test_formats_by_extension_and_pickle_content(tmp_path: Path) -> None:
    for name, fmt in [("a.bvh", "bvh"), ("A.BVH", "bvh"), ("w.amc", "asf/amc"),
                      ("hmr4d_results.pt", "gvhmr"), ("dance.csv", "lafan_csv")]:  # fmt: skip
        (tmp_path / name).write_text("x")
        assert detect_format(tmp_path / name) == fmt
    motion = {"clip": {"root_trans_offset": Z, "dof": Z, "root_rot": Z, "fps": 30}}
    (tmp_path / "robot.pkl").write_bytes(pickle.dumps(motion))
    assert detect_format(tmp_path / "robot.pkl") == "pbhc_pkl"
    (tmp_path / "robot_z.pkl").write_bytes(zlib.compress(pickle.dumps(motion)))
    assert detect_format(tmp_path / "robot_z.pkl") == "pbhc_pkl"
    model = {"J_regressor": Z, "shapedirs": Z, "v_template": Z, "f": Z}
    (tmp_path / "SMPL_NEUTRAL.pkl").write_bytes(pickle.dumps(model, protocol=2))
    assert detect_format(tmp_path / "SMPL_NEUTRAL.pkl") == "smpl_model"


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("walk.fbx", b"Kaydara", "unknown motion format '.fbx'"),
        ("junk.npz", b"not a zip", "not a readable .npz"),
        ("other.pkl", pickle.dumps({"weights": 1}), "neither a robot motion"),
        ("junk.pkl", b"\x00\x01garbage", "not a readable pickle"),
    ],
)
def test_unknown_files_raise(tmp_path: Path, name: str, content: bytes, problem: str) -> None:
    (tmp_path / name).write_bytes(content)
    with pytest.raises(InputFileError, match=problem):
        detect_format(tmp_path / name)


def test_unknown_npz_keys_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match=r"unknown .npz content \(keys: a, b\)"):
        detect_format(npz(tmp_path / "x.npz", a=Z, b=Z))
    with pytest.raises(InputFileError, match="file not found"):
        detect_format(tmp_path / "absent.bvh")


def test_read_human_motion_dispatches_and_applies_skeleton_map(tmp_path: Path) -> None:
    (tmp_path / "m.bvh").write_text(human_bvh("y", 0.01))
    motion = read_human_motion(tmp_path / "m.bvh")
    assert motion.source_format == "bvh" and motion.canonical["head"] == "Head"
    yaml_file = tmp_path / "map.yaml"
    yaml_file.write_text("head: Neck\n")
    mapped = read_human_motion(tmp_path / "m.bvh", skeleton_map=yaml_file, unit_scale=0.01)
    assert mapped.canonical["head"] == "Neck" and mapped.meta["unit"] == "user"
    with pytest.raises(ConfigError, match=r"options \['fps'\] do not apply to bvh"):
        read_human_motion(tmp_path / "m.bvh", fps=30)
    out = npz(tmp_path / "j.npz", joint_names=motion.joint_names, joint_pos=motion.joint_pos_w,
              fps=motion.fps)  # fmt: skip
    assert read_human_motion(out).source_format == "joints"


def test_read_human_motion_rejects_robot_files_and_unknown_skeletons(tmp_path: Path) -> None:
    clip = npz(tmp_path / "clip.npz", schema_version=1)
    with pytest.raises(InputFileError, match="is a humimic_clip file, not human motion"):
        read_human_motion(clip)
    renamed = human_bvh("z", 0.01).replace("LeftForeArm", "LElbowThing")
    (tmp_path / "odd.bvh").write_text(renamed)
    with pytest.raises(InputFileError) as info:
        read_human_motion(tmp_path / "odd.bvh")
    first = str(info.value).splitlines()[0]
    assert "odd.bvh" in first and "['left_elbow']" in first
    yaml_file = tmp_path / "map.yaml"
    yaml_file.write_text("left_elbow: LElbowThing\n")
    fixed = read_human_motion(tmp_path / "odd.bvh", skeleton_map=yaml_file)
    assert fixed.canonical["left_elbow"] == "LElbowThing"


def test_read_human_motion_on_shared_files(shared_motions: Path) -> None:
    bvh = read_human_motion(shared_motions / "cmu" / "bvh" / "02_01.bvh")
    amc = read_human_motion(shared_motions / "cmu" / "asfamc" / "09_06-run.amc", fps=120.0)
    assert (bvh.source_format, bvh.num_frames) == ("bvh", 343)
    assert (amc.source_format, amc.num_frames) == ("asf/amc", 141)
    asf = shared_motions / "cmu" / "asfamc" / "09-run.asf"
    assert detect_format(asf) == "asf/amc"
    with pytest.raises(InputFileError, match=r"pass the \.amc"):
        read_human_motion(asf)
