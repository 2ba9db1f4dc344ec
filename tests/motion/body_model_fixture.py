"""Synthetic SMPL / SMPL-H / SMPL-X body-model files for tests and smoke checks.

The files written here are **not** body models: they are made of boxes around a stick
skeleton with roughly human proportions, so the real ``smplx`` package loads and runs
them and the numbers it returns (joint positions, centre of mass, lowest vertices) are
plausible. They carry no data derived from the licensed SMPL models.

Layout follows SMPL's rest frame: y up, the subject faces +z, its left side is +x, and the
mesh is centred near the pelvis (pelvis at y ≈ -0.23 m, soles at y ≈ -1.23 m, head top at
y ≈ 0.53 m). The mesh is mirror-symmetric about the x = 0 plane. Vertex counts are the
real ones (6890 for SMPL/SMPL-H, 10475 for SMPL-X) because ``smplx`` selects extra
keypoints by fixed vertex index. Each box is skinned rigidly to one joint, pose correctives
are zero, and shape component ``k`` stretches the body along axis ``k % 3`` about the pelvis.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from humimic.errors import ConfigError
from humimic.files import atomic_write

# SMPL body joints (24) in SMPL order, rest positions (y-up, +x = subject's left).
_BODY_REST: tuple[tuple[str, int, tuple[float, float, float]], ...] = (
    ("pelvis", -1, (0.0, -0.23, 0.02)),
    ("left_hip", 0, (0.06, -0.32, 0.01)),
    ("right_hip", 0, (-0.06, -0.32, 0.01)),
    ("spine1", 0, (0.0, -0.11, -0.005)),
    ("left_knee", 1, (0.10, -0.70, 0.01)),
    ("right_knee", 2, (-0.10, -0.70, 0.01)),
    ("spine2", 3, (0.0, 0.025, 0.02)),
    ("left_ankle", 4, (0.09, -1.12, -0.03)),
    ("right_ankle", 5, (-0.09, -1.12, -0.03)),
    ("spine3", 6, (0.0, 0.08, 0.02)),
    ("left_foot", 7, (0.11, -1.18, 0.09)),
    ("right_foot", 8, (-0.11, -1.18, 0.09)),
    ("neck", 9, (0.0, 0.29, -0.01)),
    ("left_collar", 9, (0.075, 0.20, -0.005)),
    ("right_collar", 9, (-0.075, 0.20, -0.005)),
    ("head", 12, (0.0, 0.36, 0.04)),
    ("left_shoulder", 13, (0.17, 0.23, -0.015)),
    ("right_shoulder", 14, (-0.17, 0.23, -0.015)),
    ("left_elbow", 16, (0.43, 0.21, -0.03)),
    ("right_elbow", 17, (-0.43, 0.21, -0.03)),
    ("left_wrist", 18, (0.69, 0.215, -0.03)),
    ("right_wrist", 19, (-0.69, 0.215, -0.03)),
    ("left_hand", 20, (0.77, 0.205, -0.04)),
    ("right_hand", 21, (-0.77, 0.205, -0.04)),
)

# Boxes for the left side and the midline: (joint skinned to, min corner, max corner).
# Right-side boxes are the mirror images of the left ones.
_MID_BOXES: tuple[tuple[str, tuple[float, ...], tuple[float, ...]], ...] = (
    ("pelvis", (-0.15, -0.39, -0.07), (0.15, -0.11, 0.10)),
    ("spine1", (-0.14, -0.16, -0.08), (0.14, 0.02, 0.09)),
    ("spine2", (-0.15, 0.02, -0.08), (0.15, 0.10, 0.11)),
    ("spine3", (-0.17, 0.10, -0.09), (0.17, 0.27, 0.10)),
    ("neck", (-0.045, 0.27, -0.05), (0.045, 0.37, 0.04)),
    ("head", (-0.08, 0.33, -0.07), (0.08, 0.53, 0.13)),
)
_LEFT_BOXES: tuple[tuple[str, tuple[float, ...], tuple[float, ...]], ...] = (
    ("left_collar", (0.03, 0.17, -0.05), (0.17, 0.26, 0.04)),
    ("left_shoulder", (0.17, 0.18, -0.07), (0.43, 0.26, 0.03)),
    ("left_elbow", (0.43, 0.18, -0.065), (0.69, 0.25, 0.005)),
    ("left_wrist", (0.69, 0.195, -0.07), (0.87, 0.225, 0.01)),
    ("left_hip", (0.01, -0.70, -0.055), (0.16, -0.32, 0.075)),
    ("left_knee", (0.04, -1.12, -0.08), (0.15, -0.70, 0.06)),
    ("left_ankle", (0.045, -1.23, -0.09), (0.135, -1.09, 0.09)),
    ("left_foot", (0.065, -1.23, 0.09), (0.155, -1.18, 0.17)),
)

_HAND_FINGERS = ("index", "middle", "pinky", "ring", "thumb")
_VERTEX_COUNT = {"smpl": 6890, "smplh": 6890, "smplx": 10475}
_FILE_EXT = {"smpl": "pkl", "smplh": "pkl", "smplx": "npz"}


def _hand_joints(side: str, wrist: int, first: int) -> list[tuple[str, int, tuple[float, ...]]]:
    """15 finger joints of one hand (SMPL-H/SMPL-X order), three per finger along +-x."""
    sign = 1.0 if side == "left" else -1.0
    joints: list[tuple[str, int, tuple[float, ...]]] = []
    for f, finger in enumerate(_HAND_FINGERS):
        z = -0.055 + 0.012 * f if finger != "thumb" else 0.0
        for k in range(3):
            idx = first + 3 * f + k
            parent = wrist if k == 0 else idx - 1
            pos = (sign * (0.78 + 0.025 * k), 0.21, z)
            joints.append((f"{side}_{finger}{k + 1}", parent, pos))
    return joints


def skeleton(model_type: str) -> list[tuple[str, int, tuple[float, ...]]]:
    """Joint names, parents and rest positions of the synthetic model, in file order.

    Args:
        model_type: ``"smpl"``, ``"smplh"`` or ``"smplx"``.

    Returns:
        ``(name, parent index, (x, y, z) in metres)`` per joint: 24, 52 or 55 joints.
    """
    if model_type == "smpl":
        return list(_BODY_REST)
    body = list(_BODY_REST[:22])
    if model_type == "smplh":
        return body + _hand_joints("left", 20, 22) + _hand_joints("right", 21, 37)
    face = [("jaw", 15, (0.0, 0.40, 0.08)), ("left_eye", 15, (0.03, 0.45, 0.11))]
    face.append(("right_eye", 15, (-0.03, 0.45, 0.11)))
    return body + face + _hand_joints("left", 20, 25) + _hand_joints("right", 21, 40)


def fixture_boxes() -> list[tuple[str, NDArray[np.float64], NDArray[np.float64]]]:
    """The closed boxes making up the mesh, right side mirrored from the left.

    Returns:
        ``(joint skinned to, min corner (3,), max corner (3,))`` per box, rest frame, metres,
        in mesh order (box ``b`` owns vertices ``8b..8b+7`` and faces ``12b..12b+11``).
    """
    out = [(j, np.array(lo), np.array(hi)) for j, lo, hi in _MID_BOXES + _LEFT_BOXES]
    for j, lo, hi in _LEFT_BOXES:
        lo_m = np.array([-hi[0], lo[1], lo[2]])
        hi_m = np.array([-lo[0], hi[1], hi[2]])
        out.append((j.replace("left_", "right_"), lo_m, hi_m))
    return out


def _box_mesh(lo: NDArray[np.float64], hi: NDArray[np.float64]) -> tuple[NDArray, NDArray]:
    """8 corners and 12 outward-wound triangles of an axis-aligned box."""
    corners = np.array([[(hi if (i >> a) & 1 else lo)[a] for a in range(3)] for i in range(8)])
    # Corner index bits: x = 1, y = 2, z = 4. Each quad listed counter-clockwise from outside.
    quads = [(0, 4, 6, 2), (1, 3, 7, 5), (0, 1, 5, 4), (2, 6, 7, 3), (0, 2, 3, 1), (4, 5, 7, 6)]
    tris = [(a, b, c) for a, b, c, _ in quads] + [(a, c, d) for a, _, c, d in quads]
    return corners, np.array(tris, dtype=np.int64)


def _surface_points(
    lo: NDArray[np.float64], hi: NDArray[np.float64], n: int, rng: np.random.Generator
) -> NDArray[np.float64]:
    """``n`` random points on the surface of a box (uniform per face, faces by area)."""
    size = hi - lo
    areas = np.array([size[1] * size[2], size[0] * size[2], size[0] * size[1]])
    axis = rng.choice(3, size=n, p=areas / areas.sum())
    pts = lo + rng.random((n, 3)) * size
    side = rng.integers(0, 2, size=n)
    pts[np.arange(n), axis] = np.where(side == 1, hi[axis], lo[axis])
    return pts


def _geometry(model_type: str, seed: int) -> dict[str, NDArray]:
    """Template vertices, faces, skinning weights and joint regressor."""
    joints = skeleton(model_type)
    names = [j[0] for j in joints]
    rest = np.array([j[2] for j in joints], dtype=np.float64)
    n_joints, n_verts = len(joints), _VERTEX_COUNT[model_type]
    rng = np.random.default_rng(seed)
    verts, faces, owner = [], [], []
    for joint, lo, hi in fixture_boxes():
        corners, tris = _box_mesh(lo, hi)
        faces.append(tris + sum(len(v) for v in verts))
        verts.append(corners)
        owner += [names.index(joint)] * 8
    # Two regressor markers per joint, symmetric about it, skinned to the joint itself.
    marker_start = sum(len(v) for v in verts)
    offsets = np.array([[0.005, 0.0, 0.0], [-0.005, 0.0, 0.0]])
    verts.append((rest[:, None, :] + offsets).reshape(-1, 3))
    owner += [j for j in range(n_joints) for _ in range(2)]
    boxes = fixture_boxes()
    n_fill = n_verts - sum(len(v) for v in verts)
    pick = rng.integers(0, len(boxes), size=n_fill)
    for b, (joint, lo, hi) in enumerate(boxes):
        count = int(np.sum(pick == b))
        verts.append(_surface_points(lo, hi, count, rng))
        owner += [names.index(joint)] * count
    v_template = np.concatenate(verts)
    weights = np.zeros((n_verts, n_joints))
    weights[np.arange(n_verts), owner] = 1.0
    j_regressor = np.zeros((n_joints, n_verts))
    for j in range(n_joints):
        j_regressor[j, marker_start + 2 * j : marker_start + 2 * j + 2] = 0.5
    parents = np.array([j[1] for j in joints], dtype=np.int64)
    kintree = np.stack([np.where(parents < 0, 4294967295, parents), np.arange(n_joints)])
    return {
        "v_template": v_template,
        "f": np.concatenate(faces).astype(np.uint32),
        "weights": weights,
        "J_regressor": j_regressor,
        "kintree_table": kintree.astype(np.int64),
    }


def _shapedirs(v_template: NDArray[np.float64], pelvis: NDArray, width: int) -> NDArray:
    """``(V, 3, width)`` shape basis: component k stretches axis k % 3 about the pelvis."""
    rel = v_template - pelvis
    dirs = np.zeros((*v_template.shape, width))
    for k in range(width):
        axis = k % 3
        dirs[:, axis, k] = rel[:, axis] * 0.03 / (1 + k // 3)
    return dirs


def build_body_model(model_type: str = "smpl", num_betas: int = 10, seed: int = 0) -> dict:
    """Arrays of a synthetic body model, keyed as in the official files.

    Args:
        model_type: ``"smpl"``, ``"smplh"`` or ``"smplx"``.
        num_betas: Width of the shape basis (SMPL-X always gets 10 shape + 10 expression).
        seed: Seed for the filler vertices scattered on the box surfaces.

    Returns:
        Dict with ``v_template (V, 3)``, ``f (F, 3)``, ``weights (V, J)``,
        ``J_regressor (J, V)``, ``kintree_table (2, J)``, ``shapedirs (V, 3, B)``,
        ``posedirs (V, 3, 9 (J - 1))`` and, for SMPL-H/SMPL-X, hand PCA keys; SMPL-X also
        ``lmk_faces_idx (51,)`` and ``lmk_bary_coords (51, 3)``.
    """
    if model_type not in _VERTEX_COUNT:
        raise ConfigError(f"model_type: expected smpl, smplh or smplx, got {model_type!r}")
    if num_betas < 1 or (model_type == "smplx" and num_betas != 10):
        raise ConfigError(f"num_betas: {num_betas} not supported for {model_type} fixtures")
    data: dict = _geometry(model_type, seed)
    n_verts, n_joints = data["weights"].shape
    width = 20 if model_type == "smplx" else num_betas
    data["shapedirs"] = _shapedirs(data["v_template"], np.array(_BODY_REST[0][2]), width)
    # Zero pose correctives keep the boxes rigid; float32 keeps the file small.
    data["posedirs"] = np.zeros((n_verts, 3, 9 * (n_joints - 1)), dtype=np.float32)
    if model_type != "smpl":
        for side in ("l", "r"):
            data[f"hands_components{side}"] = np.eye(45)
            data[f"hands_mean{side}"] = np.zeros(45)
    if model_type == "smplx":
        head_faces = np.arange(60, 72)  # the head box is the sixth box: faces 60..71
        data["lmk_faces_idx"] = np.resize(head_faces, 51).astype(np.int64)
        data["lmk_bary_coords"] = np.full((51, 3), 1.0 / 3.0)
    return data


def write_fake_body_model(
    directory: Path,
    model_type: str = "smpl",
    gender: str = "neutral",
    num_betas: int = 10,
    seed: int = 0,
) -> Path:
    """Write a synthetic body-model file where ``smplx.create(directory, model_type)`` finds it.

    SMPL and SMPL-H are written as plain-numpy pickles (``SMPL_NEUTRAL.pkl``), SMPL-X as
    ``SMPLX_NEUTRAL.npz``, in ``<directory>/<model_type>/``. The write is atomic.

    Args:
        directory: Body-model root folder (created if missing).
        model_type: ``"smpl"``, ``"smplh"`` or ``"smplx"``.
        gender: ``"neutral"``, ``"male"`` or ``"female"`` (only the file name differs).
        num_betas: Width of the shape basis for SMPL/SMPL-H (SMPL-X: 10).
        seed: Seed for the filler vertices.

    Returns:
        Path of the written file.
    """
    if gender not in ("neutral", "male", "female"):
        raise ConfigError(f"gender: expected neutral, male or female, got {gender!r}")
    data = build_body_model(model_type, num_betas, seed)
    folder = Path(directory) / model_type
    folder.mkdir(parents=True, exist_ok=True)
    ext = _FILE_EXT[model_type]
    path = folder / f"{model_type.upper()}_{gender.upper()}.{ext}"

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            if ext == "pkl":
                pickle.dump(data, fh, protocol=pickle.HIGHEST_PROTOCOL)
            else:
                np.savez_compressed(fh, **data)

    return atomic_write(path, write)
