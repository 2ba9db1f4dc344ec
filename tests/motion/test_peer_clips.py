"""PBHC / ASAP robot clips as their tools write them: joblib pickles, 0.5 contact padding,
floating roots."""

from __future__ import annotations

from pathlib import Path

import joblib
import mujoco
import numpy as np
import pytest

from humimic.config.store import compose
from humimic.errors import HumimicError, InputFileError
from humimic.motion.io.detect import detect_format
from humimic.motion.io.robot_formats import read_pbhc_pkl
from humimic.motion.pipeline import ClipMaker, InputOptions
from humimic.robot.model import build_model
from humimic.robot.spec import load_robot_spec

VARIANT = "g1_23dof_lock_wrist"
FPS = 30
T = 40


@pytest.fixture(scope="module")
def maker() -> ClipMaker:
    return ClipMaker(compose("retarget", []))


def pbhc_motion(lift_m: float = 0.0, contact: np.ndarray | None = None) -> dict:
    """A PBHC-layout motion: the G1 standing in its default pose, swaying its arms."""
    spec = load_robot_spec(VARIANT)
    dof = np.tile(np.asarray(spec.default_joint_pos, np.float32), (T, 1))
    arm = spec.joint_names.index("left_shoulder_pitch_joint")
    dof[:, arm] = 0.3 * np.sin(np.linspace(0, np.pi, T))
    root = np.tile([0.1, -0.2, spec.default_root_height + lift_m], (T, 1)).astype(np.float32)
    root_rot_xyzw = np.tile([0.0, 0.0, 0.0, 1.0], (T, 1)).astype(np.float32)
    return {
        "root_trans_offset": root,
        "pose_aa": np.zeros((T, 27, 3), np.float32),  # raw arrays before the keys that matter
        "dof": dof,
        "root_rot": root_rot_xyzw,
        "smpl_joints": np.zeros((T, 24, 3), np.float32),
        "fps": FPS,
        "contact_mask": np.ones((T, 2), np.float32) if contact is None else contact,
    }


def dump(tmp_path: Path, motion: dict, name: str = "clip.pkl", **kwargs) -> Path:
    path = tmp_path / name
    joblib.dump({"Horse-stance_pose_inter0.5_S0-30_E40-30": motion}, path, **kwargs)
    return path


def lowest_sole_z(clip) -> float:
    """Lowest foot-geom bottom over the clip, from MuJoCo directly (spheres, capsules)."""
    spec = load_robot_spec(VARIANT)
    model = build_model(spec)
    data = mujoco.MjData(model)
    gids = [model.geom(n).id for side in ("left", "right") for n in spec.foot_geoms[side]]
    lowest = np.inf
    for t in range(clip.num_frames):
        data.qpos[:3], data.qpos[3:7] = clip.root_pos_w[t], clip.root_quat_w[t]
        for j, name in enumerate(clip.joint_names):
            data.qpos[model.jnt_qposadr[model.joint(name).id]] = clip.joint_pos[t, j]
        mujoco.mj_kinematics(model, data)
        for g in gids:
            radius, half = model.geom_size[g][:2]
            if model.geom_type[g] == mujoco.mjtGeom.mjGEOM_SPHERE:
                half = 0.0
            else:
                assert model.geom_type[g] == mujoco.mjtGeom.mjGEOM_CAPSULE
            axis_z = data.geom_xmat[g].reshape(3, 3)[2, 2]  # z of the capsule's axis
            lowest = min(lowest, data.geom_xpos[g][2] - abs(axis_z) * half - radius)
    return float(lowest)


@pytest.mark.parametrize("compress", [0, 3])
def test_joblib_pickle_is_detected_and_imported(tmp_path: Path, compress: int) -> None:
    motion = pbhc_motion()
    path = dump(tmp_path, motion, compress=compress)
    # joblib writes the arrays' raw bytes between opcodes: the scan must skip them
    assert detect_format(path) == "pbhc_pkl"
    clip = read_pbhc_pkl(path, VARIANT, trust_pickle=True)
    np.testing.assert_allclose(clip.joint_pos, motion["dof"], atol=1e-7)  # same 23-DoF order
    np.testing.assert_allclose(clip.root_quat_w, np.tile([1.0, 0, 0, 0], (T, 1)), atol=1e-7)
    np.testing.assert_allclose(clip.root_pos_w[:, :2], motion["root_trans_offset"][:, :2])


def test_joblib_pickle_refused_without_trust(tmp_path: Path, maker: ClipMaker) -> None:
    path = dump(tmp_path, pbhc_motion())
    with pytest.raises(HumimicError, match=r"refusing to load a pickle.*--trust-pickle"):
        maker.run(path, tmp_path / "out.npz", InputOptions(trust_pickle=False))
    assert not (tmp_path / "out.npz").exists()


def test_unreadable_joblib_layout_asks_for_trust(tmp_path: Path) -> None:
    # a pickle whose arrays the scan cannot step over: detection must not claim to know
    path = dump(tmp_path, {"weights": np.zeros((3, 3))})
    raw = path.read_bytes()
    cut = tmp_path / "cut.pkl"
    cut.write_bytes(raw[: len(raw) - 20])  # truncated inside the array data
    with pytest.raises(HumimicError, match="--trust-pickle"):
        detect_format(cut)
    # trusted, it is loaded to look inside: a truncated file says so in one line
    with pytest.raises(InputFileError, match="not a readable pickle") as info:
        detect_format(cut, trust_pickle=True)
    assert "\n" not in str(info.value) and str(cut) in str(info.value)


def test_pbhc_contact_padding_is_unknown_not_airborne(tmp_path: Path) -> None:
    contact = np.ones((T, 2), np.float32)
    contact[:10] = 0.5  # PBHC's blend-in padding; the robot stands on both feet there
    contact[-5:, 1] = 0.0  # a real "no contact" label stays
    clip = read_pbhc_pkl(dump(tmp_path, pbhc_motion(contact=contact)), VARIANT, trust_pickle=True)
    np.testing.assert_array_equal(clip.contact_mask[:10], 1.0)
    np.testing.assert_array_equal(clip.contact_mask[-5:, 1], 0.0)
    assert clip.settings["contact_recomputed_frames"] == 10


def test_floating_clip_is_grounded_and_the_report_says_so(tmp_path: Path, maker: ClipMaker) -> None:
    standing = read_pbhc_pkl(dump(tmp_path, pbhc_motion(), "a.pkl"), VARIANT, trust_pickle=True)
    clearance = lowest_sole_z(standing)  # the default pose stands a little up; kept as is
    assert 0.0 < clearance < 0.02 and "grounded_by_m" not in standing.settings
    path = dump(tmp_path, pbhc_motion(lift_m=0.09), "asap.pkl")  # ASAP: 5-13 cm up
    outcome = maker.run(path, tmp_path / "asap.npz", InputOptions(trust_pickle=True))
    from humimic.motion.clip import load_clip

    clip = load_clip(tmp_path / "asap.npz")
    assert abs(lowest_sole_z(clip)) < 1e-3  # soles on z = 0
    np.testing.assert_allclose(clip.settings["grounded_by_m"], -(0.09 + clearance), atol=2e-4)
    notes = clip.report["source"]["notes"]
    assert any(n.startswith("grounded: lowered by") for n in notes), notes
    assert outcome.verdict in ("pass", "warn", "fail")
