"""SMPL-family body models through the real ``smplx`` package: locate, load, run.

The user supplies the licensed model files (humimic ships none) in one folder laid out as
``smplx`` expects: ``<DIR>/smpl/SMPL_NEUTRAL.pkl``, ``<DIR>/smplh/SMPLH_MALE.npz`` (or
AMASS's ``<DIR>/smplh/male/model.npz``), ``<DIR>/smplx/SMPLX_NEUTRAL.npz``. ``.pkl`` files
go through the chumpy-free converter first. Forward passes run in fixed-size batches and
keep, per frame, the 22 body joints, the mesh's volume centroid and a vertex subsample.
"""

from __future__ import annotations

import contextlib
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from humimic.errors import HumimicError, InputFileError
from humimic.motion.io.smpl_pickle import cached_plain_pickle, load_model_pickle

GROUND_POINTS: int = 512
"""Approximate number of mesh vertices kept as ``ground_points_w`` (every k-th vertex)."""
BATCH: int = 128
"""Frames per body-model forward pass."""
DOWNLOAD_SITES = {
    "smpl": "smpl.is.tue.mpg.de",
    "smplh": "mano.is.tue.mpg.de",
    "smplx": "smpl-x.is.tue.mpg.de",
}


def default_body_models() -> Path | None:
    """``$HUMIMIC_BODY_MODELS`` if set, else ``None``."""
    env = os.environ.get("HUMIMIC_BODY_MODELS")
    return Path(env).expanduser() if env else None


def find_model_file(body_models: Path | None, model_type: str, gender: str) -> Path:
    """Locate ``<body_models>/<type>/<TYPE>_<GENDER>.{npz,pkl}`` (AMASS ``smplh/<g>/model.npz``).

    Raises:
        HumimicError: One line naming the expected file and where to download it.
    """
    if body_models is None:
        body_models = default_body_models()
    upper = f"{model_type.upper()}_{gender.upper()}"
    names = [f"{upper}.npz", f"{upper}.pkl", f"{gender}/model.npz"]
    if model_type == "smpl":
        names = [f"{upper}.pkl", f"{upper}.npz"]
    if body_models is not None:
        for name in names:
            if (Path(body_models) / model_type / name).is_file():
                return Path(body_models) / model_type / name
    where = Path(body_models) if body_models is not None else Path("<DIR>")
    raise HumimicError(
        f"body model not found: expected {where / model_type / names[0]}; register at "
        f"https://{DOWNLOAD_SITES[model_type]}, download the {model_type.upper()} {gender} model "
        f"and place it there (or pass --body-models DIR / set HUMIMIC_BODY_MODELS=DIR)"
    )


def _model_arrays(path: Path) -> dict[str, Any]:
    """Arrays of an ``.npz`` or plain ``.pkl`` model file, without unpickling objects."""
    if path.suffix == ".pkl":
        return load_model_pickle(path)
    out: dict[str, Any] = {}
    with np.load(path, allow_pickle=False) as npz:
        for key in npz.files:
            with contextlib.suppress(ValueError):  # object arrays (metadata) are skipped
                out[key] = npz[key]
    return out


def _wide_shape_space(shapedirs: NDArray, num_betas: int) -> NDArray:
    """Zero-pad the shape basis to 300 columns so smplx keeps more than 10 betas.

    smplx assumes a model with fewer than 300 shape columns has exactly 10 and drops the
    rest (AMASS's SMPL+H files have 16); padding makes it use ``num_betas`` real columns.
    """
    width = shapedirs.shape[-1]
    if num_betas <= 10 or width >= 300:
        return shapedirs
    pad = np.zeros((*shapedirs.shape[:-1], 300 - width), dtype=shapedirs.dtype)
    return np.concatenate([shapedirs, pad], axis=-1)


def load_body_model(
    path: Path, model_type: str, batch: int, device: str = "cpu", num_betas: int = 10
) -> Any:
    """Build the ``smplx`` module for one model file (hands as full axis-angle, flat mean).

    Args:
        path: Model file from :func:`find_model_file`; ``.pkl`` files are converted once.
        model_type: ``"smpl"``, ``"smplh"`` or ``"smplx"``.
        batch: Frames per forward pass (smplx fixes it at construction).
        device: Torch device.
        num_betas: Shape coefficients wanted; the model may offer fewer.
    """
    import smplx

    cls = {"smpl": smplx.SMPL, "smplh": smplx.SMPLH, "smplx": smplx.SMPLX}[model_type]
    ext = path.suffix.lstrip(".")
    if ext == "pkl":
        path = cached_plain_pickle(path)
    kwargs: dict[str, Any] = {"batch_size": batch, "num_betas": max(num_betas, 1)}
    if model_type != "smpl":
        kwargs.update(ext=ext, use_pca=False, flat_hand_mean=True)
    try:
        if model_type != "smplx":  # SMPL-X reads its own file and takes no data_struct
            data = _model_arrays(path)
            data["shapedirs"] = _wide_shape_space(data["shapedirs"], num_betas)
            kwargs["data_struct"] = smplx.utils.Struct(**data)
        with contextlib.redirect_stdout(io.StringIO()):  # smplx prints beta-count warnings
            model = cls(model_path=str(path), **kwargs)
    except (KeyError, AttributeError, ValueError, IndexError, RuntimeError) as exc:
        raise InputFileError(path, f"not a valid {model_type} body model ({exc})") from None
    return model.to(device).eval()


@dataclass
class SmplParams:
    """Per-frame body-model parameters, axis-angle in the source frame.

    Attributes:
        global_orient: ``(T, 3)`` root rotation.
        body_pose: ``(T, 63)`` 21 body joints after the pelvis, or ``(T, 69)`` with SMPL's
            two hand joints.
        trans: ``(T, 3)`` root translation in metres.
        betas: ``(B,)`` shape coefficients.
        hand_pose: ``(T, 90)`` left then right hand joints, or ``None`` (flat hands).
        face_pose: ``(T, 9)`` jaw, left eye, right eye (SMPL-X), or ``None``.
    """

    global_orient: NDArray[np.float64]
    body_pose: NDArray[np.float64]
    trans: NDArray[np.float64]
    betas: NDArray[np.float64]
    hand_pose: NDArray[np.float64] | None = None
    face_pose: NDArray[np.float64] | None = None

    @property
    def num_frames(self) -> int:
        """Number of frames ``T``."""
        return int(self.global_orient.shape[0])


def _model_inputs(model: Any, model_type: str, p: SmplParams, sl: slice) -> dict[str, Any]:
    """Keyword tensors for one batch of frames, padded to the model's batch size."""
    import torch

    n = model.batch_size
    idx = np.arange(sl.start, sl.stop)
    idx = np.concatenate([idx, np.full(n - len(idx), idx[-1])])

    def t(a: NDArray | None, width: int) -> Any:
        arr = np.zeros((n, width)) if a is None else a[idx]
        return torch.as_tensor(arr, dtype=model.dtype, device=model.betas.device)

    body = p.body_pose[:, :63]
    if model_type == "smpl":  # SMPL's two hand joints: from a 72-wide pose, else flat
        body = p.body_pose if p.body_pose.shape[1] == 69 else np.pad(body, ((0, 0), (0, 6)))
    nb = model.num_betas
    betas = np.zeros(nb)
    betas[: min(nb, p.betas.size)] = p.betas[:nb]
    out = {"global_orient": t(p.global_orient, 3), "body_pose": t(body, body.shape[1])}
    out["transl"] = t(p.trans, 3)
    out["betas"] = t(np.tile(betas, (len(p.global_orient), 1)), nb)
    if model_type != "smpl":
        hands = p.hand_pose
        out["left_hand_pose"] = t(None if hands is None else hands[:, :45], 45)
        out["right_hand_pose"] = t(None if hands is None else hands[:, 45:], 45)
    if model_type == "smplx":
        face = p.face_pose
        for k, name in enumerate(("jaw_pose", "leye_pose", "reye_pose")):
            out[name] = t(None if face is None else face[:, 3 * k : 3 * k + 3], 3)
    return out


def mesh_com(vertices: NDArray, faces: NDArray) -> NDArray[np.float64]:
    """Volume centroid of closed triangle meshes (signed tetrahedra to a reference point).

    Args:
        vertices: ``(T, V, 3)`` vertex positions in metres.
        faces: ``(F, 3)`` outward-wound triangles.

    Returns:
        ``(T, 3)`` centre of the enclosed volume (uniform density), metres.
    """
    v = np.asarray(vertices, dtype=np.float64)
    ref = v.mean(axis=1, keepdims=True)  # a nearby apex keeps the sums well conditioned
    a, b, c = (v[:, faces[:, k]] - ref for k in range(3))
    vol = np.einsum("tfi,tfi->tf", a, np.cross(b, c)) / 6.0
    centroid = (a + b + c) / 4.0
    return ref[:, 0] + np.einsum("tf,tfi->ti", vol, centroid) / vol.sum(axis=1, keepdims=True)


def run_body_model(
    model: Any, model_type: str, params: SmplParams
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Forward the body model over all frames in batches.

    Returns:
        ``joints (T, 22, 3)``, mesh centre of mass ``(T, 3)`` and ground points
        ``(T, P, 3)`` (every ``V // GROUND_POINTS``-th vertex), metres, source frame.
    """
    import torch

    faces = np.asarray(model.faces, dtype=np.int64)
    stride = max(1, int(model.v_template.shape[0]) // GROUND_POINTS)
    joints, com, ground = [], [], []
    for start in range(0, params.num_frames, model.batch_size):
        sl = slice(start, min(start + model.batch_size, params.num_frames))
        with torch.no_grad():
            out = model(**_model_inputs(model, model_type, params, sl))
        keep = sl.stop - sl.start
        verts = out.vertices[:keep].double().cpu().numpy()
        joints.append(out.joints[:keep, :22].double().cpu().numpy())
        com.append(mesh_com(verts, faces))
        ground.append(verts[:, ::stride])
    return np.concatenate(joints), np.concatenate(com), np.concatenate(ground)
