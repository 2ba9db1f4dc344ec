"""Robot clips to other tools' formats, and the Unitree motor order the CSV uses both ways.

Formats written (read back by :mod:`humimic.motion.io.robot_formats`):
    * BeyondMimic / mjlab ``.npz``: float32 arrays named as mjlab reads them.
    * Unitree LAFAN1-style CSV: root x y z, root quaternion x y z w, then every motor's
      joint angle in Unitree motor order.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from humimic.errors import HumimicError
from humimic.files import atomic_write
from humimic.geometry import quat_np
from humimic.motion.clip import RobotClip
from humimic.robot.spec import available_variants, load_robot_spec

LOG = logging.getLogger(__name__)

UNITREE_CSV_FPS = 30.0
"""Frame rate of Unitree's LAFAN1 retargeted CSV files."""


def unitree_motor_joint_names(robot: str = "g1") -> list[str]:
    """Joint names of every motor slot of ``robot`` in Unitree motor order (29 for the G1)."""
    specs = [load_robot_spec(v) for v in available_variants() if v.startswith(f"{robot}_")]
    if not specs:
        raise HumimicError(f"no robot variants found for robot {robot!r}")
    full = max(specs, key=lambda s: len(s.joint_names))
    order = np.argsort(np.asarray(full.motor_index))
    return [full.joint_names[i] for i in order]


def write_beyondmimic_npz(clip: RobotClip, path: str | Path) -> Path:
    """Write ``clip`` as a BeyondMimic / mjlab motion ``.npz`` (float32, atomically).

    Keys: ``fps`` (1,), ``joint_pos``/``joint_vel`` (T, J), ``body_pos_w``/``body_quat_w``
    (wxyz)/``body_lin_vel_w``/``body_ang_vel_w`` (T, B, ·), ``joint_names``, ``body_names``.
    Bodies are in MuJoCo (depth-first) order with the root first; joints in the clip's order.
    """
    path = Path(path)
    clip.validate("clip to write")
    arrays: dict[str, Any] = {
        "fps": np.array([clip.fps], dtype=np.float32),
        "joint_names": np.array(clip.joint_names, dtype=np.str_),
        "body_names": np.array(clip.body_names, dtype=np.str_),
    }
    for key in (
        "joint_pos",
        "joint_vel",
        "body_pos_w",
        "body_quat_w",
        "body_lin_vel_w",
        "body_ang_vel_w",
    ):
        arrays[key] = np.asarray(getattr(clip, key), dtype=np.float32)

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as handle:
            np.savez(handle, **arrays)

    return atomic_write(path, write)


def write_unitree_csv(clip: RobotClip, path: str | Path) -> Path:
    """Write ``clip`` as a Unitree LAFAN1-style CSV at the clip's own frame rate.

    Columns: root x y z, root quaternion x y z w, then every motor's joint angle in Unitree
    motor order; joints the clip's variant lacks (e.g. locked wrists) are written as 0. No
    resampling: a clip that is not 30 fps is logged, since Unitree's tools assume 30 fps.
    """
    path = Path(path)
    clip.validate("clip to write")
    names = unitree_motor_joint_names(clip.robot)
    extra = [n for n in clip.joint_names if n not in names]
    if extra:
        raise HumimicError(f"{path}: joints {extra} have no Unitree motor slot")
    table = np.zeros((clip.num_frames, 7 + len(names)))
    table[:, :3] = clip.root_pos_w
    table[:, 3:7] = quat_np.wxyz_to_xyzw(clip.root_quat_w)
    for j, name in enumerate(clip.joint_names):
        table[:, 7 + names.index(name)] = clip.joint_pos[:, j]
    if abs(clip.fps - UNITREE_CSV_FPS) > 1e-6:
        LOG.warning("%s: written at the clip's %g fps (Unitree CSVs are 30 fps)", path, clip.fps)
    return atomic_write(path, lambda tmp: np.savetxt(tmp, table, fmt="%.8g", delimiter=","))
