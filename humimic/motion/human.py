"""Human motion as every reader returns it: named joints in humimic's world frame.

Readers convert at the file edge, so a :class:`HumanMotion` is always z-up, x-forward
where the source says so, metres, seconds and ``wxyz`` quaternions. Dimension names:
``T`` frames, ``K`` source joints.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from humimic.errors import InputFileError

CANONICAL_JOINTS: tuple[str, ...] = (
    "pelvis",
    "spine",
    "chest",
    "neck",
    "head",
    "left_shoulder",
    "left_elbow",
    "left_wrist",
    "right_shoulder",
    "right_elbow",
    "right_wrist",
    "left_hip",
    "left_knee",
    "left_ankle",
    "left_toe",
    "right_hip",
    "right_knee",
    "right_ankle",
    "right_toe",
)
"""The one human joint set every skeleton is mapped onto (shoulder = upper-arm joint)."""

REQUIRED_JOINTS: tuple[str, ...] = (
    "pelvis",
    "head",
    "left_shoulder",
    "left_elbow",
    "left_wrist",
    "right_shoulder",
    "right_elbow",
    "right_wrist",
    "left_hip",
    "left_knee",
    "left_ankle",
    "right_hip",
    "right_knee",
    "right_ankle",
)
"""Canonical joints without which a motion cannot be retargeted."""


@dataclass
class HumanMotion:
    """A human motion clip in humimic's conventions.

    Attributes:
        fps: Frame rate in Hz.
        joint_names: Source joint names, ``K`` of them, in source order.
        parents: ``(K,)`` parent index per joint, ``-1`` for the root.
        joint_pos_w: ``(T, K, 3)`` joint positions in the world frame, metres, z-up.
        joint_quat_w: ``(T, K, 4)`` joint orientations (wxyz) in the world frame, or
            ``None`` when the source has positions only.
        canonical: Map from canonical joint name (see :data:`CANONICAL_JOINTS`) to a name
            in ``joint_names``. Readers fill it from the skeleton's naming family.
        source: Path of the file this motion came from.
        source_format: Reader name, e.g. ``"bvh"``, ``"asf/amc"``, ``"smpl"``.
        com_w: ``(T, 3)`` centre of mass in metres when the source can compute it better
            than segment mass fractions (body-model meshes), else ``None``.
        ground_points_w: ``(T, P, 3)`` points for centre-of-pressure estimation (e.g. a
            body mesh's vertices) or ``None`` to use joints.
        meta: Free-form facts about the source (units, up axis, Euler orders, ...).
    """

    fps: float
    joint_names: list[str]
    parents: NDArray[np.int64]
    joint_pos_w: NDArray[np.float64]
    joint_quat_w: NDArray[np.float64] | None = None
    canonical: dict[str, str] = field(default_factory=dict)
    source: str = ""
    source_format: str = ""
    com_w: NDArray[np.float64] | None = None
    ground_points_w: NDArray[np.float64] | None = None
    meta: dict[str, object] = field(default_factory=dict)

    @property
    def num_frames(self) -> int:
        """Number of frames ``T``."""
        return int(self.joint_pos_w.shape[0])

    @property
    def duration_s(self) -> float:
        """Clip length in seconds, ``(T - 1) / fps``."""
        return max(self.num_frames - 1, 0) / self.fps

    def index(self, name: str) -> int:
        """Index of a source joint by name."""
        return self.joint_names.index(name)

    def canonical_pos_w(self, name: str) -> NDArray[np.float64]:
        """``(T, 3)`` world position of a canonical joint."""
        return self.joint_pos_w[:, self.index(self.canonical[name])]

    def validate(self) -> None:
        """Check shapes, names and finiteness; raise :class:`InputFileError` naming the source."""
        k = len(self.joint_names)
        problems: list[str] = []
        if self.fps <= 0 or not np.isfinite(self.fps):
            problems.append(f"frame rate must be positive, got {self.fps}")
        if self.joint_pos_w.ndim != 3 or self.joint_pos_w.shape[1:] != (k, 3):
            problems.append(
                f"joint positions have shape {self.joint_pos_w.shape}, expected (T, {k}, 3)"
            )
        elif self.joint_pos_w.shape[0] == 0:
            problems.append("motion has zero frames")
        elif not np.all(np.isfinite(self.joint_pos_w)):
            bad = int(np.argwhere(~np.isfinite(self.joint_pos_w))[0][0])
            problems.append(f"non-finite joint position (NaN or inf) at frame {bad}")
        if self.parents.shape != (k,):
            problems.append(f"parents has shape {self.parents.shape}, expected ({k},)")
        if self.joint_quat_w is not None and self.joint_quat_w.shape != (
            *self.joint_pos_w.shape[:2],
            4,
        ):
            problems.append(f"joint orientations have shape {self.joint_quat_w.shape}")
        unknown = [c for c in self.canonical if c not in CANONICAL_JOINTS]
        missing = [s for s in self.canonical.values() if s not in self.joint_names]
        if unknown:
            problems.append(f"unknown canonical joints {unknown}")
        if missing:
            problems.append(f"canonical map names joints not in the skeleton: {missing}")
        if problems:
            raise InputFileError(
                Path(self.source) if self.source else "<motion>", "; ".join(problems)
            )
