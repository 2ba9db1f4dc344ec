"""Joint-position ``.npz`` files: named 3-D joints per frame, no rotations needed.

Keys: ``joint_names (K,)`` strings, ``joint_pos (T, K, 3)`` (alias ``positions``), ``fps``;
optional ``up_axis`` (``"y"``/``"z"``, default ``"z"``), ``unit`` (``"m"``, ``"cm"``,
``"mm"``, default ``"m"``), ``parents (K,)``, ``joint_quat (T, K, 4)`` wxyz and a
``canonical_keys``/``canonical_values`` pair. Loaded with ``allow_pickle=False``.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from humimic.errors import InputFileError
from humimic.files import atomic_write
from humimic.motion.human import HumanMotion
from humimic.motion.io.skeleton import y_up_to_z_up
from humimic.motion.skeleton_map import detect_canonical_map

_UNITS = {"m": 1.0, "cm": 0.01, "mm": 0.001}


def read_joints_npz(path: str | Path) -> HumanMotion:
    """Read a joint-position ``.npz`` into a z-up, metre :class:`HumanMotion`.

    Raises:
        InputFileError: Missing file, missing keys, bad shapes, unknown unit or up axis,
            zero frames or non-finite values.
    """
    path = Path(path)
    data = _load(path)
    names = [str(n) for n in _require(path, data, "joint_names").reshape(-1)]
    key = "joint_pos" if "joint_pos" in data else "positions"
    pos = np.asarray(_require(path, data, key), dtype=np.float64)
    if pos.ndim != 3 or pos.shape[1:] != (len(names), 3):
        raise InputFileError(path, f"{key} has shape {pos.shape}, expected (T, {len(names)}, 3)")
    fps = _scalar(path, data, "fps")
    unit = _text(data.get("unit"), "m")
    up = _text(data.get("up_axis"), "z").lower()
    if unit not in _UNITS:
        raise InputFileError(path, f"unit must be one of {sorted(_UNITS)}, got {unit!r}")
    if up not in ("y", "z"):
        raise InputFileError(path, f"up_axis must be 'y' or 'z', got {up!r}")
    quat = _quat(path, data, pos.shape)
    if up == "y":
        pos, quat = y_up_to_z_up(pos, quat)
    motion = HumanMotion(
        fps=fps,
        joint_names=names,
        parents=_parents(path, data, len(names)),
        joint_pos_w=pos * _UNITS[unit],
        joint_quat_w=quat,
        canonical=_canonical(data, names),
        source=str(path),
        source_format="joints",
        meta={"unit": unit, "up_axis": up},
    )
    motion.validate()
    return motion


def write_joints_npz(path: str | Path, motion: HumanMotion) -> Path:
    """Write ``motion`` as a joint-position ``.npz`` (z-up, metres), atomically.

    Returns:
        The written path.
    """
    arrays: dict[str, Any] = {
        "joint_names": np.array(motion.joint_names, dtype=str),
        "joint_pos": np.asarray(motion.joint_pos_w, dtype=np.float64),
        "fps": np.array(float(motion.fps)),
        "up_axis": np.array("z"),
        "unit": np.array("m"),
        "parents": np.asarray(motion.parents, dtype=np.int64),
        "canonical_keys": np.array(list(motion.canonical), dtype=str),
        "canonical_values": np.array(list(motion.canonical.values()), dtype=str),
    }
    if motion.joint_quat_w is not None:
        arrays["joint_quat"] = np.asarray(motion.joint_quat_w, dtype=np.float64)

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as handle:
            np.savez(handle, **arrays)

    return atomic_write(path, write, suffix=".npz")


def _load(path: Path) -> dict[str, NDArray]:
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
    except FileNotFoundError:
        raise InputFileError(path, "file not found") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise InputFileError(path, f"not a readable .npz file ({exc})") from None


def _require(path: Path, data: dict[str, NDArray], key: str) -> NDArray:
    if key not in data:
        raise InputFileError(path, f"missing key {key!r} (keys: {sorted(data)})")
    return data[key]


def _scalar(path: Path, data: dict[str, NDArray], key: str) -> float:
    try:
        value = float(np.asarray(_require(path, data, key)).reshape(()))
    except (TypeError, ValueError):
        raise InputFileError(path, f"{key} must be one number") from None
    if not (np.isfinite(value) and value > 0):
        raise InputFileError(path, f"{key} must be positive, got {value}")
    return value


def _text(value: NDArray | None, default: str) -> str:
    return default if value is None else str(np.asarray(value).reshape(()))


def _parents(path: Path, data: dict[str, NDArray], k: int) -> NDArray[np.int64]:
    if "parents" not in data:
        return np.full(k, -1, dtype=np.int64)  # no hierarchy given: every joint a root
    parents = np.asarray(data["parents"]).astype(np.int64).reshape(-1)
    if parents.shape != (k,) or np.any(parents >= np.arange(k)) or np.any(parents < -1):
        raise InputFileError(path, f"parents must be ({k},) indices of earlier joints or -1")
    return parents


def _quat(path: Path, data: dict[str, NDArray], pos_shape: tuple[int, ...]) -> NDArray | None:
    if "joint_quat" not in data:
        return None
    quat = np.asarray(data["joint_quat"], dtype=np.float64)
    if quat.shape != (*pos_shape[:2], 4):
        raise InputFileError(path, f"joint_quat has shape {quat.shape}, expected (T, K, 4)")
    return quat


def _canonical(data: dict[str, NDArray], names: list[str]) -> dict[str, str]:
    if "canonical_keys" in data and "canonical_values" in data:
        stored = dict(zip(data["canonical_keys"].tolist(), data["canonical_values"].tolist()))
        return {str(k): str(v) for k, v in stored.items()}
    return detect_canonical_map(names)
