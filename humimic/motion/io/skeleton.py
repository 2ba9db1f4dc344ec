"""Skeleton helpers shared by the BVH and ASF/AMC readers: forward kinematics, the up axis,
the length unit a skeleton's height implies, and Y-up to Z-up.

Dimension names: ``T`` frames, ``K`` joints.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import overload

import numpy as np
from numpy.typing import NDArray

from humimic.errors import ConfigError
from humimic.geometry import quat_np

Array = NDArray[np.float64]

UNIT_SCALES: dict[str, float] = {
    "m": 1.0,
    "cm": 0.01,
    "mm": 0.001,
    "inch": 0.0254,
    "cmu": 0.0254 / 0.45,  # CMU mocap length unit: 1/0.45 inch = 0.056444 m
}
"""Metres per file length unit for the units a skeleton's height is matched against."""

_REST_HEIGHT_M = 1.6  # ankle-to-head-joint bone path of an adult; tops of heads are often absent
PLAUSIBLE_HEIGHT_M = (1.2, 2.1)
"""Ankle-to-head-joint path (m) a unit must give to be chosen: adults and older children."""
AXES = {"x": 0, "y": 1, "z": 2}
"""Column of each axis name."""


def identity_quats(t: int, k: int) -> Array:
    """``(T, K, 4)`` identity rotations (wxyz)."""
    q = np.zeros((t, k, 4))
    q[..., 0] = 1.0
    return q


def forward_kinematics(
    parents: NDArray[np.int64], local_t: Array, local_q: Array | None = None
) -> tuple[Array, Array]:
    """World positions and orientations from local transforms, vectorised over frames.

    Args:
        parents: ``(K,)`` parent indices, every parent before its children, ``-1`` for roots.
        local_t: ``(T, K, 3)`` translation of each joint in its parent's frame.
        local_q: ``(T, K, 4)`` rotation (wxyz) of each joint relative to its parent; None
            for identity (the rest pose).

    Returns:
        ``(T, K, 3)`` positions and ``(T, K, 4)`` orientations in the root's frame.
    """
    if local_q is None:
        local_q = identity_quats(*local_t.shape[:2])
    pos = np.empty(local_t.shape)
    quat = np.empty((*pos.shape[:-1], 4))
    for j, p in enumerate(parents):
        if p < 0:
            pos[:, j] = local_t[:, j]
            quat[:, j] = local_q[:, j]
        else:
            pos[:, j] = pos[:, p] + quat_np.rotate(quat[:, p], local_t[:, j])
            quat[:, j] = quat_np.multiply(quat[:, p], local_q[:, j])
    return pos, quat


def detect_up_axis(
    rest_pos: Array,
    joint_names: list[str],
    canonical: Mapping[str, str],
    fallback: Array | None = None,
) -> str:
    """``"y"`` or ``"z"``: the axis from the feet to the head (or the tallest one).

    Args:
        rest_pos: ``(K, 3)`` rest-pose joint positions.
        joint_names: ``K`` names.
        canonical: Canonical map of the skeleton, used to find head and ankles.
        fallback: ``(K, 3)`` pose used instead when the rest pose has no extent.
    """
    if np.ptp(rest_pos, axis=0).max() < 1e-9 and fallback is not None:
        rest_pos = fallback
    canon = canonical
    if all(k in canon for k in ("head", "left_ankle", "right_ankle")):
        idx = {n: i for i, n in enumerate(joint_names)}
        feet = 0.5 * (rest_pos[idx[canon["left_ankle"]]] + rest_pos[idx[canon["right_ankle"]]])
        vertical = rest_pos[idx[canon["head"]]] - feet
        return "y" if abs(vertical[1]) >= abs(vertical[2]) else "z"
    extent = np.ptp(rest_pos, axis=0)
    return "y" if extent[1] >= extent[2] else "z"


def detect_unit_scale(height: float) -> tuple[str, float]:
    """Unit name and metres per unit that make a skeleton ``height`` (file units) human.

    ``height`` is the ankle-to-head-joint path of :func:`skeleton_height` (or, without a
    canonical map, the rest pose's extent). The unit that puts it inside
    :data:`PLAUSIBLE_HEIGHT_M` wins; the candidate units are >= 2.2x apart and the band is
    1.75x wide, so at most one does. With none inside, the nearest to a typical adult wins.
    """
    if not height > 0:
        return "m", 1.0
    lo, hi = PLAUSIBLE_HEIGHT_M

    def badness(unit: str) -> tuple[bool, float]:
        metres = height * UNIT_SCALES[unit]
        return (not lo <= metres <= hi, abs(np.log(metres / _REST_HEIGHT_M)))

    name = min(UNIT_SCALES, key=badness)
    return name, UNIT_SCALES[name]


def skeleton_height(
    pos: Array, parents: NDArray[np.int64], names: list[str], canonical: Mapping[str, str]
) -> float | None:
    """Ankle-to-head-joint path length along the bones, in file units, or None.

    Bone lengths are taken from the animated frames (median over up to 200 of them), not the
    rest pose: position channels replace offsets, so a rig's rest pose can be any size, and a
    path of bones does not depend on the pose (crouches, cartwheels, lying down).

    Args:
        pos: ``(T, K, 3)`` joint positions in file units.
        parents: ``(K,)`` parent indices.
        names: ``K`` joint names.
        canonical: Canonical map; None is returned without head and ankles.
    """
    if not all(k in canonical for k in ("head", "left_ankle", "right_ankle")):
        return None
    idx = {n: i for i, n in enumerate(names)}
    frames = pos[:: max(1, len(pos) // 200)]
    bone = np.zeros(len(names))
    has_parent = parents >= 0
    bone[has_parent] = np.median(
        np.linalg.norm(frames[:, has_parent] - frames[:, parents[has_parent]], axis=-1), axis=0
    )
    head = idx[canonical["head"]]
    paths = [
        _path_length(idx[canonical[a]], head, parents, bone) for a in ("left_ankle", "right_ankle")
    ]
    height = float(np.mean(paths))
    return height if height > 0 else None


def _path_length(a: int, b: int, parents: NDArray[np.int64], bone: Array) -> float:
    """Sum of bone lengths on the tree path between joints ``a`` and ``b``."""

    def up(j: int) -> list[int]:
        chain = [j]
        while parents[chain[-1]] >= 0:
            chain.append(int(parents[chain[-1]]))
        return chain

    chain_a, chain_b = up(a), up(b)
    common = set(chain_a) & set(chain_b)
    # Each joint below the common ancestor contributes the bone to its parent.
    return float(sum(bone[j] for j in chain_a + chain_b if j not in common))


def resolve_units(
    units: str,
    pos: Array,
    parents: NDArray[np.int64],
    names: list[str],
    canonical: Mapping[str, str],
    fallback_height: float,
) -> tuple[str, float, float]:
    """Unit name, metres per unit and the skeleton's height in file units.

    Args:
        units: ``"auto"`` or a key of :data:`UNIT_SCALES` (the ``units`` config key).
        pos: ``(T, K, 3)`` joint positions in file units.
        parents, names, canonical: The skeleton.
        fallback_height: Height in file units used when the skeleton lacks head or ankles.

    Raises:
        ConfigError: ``units`` is neither ``auto`` nor a known unit.
    """
    height = skeleton_height(pos, parents, names, canonical) or fallback_height
    if units == "auto":
        unit, scale = detect_unit_scale(height)
    elif units in UNIT_SCALES:
        unit, scale = units, UNIT_SCALES[units]
    else:
        raise ConfigError(f"units must be auto or one of {', '.join(UNIT_SCALES)}, got {units!r}")
    return unit, scale, height


def check_up_axis(up_axis: str | None) -> str | None:
    """``"y"``/``"z"`` (lower-cased) or ``None``; anything else is a :class:`ConfigError`."""
    if up_axis is None:
        return None
    if up_axis.lower() not in ("y", "z"):
        raise ConfigError(f"up_axis must be 'y' or 'z', got {up_axis!r}")
    return up_axis.lower()


_Q_Y_TO_Z = quat_np.from_matrix(quat_np.Y_UP_TO_Z_UP)


@overload
def y_up_to_z_up(pos: Array, quat: Array) -> tuple[Array, Array]: ...


@overload
def y_up_to_z_up(pos: Array, quat: None) -> tuple[Array, None]: ...


def y_up_to_z_up(pos: Array, quat: Array | None) -> tuple[Array, Array | None]:
    """Re-express Y-up positions ``(..., 3)`` and orientations ``(..., 4)`` in z-up.

    Orientations are conjugated (``C R C^T``), so a rest pose stays identity and local offsets
    map to ``C @ offset``.
    """
    new_pos = pos @ quat_np.Y_UP_TO_Z_UP.T
    if quat is None:
        return new_pos, None
    return new_pos, quat_np.multiply(
        quat_np.multiply(_Q_Y_TO_Z, quat), quat_np.conjugate(_Q_Y_TO_Z)
    )
