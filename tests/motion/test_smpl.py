"""SMPL-family readers through the real smplx package, on synthetic body-model files."""

from __future__ import annotations

import pickle
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse
import smplx
import torch

from humimic.errors import HumimicError, InputFileError
from humimic.geometry import quat_np
from humimic.motion.io.gvhmr import CHECKPOINTS, check_gvhmr, run_gvhmr
from humimic.motion.io.smpl import (
    SMPL_JOINT_NAMES,
    convert_smpl_pkl,
    read_gvhmr,
    read_smpl_npz,
)
from tests.motion.body_model_fixture import (
    build_body_model,
    fixture_boxes,
    skeleton,
    write_fake_body_model,
)

REST = {name: np.array(pos) for name, _, pos in skeleton("smpl")}
POSE_WIDTH = {"smpl": 72, "smplh": 156, "smplx": 165}


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder with synthetic SMPL, SMPL-H and SMPL-X neutral models."""
    root = tmp_path_factory.mktemp("body_models")
    for kind in ("smpl", "smplh", "smplx"):
        write_fake_body_model(root, kind)
    return root


@pytest.fixture(scope="module", autouse=True)
def _one_thread() -> Iterator[None]:
    """One torch thread: small batches gain nothing from two, and the CPU is shared."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Converted .pkl files go to a scratch cache, never to ~/.cache."""
    monkeypatch.setenv("HUMIMIC_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
    monkeypatch.delenv("HUMIMIC_BODY_MODELS", raising=False)


def _write_npz(path: Path, **arrays: object) -> Path:
    np.savez(path, **arrays)
    return path


def _amass(path: Path, poses: np.ndarray, trans: np.ndarray, **extra: object) -> Path:
    fields = {"betas": np.zeros(16), "gender": np.array("neutral"), "mocap_framerate": 120.0}
    fields.update(extra)
    return _write_npz(path, poses=poses, trans=trans, **fields)


def _rot_y(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


@pytest.mark.parametrize("kind", ["smplh", "smplx"])
def test_zero_pose_pelvis_follows_trans(models: Path, tmp_path: Path, kind: str) -> None:
    """Pelvis = rest pelvis + trans on every frame, across a batch boundary (130 > 128)."""
    t_len = 130
    trans = np.stack([np.linspace(0, 2, t_len), np.sin(np.arange(t_len)), np.full(t_len, 0.9)], 1)
    path = _amass(tmp_path / "m.npz", np.zeros((t_len, POSE_WIDTH[kind])), trans)
    motion = read_smpl_npz(path, body_models=models)
    assert motion.meta["model_type"] == kind
    assert motion.joint_names == list(SMPL_JOINT_NAMES)
    np.testing.assert_allclose(motion.joint_pos_w[:, 0], REST["pelvis"] + trans, atol=1e-5)
    # Independent forward pass of the same file through smplx itself.
    ref = smplx.create(str(models), model_type=kind, use_pca=False, flat_hand_mean=True,
                       batch_size=t_len)  # fmt: skip
    with torch.no_grad():
        out = ref(transl=torch.tensor(trans, dtype=torch.float32))
    np.testing.assert_allclose(motion.joint_pos_w, out.joints[:, :22].numpy(), atol=1e-5)
    np.testing.assert_allclose(np.abs(motion.joint_quat_w[..., 0]), 1.0, atol=1e-12)


def test_sixteen_betas_all_reach_the_model(tmp_path: Path) -> None:
    """AMASS SMPL+H uses 16 betas; smplx alone would keep 10. Beta 12 stretches x by 0.6 %."""
    root = tmp_path / "models"
    write_fake_body_model(root, "smplh", num_betas=16)
    betas = np.zeros(16)
    betas[12] = 2.0
    path = _amass(tmp_path / "m.npz", np.zeros((1, 156)), np.zeros((1, 3)), betas=betas)
    motion = read_smpl_npz(path, body_models=root)
    assert motion.meta["betas_used"] == 16
    knee = REST["left_knee"].copy()
    # Fixture basis: component 12 moves x by 0.03 / (1 + 12 // 3) * (x - pelvis x) per unit.
    knee[0] += 2.0 * 0.03 / 5 * (knee[0] - REST["pelvis"][0])
    np.testing.assert_allclose(motion.joint_pos_w[0, motion.index("left_knee")], knee, atol=1e-6)


def test_rotating_elbow_moves_wrist_as_hand_computed(models: Path, tmp_path: Path) -> None:
    """Left elbow +90° about y (rest frame) swings the wrist; root yaw then turns everything."""
    poses = np.zeros((2, 72))
    elbow = SMPL_JOINT_NAMES.index("left_elbow")
    poses[:, 3 * elbow + 1] = np.pi / 2
    poses[1, 1] = np.pi / 2  # frame 1: also the root, +90° about y
    path = _amass(tmp_path / "m.npz", poses, np.zeros((2, 3)))
    motion = read_smpl_npz(path, body_models=models)
    wrist = motion.index("left_wrist")
    arm = REST["left_wrist"] - REST["left_elbow"]
    expected0 = REST["left_elbow"] + _rot_y(np.pi / 2) @ arm
    np.testing.assert_allclose(motion.joint_pos_w[0, wrist], expected0, atol=1e-5)
    pelvis = REST["pelvis"]
    expected1 = pelvis + _rot_y(np.pi / 2) @ (REST["left_elbow"] - pelvis + _rot_y(np.pi / 2) @ arm)
    np.testing.assert_allclose(motion.joint_pos_w[1, wrist], expected1, atol=1e-5)
    q = motion.joint_quat_w[:, wrist]
    np.testing.assert_allclose(quat_np.to_matrix(q[0]), _rot_y(np.pi / 2), atol=1e-12)
    np.testing.assert_allclose(quat_np.to_matrix(q[1]), _rot_y(np.pi), atol=1e-12)
    # The right wrist did not move.
    right = motion.index("right_wrist")
    np.testing.assert_allclose(motion.joint_pos_w[0, right], REST["right_wrist"], atol=1e-5)


def _gvhmr_file(path: Path, t_len: int, transl: np.ndarray) -> Path:
    params = {
        "body_pose": torch.zeros(t_len, 63),
        "global_orient": torch.zeros(t_len, 3),
        "transl": torch.tensor(transl, dtype=torch.float32),
        "betas": torch.zeros(t_len, 10),
    }
    torch.save({"smpl_params_global": params, "smpl_params_incam": params}, path)
    return path


def test_gvhmr_y_up_becomes_z_up(models: Path, tmp_path: Path) -> None:
    transl = np.tile([0.3, 0.9, -1.0], (4, 1))
    motion = read_gvhmr(_gvhmr_file(tmp_path / "hmr4d_results.pt", 4, transl), body_models=models)
    assert motion.fps == 30.0
    assert motion.meta["model_type"] == "smplx"
    pelvis = motion.canonical_pos_w("pelvis")
    head = motion.canonical_pos_w("head")
    # +90° about x maps (x, y, z) to (x, -z, y): y-up height becomes z.
    expected_pelvis = REST["pelvis"] + transl
    expected_pelvis = np.stack([expected_pelvis[:, 0], -expected_pelvis[:, 2],
                                expected_pelvis[:, 1]], 1)  # fmt: skip
    np.testing.assert_allclose(pelvis, expected_pelvis, atol=1e-5)
    np.testing.assert_allclose(head[:, 2] - pelvis[:, 2], REST["head"][1] - REST["pelvis"][1],
                               atol=1e-5)  # fmt: skip
    # Orientations carry the frame change: the pelvis y axis (up in y-up) points along +z.
    up = quat_np.rotate(motion.joint_quat_w[:, 0], np.array([0.0, 1.0, 0.0]))
    np.testing.assert_allclose(up, np.tile([0.0, 0.0, 1.0], (4, 1)), atol=1e-12)


@pytest.mark.parametrize(("key", "rate"), [("mocap_framerate", 120.0), ("mocap_frame_rate", 60.0)])
def test_frame_rate_keys(models: Path, tmp_path: Path, key: str, rate: float) -> None:
    path = _write_npz(tmp_path / "m.npz", poses=np.zeros((2, 72)), trans=np.zeros((2, 3)),
                      **{key: np.array(rate)})  # fmt: skip
    assert read_smpl_npz(path, body_models=models).fps == rate


def test_missing_frame_rate_is_an_input_error(models: Path, tmp_path: Path) -> None:
    path = _write_npz(tmp_path / "m.npz", poses=np.zeros((2, 72)), trans=np.zeros((2, 3)))
    with pytest.raises(InputFileError, match="frame rate"):
        read_smpl_npz(path, body_models=models)
    assert read_smpl_npz(path, body_models=models, fps=50.0).fps == 50.0


def test_gender_as_bytes_selects_the_gendered_file(tmp_path: Path) -> None:
    root = tmp_path / "models"
    write_fake_body_model(root, "smpl", gender="female")
    path = _amass(tmp_path / "f.npz", np.zeros((1, 72)), np.zeros((1, 3)),
                  gender=np.array(b"female"))  # fmt: skip
    motion = read_smpl_npz(path, body_models=root)
    assert Path(str(motion.meta["model_file"])).name == "SMPL_FEMALE.pkl"
    male = _amass(tmp_path / "m.npz", np.zeros((1, 72)), np.zeros((1, 3)), gender=b"male")
    with pytest.raises(HumimicError, match=r"SMPL_MALE\.pkl"):
        read_smpl_npz(male, body_models=root)


def test_missing_model_file_error_names_path_in_one_line(tmp_path: Path) -> None:
    path = _amass(tmp_path / "m.npz", np.zeros((1, 165)), np.zeros((1, 3)))
    with pytest.raises(HumimicError) as info:
        read_smpl_npz(path, body_models=tmp_path / "none")
    message = str(info.value)
    assert "\n" not in message
    assert str(tmp_path / "none" / "smplx" / "SMPLX_NEUTRAL.npz") in message
    assert "smpl-x.is.tue.mpg.de" in message


def test_nan_in_poses_is_an_input_error(models: Path, tmp_path: Path) -> None:
    poses = np.zeros((5, 156))
    poses[3, 10] = np.nan
    path = _amass(tmp_path / "m.npz", poses, np.zeros((5, 3)))
    with pytest.raises(InputFileError, match=r"'poses' at frame 3"):
        read_smpl_npz(path, body_models=models)


def _box_centroid() -> np.ndarray:
    """Volume centroid of the fixture mesh, from the box list alone."""
    vols = np.array([np.prod(hi - lo) for _, lo, hi in fixture_boxes()])
    centres = np.array([(hi + lo) / 2 for _, lo, hi in fixture_boxes()])
    return (vols[:, None] * centres).sum(0) / vols.sum()


def test_com_of_symmetric_rest_mesh(models: Path, tmp_path: Path) -> None:
    """Rest pose: CoM on the x = 0 mirror plane and equal to the box-volume centroid."""
    poses = np.zeros((2, 165))
    poses[1, :3] = [0.3, -1.1, 0.4]  # frame 1: rigidly rotated about the pelvis
    trans = np.array([[0.0, 0.0, 0.0], [1.0, 2.0, 0.5]])
    motion = read_smpl_npz(_amass(tmp_path / "m.npz", poses, trans), body_models=models)
    com = motion.com_w
    assert com is not None
    assert abs(com[0, 0]) < 1e-7
    np.testing.assert_allclose(com[0], _box_centroid(), atol=1e-6)
    rot = quat_np.to_matrix(quat_np.from_rotvec(poses[1, :3]))
    pelvis = REST["pelvis"]
    np.testing.assert_allclose(com[1], pelvis + rot @ (com[0] - pelvis) + trans[1], atol=1e-5)


def test_ground_points_reach_the_soles(models: Path, tmp_path: Path) -> None:
    """AMASS-style standing (root +90° about x): lowest ground point is the sole height."""
    poses = np.zeros((1, 72))
    poses[0, 0] = np.pi / 2
    motion = read_smpl_npz(_amass(tmp_path / "m.npz", poses, np.zeros((1, 3))), body_models=models)
    ground = motion.ground_points_w
    assert ground is not None and 400 <= ground.shape[1] <= 600
    sole_y = min(lo[1] for _, lo, _ in fixture_boxes())
    pelvis = REST["pelvis"]
    assert ground[0, :, 2].min() == pytest.approx(sole_y - pelvis[1] + pelvis[2], abs=1e-5)


def test_split_keys_and_y_up_flag_match_poses(models: Path, tmp_path: Path) -> None:
    """AMASS SMPL-X G split keys give the same joints as ``poses``; ``up_axis='y'`` rotates."""
    rng = np.random.default_rng(1)
    poses = rng.normal(scale=0.3, size=(3, 165))
    trans = rng.normal(size=(3, 3))
    full = read_smpl_npz(_amass(tmp_path / "a.npz", poses, trans), body_models=models)
    split = _write_npz(
        tmp_path / "b.npz", root_orient=poses[:, :3], pose_body=poses[:, 3:66],
        pose_jaw=poses[:, 66:69], pose_eye=poses[:, 69:75], pose_hand=poses[:, 75:],
        trans=trans, betas=np.zeros(16), gender=np.array("neutral"),
        surface_model_type=np.array("smplx"), mocap_frame_rate=np.array(30.0),
    )  # fmt: skip
    other = read_smpl_npz(split, body_models=models)
    np.testing.assert_allclose(other.joint_pos_w, full.joint_pos_w, atol=1e-6)
    yup = read_smpl_npz(_amass(tmp_path / "a.npz", poses, trans), body_models=models, up_axis="y")
    np.testing.assert_allclose(yup.joint_pos_w, full.joint_pos_w @ quat_np.Y_UP_TO_Z_UP.T,
                               atol=1e-9)  # fmt: skip


class _FakeCh:
    """Pickles like a chumpy ``Ch``: class path ``chumpy.ch.Ch``, state dict with ``x``."""

    def __init__(self, x: np.ndarray) -> None:
        self.x = x
        self._dirty_vars: set[str] = set()
        self._itr = None


_FakeCh.__module__ = "chumpy.ch"
_FakeCh.__qualname__ = _FakeCh.__name__ = "Ch"


def _chumpy_pickle(
    path: Path, data: dict, monkeypatch: pytest.MonkeyPatch, protocol: int = 2
) -> Path:
    """Write ``data`` the way SMPL 1.x stores it: Ch arrays, sparse J_regressor, protocol 2."""
    chumpy = types.ModuleType("chumpy")
    ch_module = types.ModuleType("chumpy.ch")
    ch_module.Ch = _FakeCh  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "chumpy", chumpy)
    monkeypatch.setitem(sys.modules, "chumpy.ch", ch_module)
    wrapped = dict(data)
    for key in ("v_template", "shapedirs", "posedirs", "weights"):
        wrapped[key] = _FakeCh(data[key])
    wrapped["J_regressor"] = scipy.sparse.csc_matrix(data["J_regressor"])
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        pickle.dump(wrapped, fh, protocol=protocol)
    monkeypatch.delitem(sys.modules, "chumpy.ch")
    monkeypatch.delitem(sys.modules, "chumpy")
    return path


@pytest.mark.parametrize("protocol", [0, 2])
def test_chumpy_pickle_loads_without_chumpy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, protocol: int
) -> None:
    data = build_body_model("smpl")
    root = tmp_path / "models"
    src = _chumpy_pickle(root / "smpl" / "SMPL_NEUTRAL.pkl", data, monkeypatch, protocol)
    assert "chumpy" not in sys.modules
    with pytest.raises(ModuleNotFoundError):
        pickle.loads(src.read_bytes())  # a plain load needs chumpy
    out = convert_smpl_pkl(src, tmp_path / "plain.pkl")
    with open(out, "rb") as fh:
        plain = pickle.load(fh)
    for key in ("v_template", "shapedirs", "posedirs", "weights", "J_regressor", "f"):
        assert type(plain[key]) is np.ndarray
        np.testing.assert_array_equal(plain[key], data[key])
    # The reader converts transparently, into the cache, leaving the user's folder alone.
    before = sorted(p.name for p in (root / "smpl").iterdir())
    motion = read_smpl_npz(_amass(tmp_path / "m.npz", np.zeros((1, 72)), np.zeros((1, 3))),
                           body_models=root)  # fmt: skip
    np.testing.assert_allclose(motion.joint_pos_w[0, 0], REST["pelvis"], atol=1e-6)
    assert sorted(p.name for p in (root / "smpl").iterdir()) == before


def test_pickle_with_foreign_class_is_refused(tmp_path: Path) -> None:
    class Evil:
        def __reduce__(self) -> tuple:
            return (print, ("pwned",))

    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"v_template": Evil()}))
    with pytest.raises(InputFileError, match=r"refusing to load builtins\.print"):
        convert_smpl_pkl(path, tmp_path / "out.pkl")
    assert not (tmp_path / "out.pkl").exists()


def test_fixture_files_load_with_smplx_create(models: Path) -> None:
    for kind, n_verts in (("smpl", 6890), ("smplh", 6890), ("smplx", 10475)):
        model = smplx.create(str(models), model_type=kind)
        assert model.v_template.shape == (n_verts, 3)
        np.testing.assert_allclose(model().joints[0, 4].detach().numpy(), REST["left_knee"],
                                   atol=1e-6)  # fmt: skip


def test_run_gvhmr_without_install_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"\0")
    monkeypatch.delenv("GVHMR_ROOT", raising=False)
    pattern = r"GVHMR_ROOT is not set.*GVHMR repository \(zju3dv/GVHMR\)"
    with pytest.raises(HumimicError, match=pattern):
        run_gvhmr(video, tmp_path / "out")
    monkeypatch.setenv("GVHMR_ROOT", str(tmp_path))
    with pytest.raises(HumimicError, match="'hmr4d' not importable"):
        run_gvhmr(video, tmp_path / "out")


def test_check_gvhmr_names_the_missing_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With ``hmr4d`` importable and the demo script present, the first checkpoint is named."""
    site = tmp_path / "site"
    (site / "hmr4d").mkdir(parents=True)
    (site / "hmr4d" / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(site))
    root = tmp_path / "GVHMR"
    monkeypatch.setenv("GVHMR_ROOT", str(root))
    with pytest.raises(HumimicError, match=r"tools/demo/demo\.py not found"):
        check_gvhmr()
    (root / "tools" / "demo").mkdir(parents=True)
    (root / "tools" / "demo" / "demo.py").write_text("")
    with pytest.raises(HumimicError) as info:
        check_gvhmr()
    assert str(root / "inputs" / "checkpoints" / "gvhmr" / "gvhmr_siga24_release.ckpt") in str(
        info.value
    )
    for rel in CHECKPOINTS:
        (root / "inputs" / "checkpoints" / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / "inputs" / "checkpoints" / rel).write_bytes(b"")
    assert check_gvhmr() == root
