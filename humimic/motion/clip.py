"""The robot reference clip: humimic's versioned ``.npz`` contract between stages.

A clip holds a robot trajectory with every array named: joints by ``joint_names``, bodies
by ``body_names``. Loading validates shapes, names, finiteness and units and fails with one
line naming the file. Dimension names: ``T`` frames, ``J`` joints, ``B`` bodies.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from humimic.errors import InputFileError
from humimic.files import atomic_write, json_default

SCHEMA_VERSION = 1
"""Bump when a field changes meaning; loaders refuse newer versions."""

F64 = NDArray[np.float64]

ARRAY_FIELDS: dict[str, tuple[str, ...]] = {
    "root_pos_w": ("T", "3"),
    "root_quat_w": ("T", "4"),
    "joint_pos": ("T", "J"),
    "joint_vel": ("T", "J"),
    "body_pos_w": ("T", "B", "3"),
    "body_quat_w": ("T", "B", "4"),
    "body_lin_vel_w": ("T", "B", "3"),
    "body_ang_vel_w": ("T", "B", "3"),
    "contact_mask": ("T", "2"),
}
"""Every array field with its symbolic shape."""

_MAX_ABS: dict[str, float] = {
    "root_pos_w": 1e4,  # m: a clip kilometres away means wrong units
    "joint_pos": 4 * np.pi,  # rad: degrees stored as radians trip this
    "joint_vel": 1e3,  # rad/s
    "body_pos_w": 1e4,
    "body_lin_vel_w": 1e3,  # m/s
    "body_ang_vel_w": 1e3,  # rad/s
}
"""Loose plausibility bounds that catch unit mistakes (degrees, millimetres)."""


@dataclass
class RobotClip:
    """A robot reference motion.

    Attributes:
        robot: Robot family, e.g. ``"g1"``.
        variant: Robot variant, e.g. ``"g1_23dof_lock_wrist"``.
        fps: Frame rate in Hz.
        joint_names: ``J`` joint names; columns of ``joint_pos``/``joint_vel``.
        body_names: ``B`` body names; rows of the ``body_*`` arrays.
        root_pos_w: ``(T, 3)`` pelvis position in world, m.
        root_quat_w: ``(T, 4)`` pelvis orientation in world, wxyz.
        joint_pos: ``(T, J)`` joint angles, rad.
        joint_vel: ``(T, J)`` joint velocities, rad/s.
        body_pos_w: ``(T, B, 3)`` body positions in world, m.
        body_quat_w: ``(T, B, 4)`` body orientations in world, wxyz.
        body_lin_vel_w: ``(T, B, 3)`` body linear velocities in world, m/s.
        body_ang_vel_w: ``(T, B, 3)`` body angular velocities in world, rad/s.
        contact_mask: ``(T, 2)`` foot contact, columns [left, right], values 0 or 1.
        source_file: The human motion file this clip came from ("" if none).
        source_sha256: SHA-256 of the source file ("" if none).
        settings: Processing settings used to make the clip (JSON-serialisable).
        report: Quality report (JSON-serialisable; ``report["verdict"]`` is pass/warn/fail).
        human_joint_names: Names of the ``K`` processed human joints the clip was fitted to
            (empty when the clip did not come from human motion).
        human_parents: ``(K,)`` parent index per human joint, ``-1`` for the root.
        human_pos_w: ``(T, K, 3)`` processed human joint positions, m, for side-by-side views.
    """

    robot: str
    variant: str
    fps: float
    joint_names: list[str]
    body_names: list[str]
    root_pos_w: F64
    root_quat_w: F64
    joint_pos: F64
    joint_vel: F64
    body_pos_w: F64
    body_quat_w: F64
    body_lin_vel_w: F64
    body_ang_vel_w: F64
    contact_mask: F64
    source_file: str = ""
    source_sha256: str = ""
    settings: dict[str, Any] = field(default_factory=dict)
    report: dict[str, Any] = field(default_factory=dict)
    human_joint_names: list[str] = field(default_factory=list)
    human_parents: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    human_pos_w: F64 = field(default_factory=lambda: np.zeros((0, 0, 3)))

    @property
    def num_frames(self) -> int:
        """Number of frames ``T``."""
        return int(self.joint_pos.shape[0])

    @property
    def duration_s(self) -> float:
        """Clip length in seconds, ``(T - 1) / fps``."""
        return max(self.num_frames - 1, 0) / self.fps

    def body_index(self, name: str) -> int:
        """Row of a body in the ``body_*`` arrays, by name."""
        return self.body_names.index(name)

    def joint_index(self, name: str) -> int:
        """Column of a joint in ``joint_pos``, by name."""
        return self.joint_names.index(name)

    def validate(self, where: object = "<clip>") -> None:
        """Raise :class:`InputFileError` naming ``where`` if any field is inconsistent."""
        problems = _problems(self)
        if problems:
            raise InputFileError(where, "invalid clip: " + "; ".join(problems))


def _problems(clip: RobotClip) -> list[str]:
    """List every inconsistency of ``clip`` (empty when valid)."""
    problems: list[str] = []
    if not (np.isfinite(clip.fps) and clip.fps > 0):
        problems.append(f"fps must be positive, got {clip.fps}")
    if len(set(clip.joint_names)) != len(clip.joint_names):
        problems.append("duplicate joint names")
    if len(set(clip.body_names)) != len(clip.body_names):
        problems.append("duplicate body names")
    sizes = {"J": len(clip.joint_names), "B": len(clip.body_names), "3": 3, "4": 4, "2": 2}
    sizes["T"] = int(np.shape(clip.joint_pos)[0]) if np.ndim(clip.joint_pos) else -1
    if sizes["T"] < 1:
        problems.append("clip has zero frames")
    for name, dims in ARRAY_FIELDS.items():
        value = np.asarray(getattr(clip, name))
        expected = tuple(sizes[d] for d in dims)
        if value.shape != expected:
            problems.append(f"{name} has shape {value.shape}, expected {expected} {dims}")
        elif not np.all(np.isfinite(value)):
            problems.append(f"{name} contains NaN or inf")
        elif name in _MAX_ABS and value.size and np.max(np.abs(value)) > _MAX_ABS[name]:
            problems.append(f"{name} exceeds ±{_MAX_ABS[name]:g} (wrong units?)")
    for name in ("root_quat_w", "body_quat_w"):
        value = np.asarray(getattr(clip, name))
        if value.shape and value.shape[-1] == 4 and np.all(np.isfinite(value)):
            norm_err = np.abs(np.linalg.norm(value, axis=-1) - 1.0)
            if norm_err.size and norm_err.max() > 1e-3:
                problems.append(f"{name} is not unit-norm (max error {norm_err.max():.2g})")
    k = len(clip.human_joint_names)
    if k and (
        np.shape(clip.human_pos_w) != (sizes["T"], k, 3)
        or np.shape(clip.human_parents) != (k,)
        or not np.all(np.isfinite(clip.human_pos_w))
    ):
        problems.append(f"human_pos_w/human_parents do not match {k} human joints and T frames")
    mask = np.asarray(clip.contact_mask)
    if mask.size and np.all(np.isfinite(mask)) and not np.all((mask == 0) | (mask == 1)):
        problems.append("contact_mask values must be 0 or 1")
    return problems


def save_clip(clip: RobotClip, path: str | Path) -> Path:
    """Validate and write ``clip`` to ``path`` (``.npz``) atomically.

    The report is also written beside it as ``<clip>.report.json``.
    """
    path = Path(path)
    clip.validate(path)
    arrays: dict[str, Any] = {
        name: np.asarray(getattr(clip, name), dtype=np.float64) for name in ARRAY_FIELDS
    }
    arrays.update(
        schema_version=np.int64(SCHEMA_VERSION),
        robot=np.str_(clip.robot),
        variant=np.str_(clip.variant),
        fps=np.float64(clip.fps),
        joint_names=np.array(clip.joint_names, dtype=np.str_),
        body_names=np.array(clip.body_names, dtype=np.str_),
        source_file=np.str_(clip.source_file),
        source_sha256=np.str_(clip.source_sha256),
        settings_json=np.str_(json.dumps(clip.settings, default=json_default)),
        report_json=np.str_(json.dumps(clip.report, default=json_default)),
        human_joint_names=np.array(clip.human_joint_names, dtype=np.str_),
        human_parents=np.asarray(clip.human_parents, dtype=np.int64),
        human_pos_w=np.asarray(clip.human_pos_w, dtype=np.float64),
    )

    def write_npz(tmp: Path) -> None:
        # np.savez_compressed uses zlib level 6; level 1 is several times faster and the
        # files are barely larger. Any npz reader (np.load) reads the result.
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
            for name, value in arrays.items():
                with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                    np.lib.format.write_array(member, np.asanyarray(value), allow_pickle=False)

    atomic_write(path, write_npz)
    report_path = report_path_for(path)
    text = json.dumps(clip.report, indent=2, default=json_default)
    atomic_write(report_path, lambda tmp: tmp.write_text(text + "\n"))
    return path


def report_path_for(clip_path: str | Path) -> Path:
    """``<clip>.report.json`` beside a clip file."""
    clip_path = Path(clip_path)
    return clip_path.with_name(clip_path.stem + ".report.json")


def _schema_version(path: Path, value: np.ndarray) -> int:
    """The clip's integer schema version; a string, array or float is a damaged file."""
    if value.shape != () or value.dtype.kind not in "iu":
        raise InputFileError(
            path, f"schema_version must be one integer, got {value.dtype} of shape {value.shape}"
        )
    return int(value)


def load_clip(path: str | Path) -> RobotClip:
    """Read and validate a clip written by :func:`save_clip`.

    Raises:
        InputFileError: missing, corrupt, wrong schema or inconsistent file.
    """
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "file not found")
    try:
        with np.load(path, allow_pickle=False) as data:
            raw = {key: data[key] for key in data.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as err:
        raise InputFileError(path, f"not a readable .npz clip ({err})") from err
    if "schema_version" not in raw:
        raise InputFileError(
            path, "not a humimic clip (no schema_version); convert it with 'humimic retarget'"
        )
    version = _schema_version(path, raw["schema_version"])
    if version > SCHEMA_VERSION:
        raise InputFileError(
            path, f"clip schema {version} is newer than this humimic ({SCHEMA_VERSION})"
        )
    required = (*ARRAY_FIELDS, "robot", "variant", "fps", "joint_names", "body_names")
    missing = [key for key in required if key not in raw]
    if missing:
        raise InputFileError(path, f"clip is missing fields {missing}")
    try:
        clip = RobotClip(
            robot=str(raw["robot"]),
            variant=str(raw["variant"]),
            fps=float(raw["fps"]),
            joint_names=[str(n) for n in raw["joint_names"]],
            body_names=[str(n) for n in raw["body_names"]],
            **{name: np.asarray(raw[name], dtype=np.float64) for name in ARRAY_FIELDS},
            source_file=str(raw.get("source_file", "")),
            source_sha256=str(raw.get("source_sha256", "")),
            settings=json.loads(str(raw.get("settings_json", "{}"))),
            report=json.loads(str(raw.get("report_json", "{}"))),
            human_joint_names=[str(n) for n in raw.get("human_joint_names", [])],
            human_parents=np.asarray(raw.get("human_parents", np.zeros(0)), dtype=np.int64),
            human_pos_w=np.asarray(raw.get("human_pos_w", np.zeros((0, 0, 3))), dtype=np.float64),
        )
    except (ValueError, TypeError) as err:
        raise InputFileError(path, f"corrupt clip field ({err})") from err
    clip.validate(path)
    return clip
