"""Which motion format a file is, and one entry point that reads any human motion.

Detection looks at the extension and, for ``.npz`` and pickles, at the stored key names only
(``.npz`` member names via ``np.load(allow_pickle=False)``; pickle opcodes are scanned with
:mod:`pickletools`, never executed, skipping the raw array bytes joblib writes between them).
A pickle is loaded only when the scan (:mod:`~humimic.motion.io.pickle_scan`) cannot tell and
the user trusts it (``--trust-pickle``).
"""

from __future__ import annotations

import inspect
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from humimic.errors import ConfigError, InputFileError
from humimic.motion.human import HumanMotion
from humimic.motion.io.pickle_scan import scan_pickle
from humimic.motion.skeleton_map import load_skeleton_map, resolve_canonical_map

FORMATS: tuple[str, ...] = (
    "bvh",
    "asf/amc",
    "smpl",
    "gvhmr",
    "joints",
    "humimic_clip",
    "beyondmimic",
    "lafan_csv",
    "pbhc_pkl",
    "smpl_model",
)
"""Every name :func:`detect_format` can return."""

HUMAN_FORMATS: tuple[str, ...] = ("bvh", "asf/amc", "smpl", "gvhmr", "joints")
"""Formats :func:`read_human_motion` reads."""
ROBOT_FORMATS: tuple[str, ...] = ("humimic_clip", "beyondmimic", "lafan_csv", "pbhc_pkl")
"""Robot clips of other tools (and humimic's own), converted rather than retargeted."""

_EXTENSIONS = {
    ".bvh": "bvh",
    ".amc": "asf/amc",
    ".asf": "asf/amc",
    ".pt": "gvhmr",
    ".pth": "gvhmr",
    ".csv": "lafan_csv",
}
_SMPL_MODEL_KEYS = {"J_regressor", "shapedirs", "v_template", "kintree_table"}
_PBHC_KEYS = {"root_trans_offset", "pose_aa", "dof", "root_rot"}


def detect_format(path: str | Path, *, trust_pickle: bool = False) -> str:
    """Name of the motion format of ``path`` (one of :data:`FORMATS`).

    Args:
        path: The file.
        trust_pickle: A pickle whose opcodes do not tell what it holds may be loaded and
            looked into (loading runs code stored in it); without it such a pickle is refused.

    Raises:
        InputFileError: The file is missing, unreadable, or of no known format.
    """
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "is not a file" if path.exists() else "file not found")
    suffix = path.suffix.lower()
    if suffix in _EXTENSIONS:
        return _EXTENSIONS[suffix]
    if suffix == ".npz":
        return _npz_format(path)
    if suffix in (".pkl", ".pickle"):
        return _pickle_format(path, trust_pickle)
    raise InputFileError(
        path,
        f"unknown motion format {suffix or '(no extension)'!r}; expected .bvh, .amc, .npz, "
        ".pt, .csv or .pkl",
    )


def _npz_format(path: Path) -> str:
    try:
        with np.load(path, allow_pickle=False) as npz:
            keys = set(npz.files)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise InputFileError(path, f"not a readable .npz file ({exc})") from None
    if "schema_version" in keys:
        return "humimic_clip"
    if {"body_pos_w", "joint_pos"} <= keys:
        return "beyondmimic"
    if "joint_names" in keys and keys & {"joint_pos", "positions"}:
        return "joints"
    if "trans" in keys and keys & {"poses", "pose_body", "root_orient"}:
        return "smpl"
    if len(_SMPL_MODEL_KEYS & keys) >= 2:
        return "smpl_model"
    shown = ", ".join(sorted(keys)[:12])
    raise InputFileError(path, f"unknown .npz content (keys: {shown})")


def _pickle_format(path: Path, trust_pickle: bool) -> str:
    scan = scan_pickle(path)
    kind = _pickle_kind(scan.strings)
    if kind is not None:
        return kind
    if scan.complete:
        raise InputFileError(path, "pickle holds neither a robot motion nor an SMPL body model")
    if not trust_pickle:
        raise InputFileError(
            path,
            "cannot tell what this pickle holds without loading it, and loading runs code "
            "stored in the file; pass --trust-pickle if you trust where it came from",
        )
    kind = _pickle_kind(_loaded_keys(path))
    if kind is None:
        raise InputFileError(path, "pickle holds neither a robot motion nor an SMPL body model")
    return kind


def _pickle_kind(strings: set[str]) -> str | None:
    if len(_SMPL_MODEL_KEYS & strings) >= 2:
        return "smpl_model"
    if len(_PBHC_KEYS & strings) >= 2:
        return "pbhc_pkl"
    return None


def _loaded_keys(path: Path) -> set[str]:
    """Keys of a trusted pickle's dict and of the dicts it holds (one level down)."""
    from humimic.motion.io.robot_formats import load_pickle

    data = load_pickle(path)
    keys: set[str] = set()
    if isinstance(data, dict):
        keys |= {k for k in data if isinstance(k, str)}
        for value in data.values():
            if isinstance(value, dict):
                keys |= {k for k in value if isinstance(k, str)}
    return keys


def read_human_motion(
    path: str | Path,
    *,
    asf: Path | None = None,
    skeleton_map: Path | None = None,
    body_models: Path | None = None,
    units: str = "auto",
    **reader_options: Any,
) -> HumanMotion:
    """Read any human motion file, apply the skeleton map and validate.

    Args:
        path: A ``.bvh``, ``.amc``, joint-position or AMASS ``.npz``, or GVHMR ``.pt`` file.
        asf: Skeleton for an ``.amc`` (default: found beside it).
        skeleton_map: User YAML ``canonical_name: joint_name`` overriding detection.
        body_models: SMPL model folder for ``smpl``/``gvhmr`` inputs.
        units: Length unit of BVH and ASF/AMC files (the ``units`` config key): ``auto``
            or a name in :data:`~humimic.motion.io.skeleton.UNIT_SCALES`. Body-model formats are
            metres by definition and a joints ``.npz`` names its unit, so they ignore it.
        **reader_options: Passed to the format's reader (e.g. ``up_axis``, ``unit_scale``
            for BVH, ``fps`` for AMC).

    Returns:
        A validated motion whose ``canonical`` map has every required joint.

    Raises:
        InputFileError: Unreadable file, a non-human format, or an unmappable skeleton.
        ConfigError: A reader option the format does not take.
    """
    path = Path(path)
    fmt = detect_format(path)
    if fmt not in HUMAN_FORMATS:
        raise InputFileError(
            path, f"is a {fmt} file, not human motion ({', '.join(HUMAN_FORMATS)})"
        )
    if fmt == "asf/amc" and path.suffix.lower() == ".asf":
        raise InputFileError(path, "is a skeleton; pass the .amc motion (with --asf if needed)")
    reader, fixed = _reader(fmt, asf, body_models)
    allowed = set(inspect.signature(reader).parameters) - {"path", "amc_path", *fixed}
    unknown = sorted(set(reader_options) - allowed)
    if unknown:
        raise ConfigError(f"options {unknown} do not apply to {fmt} input {path}")
    if units != "auto":
        from humimic.motion.io.skeleton import UNIT_SCALES

        if units not in UNIT_SCALES:
            raise ConfigError(
                f"units must be auto or one of {', '.join(UNIT_SCALES)}, got {units!r}"
            )
    if fmt in ("bvh", "asf/amc"):
        fixed = {**fixed, "units": units}
    motion = reader(path, **fixed, **reader_options)
    user_map = load_skeleton_map(skeleton_map) if skeleton_map is not None else None
    motion.canonical = resolve_canonical_map(motion.joint_names, user_map, source=path)
    motion.validate()
    return motion


def _reader(
    fmt: str, asf: Path | None, body_models: Path | None
) -> tuple[Callable[..., HumanMotion], dict[str, Any]]:
    """Reader function and the keyword arguments this module fills in."""
    if fmt == "bvh":
        from humimic.motion.io.bvh import read_bvh

        return read_bvh, {}
    if fmt == "asf/amc":
        from humimic.motion.io.asfamc import read_asf_amc

        return read_asf_amc, {"asf_path": asf}
    if fmt == "joints":
        from humimic.motion.io.joints_npz import read_joints_npz

        return read_joints_npz, {}
    if fmt == "smpl":
        from humimic.motion.io.smpl import read_smpl_npz

        return read_smpl_npz, {"body_models": body_models}
    from humimic.motion.io.smpl import read_gvhmr

    return read_gvhmr, {"body_models": body_models}
