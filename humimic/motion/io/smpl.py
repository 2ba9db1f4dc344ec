"""SMPL-family motion readers (AMASS npz, GVHMR results) through the real ``smplx`` package.

Pose parameters are run through the user's body model (SMPL, SMPL-H or SMPL-X, which
the user downloads after registering; humimic ships none) in batches, giving joint
positions, mesh vertices and from them a centre of mass. Everything is returned as a
:class:`~humimic.motion.human.HumanMotion` in humimic's z-up world frame.

Official SMPL ``.pkl`` files hold ``chumpy`` objects and chumpy does not import on Python
3.11, so ``.pkl`` files are read with a restricted unpickler (:func:`convert_smpl_pkl`) and
cached as plain-numpy pickles outside the user's folder.
"""

from __future__ import annotations

import contextlib
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from humimic.errors import HumimicError, InputFileError
from humimic.geometry import quat_np
from humimic.motion.human import HumanMotion
from humimic.motion.io.body_model import (
    BATCH,
    DOWNLOAD_SITES,
    SmplParams,
    default_body_models,
    find_model_file,
    load_body_model,
    run_body_model,
)
from humimic.motion.io.smpl_pickle import convert_smpl_pkl

__all__ = [
    "SMPL_CANONICAL",
    "SMPL_JOINT_NAMES",
    "SMPL_PARENTS",
    "SmplParams",
    "convert_smpl_pkl",
    "motion_from_params",
    "read_gvhmr",
    "read_smpl_npz",
]

SMPL_JOINT_NAMES: tuple[str, ...] = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
    "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar",
    "right_collar", "head", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist",
)  # fmt: skip
"""The 22 body joints shared by SMPL, SMPL-H and SMPL-X, in model order."""
SMPL_PARENTS: NDArray[np.int64] = np.array(
    [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19], dtype=np.int64
)
SMPL_CANONICAL: dict[str, str] = {
    "pelvis": "pelvis", "spine": "spine1", "chest": "spine3", "neck": "neck", "head": "head",
    "left_shoulder": "left_shoulder", "left_elbow": "left_elbow", "left_wrist": "left_wrist",
    "right_shoulder": "right_shoulder", "right_elbow": "right_elbow",
    "right_wrist": "right_wrist", "left_hip": "left_hip", "left_knee": "left_knee",
    "left_ankle": "left_ankle", "left_toe": "left_foot", "right_hip": "right_hip",
    "right_knee": "right_knee", "right_ankle": "right_ankle", "right_toe": "right_foot",
}  # fmt: skip
"""SMPL's ``*_shoulder`` is the upper-arm ball joint and ``*_foot`` the toe joint."""

_POSE_WIDTHS = {72: "smpl", 156: "smplh", 165: "smplx", 66: "smpl"}


def global_joint_quats(global_orient: NDArray, body_pose: NDArray) -> NDArray[np.float64]:
    """``(T, 22, 4)`` wxyz world rotations of the 22 body joints from local axis-angles."""
    local = quat_np.from_rotvec(
        np.concatenate([global_orient[:, None], body_pose[:, :63].reshape(-1, 21, 3)], axis=1)
    )
    world = np.empty_like(local)
    for j, parent in enumerate(SMPL_PARENTS):
        world[:, j] = local[:, j] if parent < 0 else quat_np.multiply(world[:, parent], local[:, j])
    return quat_np.normalize(world)


def motion_from_params(
    params: SmplParams,
    *,
    model_file: Path,
    model_type: str,
    fps: float,
    y_up: bool,
    source: Path,
    source_format: str,
    device: str = "cpu",
) -> HumanMotion:
    """Run the body model and package a z-up :class:`HumanMotion`.

    Joint orientations are the kinematic-chain products of the pose's rotations, so every
    joint frame has SMPL's rest-pose axes (x to the subject's left, y up the body, z
    forward) at zero pose. ``com_w`` is the mesh's volume centroid; ``ground_points_w`` is
    every ``V // GROUND_POINTS``-th vertex (about 512 points spread over the whole body,
    hands included, for centre-of-pressure estimation).

    Args:
        params: Pose, translation and shape, in the source frame.
        model_file: Body-model file (see :func:`find_model_file`).
        model_type: ``"smpl"``, ``"smplh"`` or ``"smplx"``.
        fps: Frame rate in Hz.
        y_up: Source frame is y-up (rotated +90° about x here); else it is already z-up.
        source: File the parameters came from (for messages).
        source_format: Reader name stored on the motion.
        device: Torch device for the body model.
    """
    batch = min(BATCH, params.num_frames)
    model = load_body_model(model_file, model_type, batch, device, num_betas=params.betas.size)
    joints, com, ground = run_body_model(model, model_type, params)
    quats = global_joint_quats(params.global_orient, params.body_pose)
    if y_up:
        rot = quat_np.Y_UP_TO_Z_UP
        joints, com, ground = joints @ rot.T, com @ rot.T, ground @ rot.T
        quats = quat_np.normalize(quat_np.multiply(quat_np.from_matrix(rot), quats))
    meta: dict[str, object] = {
        "model_type": model_type,
        "model_file": str(model_file),
        "source_up_axis": "y" if y_up else "z",
        "betas_used": int(model.num_betas),
    }
    motion = HumanMotion(
        fps=float(fps),
        joint_names=list(SMPL_JOINT_NAMES),
        parents=SMPL_PARENTS.copy(),
        joint_pos_w=joints,
        joint_quat_w=quats,
        canonical=dict(SMPL_CANONICAL),
        source=str(source),
        source_format=source_format,
        com_w=com,
        ground_points_w=ground,
        meta=meta,
    )
    motion.validate()
    return motion


# --- readers ------------------------------------------------------------------------------


def _array(path: Path, data: Any, key: str, width: int | None = None) -> NDArray[np.float64]:
    """A finite float array from ``data[key]``, optionally ``(T, width)``."""
    try:
        arr = np.asarray(data[key], dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputFileError(path, f"'{key}' is not numeric ({exc})") from None
    if width is not None and (arr.ndim != 2 or arr.shape[1] != width):
        raise InputFileError(path, f"'{key}' has shape {arr.shape}, expected (T, {width})")
    if not np.all(np.isfinite(arr)):
        bad = np.argwhere(~np.isfinite(arr))[0]
        where = f" at frame {bad[0]}" if arr.ndim == 2 else ""
        raise InputFileError(path, f"non-finite value (NaN or inf) in '{key}'{where}")
    return arr


def _text(value: Any) -> str | None:
    """A string from str, bytes or a 0-d numpy array (as AMASS stores ``gender``)."""
    if value is None:
        return None
    if isinstance(value, np.ndarray):
        value = value.item() if value.size == 1 else None
    if isinstance(value, bytes):
        value = value.decode("latin1")
    return None if value is None else str(value).strip().lower()


def _gender(path: Path, value: Any) -> str:
    text = _text(value) or "neutral"
    norm = {"m": "male", "f": "female", "n": "neutral"}.get(text, text)
    if norm not in ("neutral", "male", "female"):
        raise InputFileError(path, f"unknown gender {text!r} (expected neutral, male or female)")
    return norm


def _frame_rate(path: Path, data: Any, fps: float | None) -> float:
    if fps is not None:
        return float(fps)
    for key in ("mocap_framerate", "mocap_frame_rate", "fps", "frame_rate"):
        if key in data:
            rate = float(np.asarray(data[key]).reshape(-1)[0])
            if not np.isfinite(rate) or rate <= 0:
                raise InputFileError(path, f"'{key}' must be a positive frame rate, got {rate}")
            return rate
    raise InputFileError(path, "no frame rate (mocap_framerate / mocap_frame_rate); pass fps=")


def _pose_split(path: Path, data: Any) -> tuple[SmplParams, str]:
    """Pose parameters from ``poses`` or AMASS split keys, and the model type they imply."""
    if "poses" in data:
        poses = _array(path, data, "poses")
        width = poses.shape[1] if poses.ndim == 2 else -1
        if width not in _POSE_WIDTHS:
            raise InputFileError(path, f"'poses' has shape {poses.shape}, expected (T, 72|156|165)")
        hands = poses[:, -90:] if width in (156, 165) else None
        face = poses[:, 66:75] if width == 165 else None
        body = poses[:, 3:72] if width == 72 else poses[:, 3:66]
        params = SmplParams(poses[:, :3], body, np.zeros(0), np.zeros(0), hands, face)
        return params, _POSE_WIDTHS[width]
    if "root_orient" not in data or "pose_body" not in data:
        raise InputFileError(path, "no 'poses' or 'root_orient'/'pose_body' arrays")
    hands = _array(path, data, "pose_hand", 90) if "pose_hand" in data else None
    face = None
    if "pose_jaw" in data:
        face = np.concatenate(
            [_array(path, data, "pose_jaw", 3), _array(path, data, "pose_eye", 6)], 1
        )
    body = _array(path, data, "pose_body", 63)
    params = SmplParams(
        _array(path, data, "root_orient", 3), body, np.zeros(0), np.zeros(0), hands, face
    )
    kind = "smplx" if face is not None else "smplh" if hands is not None else "smpl"
    return params, kind


def _betas(path: Path, data: Any, key: str) -> NDArray[np.float64]:
    """Shape coefficients; per-frame betas ``(T, B)`` are averaged."""
    if key not in data:
        return np.zeros(10)
    betas = _array(path, data, key)
    return betas.mean(axis=0) if betas.ndim == 2 else betas.reshape(-1)


def _load_npz(path: Path) -> dict[str, Any]:
    """All non-object arrays of an ``.npz`` (object arrays would need unpickling)."""
    out: dict[str, Any] = {}
    if path.is_file() and not zipfile.is_zipfile(path):
        raise InputFileError(path, "not an .npz file (no zip archive)")
    try:
        with np.load(path, allow_pickle=False) as npz:
            for key in npz.files:
                with contextlib.suppress(ValueError):
                    out[key] = npz[key]
        return out
    except FileNotFoundError:
        raise InputFileError(path, "file not found") from None
    except (OSError, ValueError, EOFError) as exc:
        raise InputFileError(path, f"not a readable .npz file ({exc})") from None


def read_smpl_npz(
    path: Path,
    *,
    body_models: Path | None,
    model_type: str | None = None,
    gender: str | None = None,
    fps: float | None = None,
    up_axis: str | None = None,
    device: str = "cpu",
) -> HumanMotion:
    """Read an AMASS-style SMPL / SMPL-H / SMPL-X ``.npz`` motion.

    Args:
        path: File with ``poses (T, 72|156|165)`` (or ``root_orient``/``pose_body``/
            ``pose_hand``/``pose_jaw``/``pose_eye``), ``trans (T, 3)``, ``betas``,
            ``gender`` and ``mocap_framerate`` or ``mocap_frame_rate``. A ``(T, 66)``
            pose (PBHC, GVHMR exports) counts as SMPL.
        body_models: Folder holding ``smpl/``, ``smplh/``, ``smplx/`` model files
            (``None``: ``$HUMIMIC_BODY_MODELS``).
        model_type: ``"smpl"``, ``"smplh"`` or ``"smplx"``; default from the file.
        gender: Overrides the file's gender.
        fps: Overrides the file's frame rate (Hz).
        up_axis: ``"z"`` (AMASS) or ``"y"``; default from an ``up_axis`` key, else z.
        device: Torch device for the body model.

    Returns:
        Motion with 22 SMPL joints, world rotations, mesh CoM and ground points, z-up.
    """
    path = Path(path)
    data = _load_npz(path)
    params, implied = _pose_split(path, data)
    if "trans" not in data:
        raise InputFileError(path, "no 'trans' array (root translation)")
    params.trans = _array(path, data, "trans", 3)
    params.betas = _betas(path, data, "betas")
    if params.trans.shape[0] != params.num_frames or params.num_frames == 0:
        raise InputFileError(path, f"{params.num_frames} poses but {len(params.trans)} trans rows")
    kind = model_type or _text(data.get("surface_model_type")) or implied
    axis = (up_axis or _text(data.get("up_axis")) or "z").lower()
    if kind not in DOWNLOAD_SITES or axis not in ("y", "z"):
        raise InputFileError(path, f"unsupported model type {kind!r} or up axis {axis!r}")
    sex = _gender(path, gender if gender is not None else data.get("gender"))
    return motion_from_params(
        params, model_file=find_model_file(body_models, kind, sex), model_type=kind,
        fps=_frame_rate(path, data, fps), y_up=axis == "y", source=path,
        source_format="smpl", device=device,
    )  # fmt: skip


def _load_gvhmr(path: Path) -> dict[str, Any]:
    """``smpl_params_global`` of a GVHMR results file as numpy (tensors only, no code)."""
    import torch

    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise InputFileError(path, "file not found") from None
    except Exception as exc:  # torch raises many types for foreign or corrupt files
        raise InputFileError(path, f"not a readable GVHMR results file ({exc})") from None
    glob = raw.get("smpl_params_global") if isinstance(raw, dict) else None
    if not isinstance(glob, dict):
        raise InputFileError(path, "no 'smpl_params_global' dict (expected hmr4d_results.pt)")
    return {k: v.detach().cpu().numpy() if hasattr(v, "detach") else v for k, v in glob.items()}


def read_gvhmr(
    path: Path,
    *,
    body_models: Path | None = None,
    model_type: str | None = None,
    gender: str = "neutral",
    fps: float = 30.0,
    device: str = "cpu",
) -> HumanMotion:
    """Read GVHMR's ``hmr4d_results.pt`` (gravity-view frame, y up) into a z-up motion.

    Args:
        path: Results file with ``smpl_params_global``: ``body_pose (T, 63)``,
            ``global_orient (T, 3)``, ``transl (T, 3)``, ``betas (T, 10)``.
        body_models: Model folder; default ``$HUMIMIC_BODY_MODELS``, then GVHMR's own
            ``$GVHMR_ROOT/inputs/checkpoints/body_models``.
        model_type: Default: SMPL-X (what GVHMR predicts) if present, else SMPL, SMPL-H.
        gender: Body-model gender (GVHMR uses the neutral model).
        fps: Frame rate; GVHMR re-encodes videos at 30 fps.
        device: Torch device for the body model.
    """
    from humimic.motion.io.gvhmr import gvhmr_body_models

    path = Path(path)
    glob = _load_gvhmr(path)
    for key in ("body_pose", "global_orient", "transl"):
        if key not in glob:
            raise InputFileError(path, f"'smpl_params_global' has no '{key}'")
    params = SmplParams(
        _array(path, glob, "global_orient", 3), _array(path, glob, "body_pose", 63),
        _array(path, glob, "transl", 3), _betas(path, glob, "betas"),
    )  # fmt: skip
    folder = body_models or default_body_models() or gvhmr_body_models()
    kinds = [model_type] if model_type else ["smplx", "smpl", "smplh"]
    for kind in kinds:
        with contextlib.suppress(HumimicError):
            model_file = find_model_file(folder, kind, gender)
            break
    else:
        model_file = find_model_file(folder, kinds[0], gender)  # raises naming the file
    return motion_from_params(
        params, model_file=model_file, model_type=kind, fps=fps, y_up=True, source=path,
        source_format="gvhmr", device=device,
    )  # fmt: skip
