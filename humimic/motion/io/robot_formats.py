"""Robot clips from other tools' formats (writers: :mod:`humimic.motion.io.robot_writers`,
re-exported here).

Readers take the root trajectory and joint angles from the file, match joints **by name** to the
target variant and rebuild everything else (body poses, velocities, contacts) with
:func:`humimic.motion.robot_clip.make_robot_clip`. Joints the variant needs but the file lacks
are an error; joints the variant lacks are dropped and listed in ``settings["dropped_joints"]``.

Formats:
    * Unitree LAFAN1 G1 CSV: no header, one row per frame (30 fps): root x y z (m), root
      quaternion **x y z w**, then the 29 joint angles (rad) in Unitree motor order.
    * BeyondMimic / mjlab / holosoma ``.npz``: ``fps``, ``joint_pos`` (T, J), or (T, 7 + J) with
      the root pose (position, wxyz) first as holosoma stores it, ``joint_vel``, ``body_*_w``
      with the root body first, and optionally ``joint_names``/``body_names``.
    * PBHC / ASAP ``.pkl``: ``{motion_name: {root_trans_offset, root_rot (xyzw), dof (T, 23),
      fps, contact_mask, ...}}`` written with joblib or pickle. Pickles run code when loaded,
      so they are read only on request (``trust_pickle=True``, CLI ``--trust-pickle``).
      Their conventions are undone: ``contact_mask`` 0.5 is PBHC's padding (unknown, recomputed
      from the feet), and a clip floating or sinking more than :data:`GROUND_TOLERANCE_M` (ASAP's
      stand 5-13 cm up) is shifted onto the ground; ``settings`` records both.
"""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from humimic.errors import HumimicError, InputFileError
from humimic.geometry import quat_np
from humimic.motion.clip import RobotClip
from humimic.motion.io.robot_writers import (
    UNITREE_CSV_FPS,
    unitree_motor_joint_names,
    write_beyondmimic_npz,
    write_unitree_csv,
)
from humimic.motion.robot_clip import (
    forward_kinematics,
    ground_root,
    make_robot_clip,
    robot_contact_mask,
)
from humimic.robot.lookup import joint_trajectory_to_qpos
from humimic.robot.model import build_model
from humimic.robot.spec import RobotSpec, load_robot_spec

__all__ = [
    "GROUND_TOLERANCE_M",
    "ISAACLAB_G1_JOINT_ORDER",
    "PBHC_CONTACT_PADDING",
    "PBHC_VARIANTS",
    "UNITREE_CSV_FPS",
    "load_pickle",
    "read_beyondmimic_npz",
    "read_lafan_csv",
    "read_pbhc_pkl",
    "unitree_motor_joint_names",
    "write_beyondmimic_npz",
    "write_unitree_csv",
]

F64 = NDArray[np.float64]

PBHC_VARIANTS = {23: "g1_23dof_lock_wrist", 29: "g1_29dof"}
"""PBHC ``dof`` width -> the variant whose joint order it uses."""

PBHC_CONTACT_PADDING = 0.5
"""``contact_mask`` value PBHC writes on frames it did not label (blend-in/out padding)."""

GROUND_TOLERANCE_M = 0.02
"""Imported clips whose soles float or sink more than this are shifted onto z = 0 (PBHC's
default pose at root z = 0.80 m stands 1.6 cm up on this model and is left as it is)."""

ISAACLAB_G1_JOINT_ORDER = [
    "left_hip_pitch_joint", "right_hip_pitch_joint", "waist_yaw_joint",
    "left_hip_roll_joint", "right_hip_roll_joint", "waist_roll_joint",
    "left_hip_yaw_joint", "right_hip_yaw_joint", "waist_pitch_joint",
    "left_knee_joint", "right_knee_joint",
    "left_shoulder_pitch_joint", "right_shoulder_pitch_joint",
    "left_ankle_pitch_joint", "right_ankle_pitch_joint",
    "left_shoulder_roll_joint", "right_shoulder_roll_joint",
    "left_ankle_roll_joint", "right_ankle_roll_joint",
    "left_shoulder_yaw_joint", "right_shoulder_yaw_joint",
    "left_elbow_joint", "right_elbow_joint",
    "left_wrist_roll_joint", "right_wrist_roll_joint",
    "left_wrist_pitch_joint", "right_wrist_pitch_joint",
    "left_wrist_yaw_joint", "right_wrist_yaw_joint",
]  # fmt: skip
"""Joint order of the 29-DoF G1 in Isaac Lab (breadth-first over the URDF tree), which
BeyondMimic's ``csv_to_npz`` writes without storing names; used when a file has none."""


def read_lafan_csv(path: str | Path, variant: str, *, fps: float = UNITREE_CSV_FPS) -> RobotClip:
    """Read a Unitree LAFAN1 G1 retargeted CSV (see the module docstring) into a clip.

    Raises:
        InputFileError: Unreadable file, wrong column count or a non-number (names the line).
    """
    path = Path(path)
    spec = load_robot_spec(variant)
    names = unitree_motor_joint_names(spec.robot)
    rows = _read_csv_rows(path, 7 + len(names))
    quat = quat_np.xyzw_to_wxyz(rows[:, 3:7])
    _check_quat_rows(path, quat, first_line=1)
    return _clip_from_named_joints(
        path, spec, rows[:, :3], quat, names, rows[:, 7:], fps, source_format="unitree_csv"
    )


def read_beyondmimic_npz(
    path: str | Path, variant: str, joint_names: list[str] | None = None
) -> RobotClip:
    """Read a BeyondMimic / mjlab / holosoma motion ``.npz`` into a clip.

    Args:
        path: The ``.npz`` file.
        variant: Target robot variant.
        joint_names: Names of the ``joint_pos`` columns, needed when the file has no
            ``joint_names`` (BeyondMimic's own files); ignored otherwise.

    Raises:
        InputFileError: Missing keys, unknown joint order, inconsistent shapes.
    """
    path = Path(path)
    raw = _load_npz(path)
    missing = [k for k in ("fps", "joint_pos") if k not in raw]
    if missing:
        raise InputFileError(path, f"not a BeyondMimic motion: missing keys {missing}")
    names = [str(n) for n in raw["joint_names"]] if "joint_names" in raw else joint_names
    width = np.shape(raw["joint_pos"])[-1]
    if names is None and width in (29, 36) and variant.startswith("g1_"):
        names = ISAACLAB_G1_JOINT_ORDER  # BeyondMimic's own files: Isaac Lab order, no names
    if names is None:
        raise InputFileError(
            path, "file stores no joint_names; pass the joint order of joint_pos (joint_names)"
        )
    fps = float(np.asarray(raw["fps"], np.float64).reshape(-1)[0])
    columns = np.asarray(raw["joint_pos"], np.float64)
    if columns.ndim != 2:
        raise InputFileError(path, f"joint_pos has shape {columns.shape}, expected (T, J)")
    if columns.shape[1] == len(names) + 7:  # holosoma: root position and wxyz first
        root_pos, root_quat, joints = columns[:, :3], columns[:, 3:7], columns[:, 7:]
    elif columns.shape[1] == len(names):
        root_pos, root_quat = _root_from_bodies(path, raw, columns.shape[0])
        joints = columns
    else:
        raise InputFileError(
            path, f"joint_pos has {columns.shape[1]} columns for {len(names)} joint names"
        )
    _check_quat_rows(path, root_quat, first_line=None)
    spec = load_robot_spec(variant)
    clip = _clip_from_named_joints(
        path, spec, root_pos, root_quat, names, joints, fps, source_format="beyondmimic_npz"
    )
    if "joint_names" not in raw and joint_names is None:
        clip.settings["joint_order_assumed"] = "Isaac Lab G1 29-DoF (BeyondMimic)"
    return clip


def read_pbhc_pkl(
    path: str | Path, variant: str, *, trust_pickle: bool, motion_name: str | None = None
) -> RobotClip:
    """Read one motion of a PBHC / ASAP ``.pkl`` (see the module docstring) into a clip.

    Args:
        path: The pickle (joblib or plain).
        variant: Target robot variant.
        trust_pickle: Must be ``True``: loading a pickle runs code stored in it.
        motion_name: Which motion of the file; may be omitted when it holds only one.

    Raises:
        HumimicError: ``trust_pickle`` is false.
        InputFileError: Unreadable file, unknown motion, missing keys or bad shapes.
    """
    path = Path(path)
    if not trust_pickle:
        raise HumimicError(
            f"{path}: refusing to load a pickle (loading runs code stored in the file); "
            "pass --trust-pickle if you trust where it came from"
        )
    motion = _pick_motion(path, load_pickle(path), motion_name)
    missing = [k for k in ("root_trans_offset", "root_rot", "dof", "fps") if k not in motion]
    if missing:
        raise InputFileError(path, f"PBHC motion lacks keys {missing}")
    dof = np.asarray(motion["dof"], np.float64)
    if dof.ndim != 2 or dof.shape[1] not in PBHC_VARIANTS:
        raise InputFileError(path, f"dof has shape {dof.shape}, expected (T, 23) or (T, 29)")
    names = list(load_robot_spec(PBHC_VARIANTS[dof.shape[1]]).joint_names)
    quat = quat_np.xyzw_to_wxyz(np.asarray(motion["root_rot"], np.float64))
    _check_quat_rows(path, quat, first_line=None)
    contact = motion.get("contact_mask")
    if contact is not None:
        contact = np.asarray(contact, np.float64)
        # PBHC pads blend-in/out frames with 0.5: unknown, recomputed from the feet.
        padded = np.abs(contact - PBHC_CONTACT_PADDING) < 1e-6
        contact = np.where(padded, np.nan, (contact > 0.5).astype(np.float64))
    spec = load_robot_spec(variant)
    root = np.asarray(motion["root_trans_offset"], np.float64)
    fps = float(np.asarray(motion["fps"]).reshape(-1)[0])
    return _clip_from_named_joints(
        path, spec, root, quat, names, dof, fps, source_format="pbhc_pkl",
        contact_mask=contact, ground=True,
    )  # fmt: skip


def _clip_from_named_joints(
    path: Path,
    spec: RobotSpec,
    root_pos: F64,
    root_quat: F64,
    names: list[str],
    values: F64,
    fps: float,
    *,
    source_format: str,
    contact_mask: F64 | None = None,
    ground: bool = False,
) -> RobotClip:
    """Match file joints to ``spec`` by name and build the clip.

    Args:
        contact_mask: Shape (T, 2) with NaN where the file does not know (filled from the
            feet as :func:`~humimic.motion.robot_clip.robot_contact_mask` finds them).
        ground: Shift the root so the soles stand on z = 0 when they float or sink by more
            than :data:`GROUND_TOLERANCE_M` (recorded in ``settings["grounded_by_m"]``).
    """
    t_len = values.shape[0]
    if np.shape(root_pos) != (t_len, 3) or np.shape(root_quat) != (t_len, 4):
        raise InputFileError(path, f"root arrays do not have {t_len} frames")
    if contact_mask is not None and np.shape(contact_mask) != (t_len, 2):
        raise InputFileError(path, f"contact_mask has shape {np.shape(contact_mask)}")
    missing = [n for n in spec.joint_names if n not in names]
    if missing:
        raise InputFileError(path, f"lacks joints {missing} needed by {spec.variant}")
    if not (np.all(np.isfinite(values)) and np.all(np.isfinite(root_pos)) and fps > 0):
        raise InputFileError(path, "contains NaN/inf values or a non-positive fps")
    dropped = [n for n in names if n not in spec.joint_names]
    settings: dict[str, Any] = {"source_format": source_format, "dropped_joints": dropped}
    if dropped:
        columns = [names.index(n) for n in dropped]
        settings["dropped_joints_max_abs_rad"] = float(np.abs(values[:, columns]).max())
    joints = values[:, [names.index(n) for n in spec.joint_names]]
    model = build_model(spec)
    root_pos = np.asarray(root_pos, np.float64)
    root_quat = quat_np.normalize(root_quat)
    if ground:
        grounded, shift = ground_root(model, spec, root_pos, root_quat, joints)
        if abs(shift) > GROUND_TOLERANCE_M:
            root_pos, settings["grounded_by_m"] = grounded, round(shift, 4)
    if contact_mask is not None and np.isnan(contact_mask).any():
        unknown = np.isnan(contact_mask)
        qpos = joint_trajectory_to_qpos(model, spec, root_pos, root_quat, joints)
        kin = forward_kinematics(model, qpos)
        found = robot_contact_mask(model, spec, kin["body_pos_w"], kin["body_quat_w"], fps)
        contact_mask = np.where(unknown, found, contact_mask)
        settings["contact_recomputed_frames"] = int(unknown.any(axis=1).sum())
    return make_robot_clip(
        spec,
        model,
        root_pos,
        root_quat,
        joints,
        fps,
        contact_mask=contact_mask,
        source_file=path,
        settings=settings,
    )


def _read_csv_rows(path: Path, columns: int) -> F64:
    """Numbers of a header-less CSV with ``columns`` values per line, shape (T, columns)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise InputFileError(path, f"cannot read as text ({err})") from err
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split(",")
        if len(fields) != columns:
            raise InputFileError(
                path,
                f"line {number}: expected {columns} comma-separated values, found {len(fields)}",
            )
        try:
            row = [float(f) for f in fields]
        except ValueError:
            raise InputFileError(path, f"line {number}: not all values are numbers") from None
        if not np.all(np.isfinite(row)):
            raise InputFileError(path, f"line {number}: NaN or inf value")
        rows.append(row)
    if not rows:
        raise InputFileError(path, "no data rows")
    return np.asarray(rows, np.float64)


def _check_quat_rows(path: Path, quat: F64, first_line: int | None) -> None:
    """Reject zero or non-finite root quaternions, naming the line (CSV) or frame."""
    norm = np.linalg.norm(quat, axis=-1)
    bad = np.flatnonzero(~np.isfinite(norm) | (norm < 1e-6))
    if bad.size:
        where = f"line {bad[0] + first_line}" if first_line is not None else f"frame {bad[0]}"
        raise InputFileError(path, f"{where}: root quaternion is zero or not finite")


def _load_npz(path: Path) -> dict[str, np.ndarray]:
    """All arrays of an ``.npz`` without pickles."""
    if not path.is_file():
        raise InputFileError(path, "file not found")
    try:
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as err:
        raise InputFileError(path, f"not a readable .npz ({err})") from err


def _root_from_bodies(path: Path, raw: dict[str, np.ndarray], t_len: int) -> tuple[F64, F64]:
    """Root pose from ``body_pos_w``/``body_quat_w``: the ``pelvis`` row, else the first."""
    if "body_pos_w" not in raw or "body_quat_w" not in raw:
        raise InputFileError(path, "no root pose: joint_pos has no root and body_pos_w is missing")
    names = [str(n) for n in raw.get("body_names", [])]
    row = names.index("pelvis") if "pelvis" in names else 0
    pos = np.asarray(raw["body_pos_w"], np.float64)
    quat = np.asarray(raw["body_quat_w"], np.float64)
    if pos.ndim != 3 or pos.shape[0] != t_len or quat.shape[:2] != pos.shape[:2]:
        raise InputFileError(path, f"body_pos_w {pos.shape} / body_quat_w {quat.shape} mismatch")
    return pos[:, row], quat[:, row]


def load_pickle(path: Path) -> Any:
    """Unpickle with joblib when installed (PBHC writes with joblib), else plain pickle."""
    if not path.is_file():
        raise InputFileError(path, "file not found")
    try:
        try:
            import joblib
        except ImportError:
            with open(path, "rb") as handle:
                return pickle.load(handle)
        return joblib.load(path)
    except ModuleNotFoundError as err:
        raise InputFileError(path, f"needs Python module {err.name!r} to unpickle") from err
    except (OSError, EOFError, pickle.UnpicklingError, ValueError, TypeError, KeyError) as err:
        raise InputFileError(path, f"not a readable pickle ({err})") from err


def _pick_motion(path: Path, data: Any, motion_name: str | None) -> dict[str, Any]:
    """The requested motion dict of a PBHC file (a single-motion dict is accepted too)."""
    if not isinstance(data, dict):
        raise InputFileError(path, f"expected a dict of motions, found {type(data).__name__}")
    if "dof" in data:
        return data
    if motion_name is None:
        if len(data) != 1:
            raise InputFileError(path, f"holds {len(data)} motions; choose one of {list(data)}")
        motion_name = next(iter(data))
    if motion_name not in data or not isinstance(data[motion_name], dict):
        raise InputFileError(path, f"no motion {motion_name!r}; found {list(data)}")
    return data[motion_name]
