"""Quaternion and rotation helpers in numpy, ``(..., 4)`` arrays in ``wxyz`` order.

All functions broadcast over leading dimensions. Rotation matrices are ``(..., 3, 3)``
and act on column vectors (``v_w = R_wb @ v_b``).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

Array = NDArray[np.float64]


def normalize(q: ArrayLike) -> Array:
    """Unit quaternions with ``w >= 0`` (canonical half of the double cover)."""
    q = np.asarray(q, dtype=np.float64)
    unit: Array = q / np.linalg.norm(q, axis=-1, keepdims=True)
    return np.where(unit[..., :1] < 0.0, -unit, unit)


def multiply(a: ArrayLike, b: ArrayLike) -> Array:
    """Hamilton product ``a ⊗ b`` (apply ``b`` first, then ``a``)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    aw, ax, ay, az = np.moveaxis(a, -1, 0)
    bw, bx, by, bz = np.moveaxis(b, -1, 0)
    return np.stack(
        [
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ],
        axis=-1,
    )


def conjugate(q: ArrayLike) -> Array:
    """Inverse of a unit quaternion."""
    q = np.asarray(q, dtype=np.float64)
    return q * np.array([1.0, -1.0, -1.0, -1.0])


def rotate(q: ArrayLike, v: ArrayLike) -> Array:
    """Rotate vectors ``v (..., 3)`` by unit quaternions ``q (..., 4)``."""
    q = np.asarray(q, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    w = q[..., :1]
    u = q[..., 1:]
    t = 2.0 * np.cross(u, v)
    return v + w * t + np.cross(u, t)


def from_axis_angle(axis: ArrayLike, angle: ArrayLike) -> Array:
    """Quaternion for a rotation of ``angle`` rad about unit ``axis (..., 3)``."""
    axis = np.asarray(axis, dtype=np.float64)
    half = 0.5 * np.asarray(angle, dtype=np.float64)[..., None]
    return np.concatenate([np.cos(half), np.sin(half) * axis], axis=-1)


def from_rotvec(rotvec: ArrayLike) -> Array:
    """Quaternion from an axis-angle vector ``(..., 3)`` (angle = norm, in rad)."""
    rotvec = np.asarray(rotvec, dtype=np.float64)
    angle = np.linalg.norm(rotvec, axis=-1, keepdims=True)
    half = 0.5 * angle
    # sin(x/2)/x -> 1/2 as x -> 0; the series keeps small angles exact.
    small = angle < 1e-8
    scale = np.where(small, 0.5 - angle**2 / 48.0, np.sin(half) / np.where(small, 1.0, angle))
    return np.concatenate([np.cos(half), scale * rotvec], axis=-1)


def to_rotvec(q: ArrayLike) -> Array:
    """Axis-angle vector ``(..., 3)`` of unit quaternions, angle in [0, π]."""
    q = normalize(q)
    sin_half = np.linalg.norm(q[..., 1:], axis=-1, keepdims=True)
    angle = 2.0 * np.arctan2(sin_half, q[..., :1])
    small = sin_half < 1e-8
    scale = np.where(small, 2.0, angle / np.where(small, 1.0, sin_half))
    return scale * q[..., 1:]


def to_matrix(q: ArrayLike) -> Array:
    """Rotation matrices ``(..., 3, 3)`` of unit quaternions."""
    q = np.asarray(q, dtype=np.float64)
    w, x, y, z = np.moveaxis(q, -1, 0)
    return np.stack(
        [
            np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
            np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
            np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
        ],
        axis=-2,
    )


def from_matrix(m: ArrayLike) -> Array:
    """Unit quaternions (``w >= 0``) of rotation matrices ``(..., 3, 3)``."""
    from scipy.spatial.transform import Rotation

    m = np.asarray(m, dtype=np.float64)
    flat = Rotation.from_matrix(m.reshape(-1, 3, 3)).as_quat(scalar_first=True)
    return normalize(flat.reshape(*m.shape[:-2], 4))


def from_euler(angles: ArrayLike, order: str) -> Array:
    """Quaternion from Euler angles (rad).

    Args:
        angles: ``(..., 3)`` angles, applied in the order of ``order``'s letters.
        order: Axis letters such as ``"ZYX"``; upper case means intrinsic (BVH and ASF use
            intrinsic rotations: ``R = R_first @ R_second @ R_third``), composed here as
            ``q_first ⊗ q_second ⊗ q_third`` of elementary rotations (fast on long clips);
            lower case means extrinsic (scipy's convention, delegated to scipy).
    """
    angles = np.asarray(angles, dtype=np.float64)
    if order.isupper() and set(order) <= set("XYZ"):
        half = 0.5 * angles
        cos, sin = np.cos(half), np.sin(half)
        out: Array | None = None
        for i, axis in enumerate(order):
            q = np.zeros((*angles.shape[:-1], 4))
            q[..., 0] = cos[..., i]
            q[..., 1 + "XYZ".index(axis)] = sin[..., i]
            out = q if out is None else multiply(out, q)
        assert out is not None  # isupper() is False for an empty order
        return out
    from scipy.spatial.transform import Rotation

    flat = Rotation.from_euler(order, angles.reshape(-1, 3)).as_quat(scalar_first=True)
    return flat.reshape(*angles.shape[:-1], 4)


def angle_between(a: ArrayLike, b: ArrayLike) -> Array:
    """Geodesic angle (rad, in [0, π]) between unit quaternions, sign-invariant."""
    dot = np.abs(np.sum(np.asarray(a) * np.asarray(b), axis=-1))
    return 2.0 * np.arccos(np.clip(dot, 0.0, 1.0))


def slerp(a: ArrayLike, b: ArrayLike, t: ArrayLike) -> Array:
    """Spherical interpolation from ``a`` (t=0) to ``b`` (t=1) along the short arc."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)[..., None]
    dot = np.sum(a * b, axis=-1, keepdims=True)
    b = np.where(dot < 0.0, -b, b)
    dot = np.abs(dot)
    theta = np.arccos(np.clip(dot, -1.0, 1.0))
    sin_theta = np.sin(theta)
    near = sin_theta < 1e-6
    safe = np.where(near, 1.0, sin_theta)
    wa = np.where(near, 1.0 - t, np.sin((1.0 - t) * theta) / safe)
    wb = np.where(near, t, np.sin(t * theta) / safe)
    return normalize(wa * a + wb * b)


def yaw(q: ArrayLike) -> Array:
    """Heading angle (rad) of the body x axis projected on the ground plane."""
    fwd = rotate(q, np.array([1.0, 0.0, 0.0]))
    return np.arctan2(fwd[..., 1], fwd[..., 0])


def angular_velocity_w(q: ArrayLike, fps: float) -> Array:
    """World-frame angular velocity (rad/s) of a quaternion sequence ``(T, ..., 4)``.

    Per step, the log of the relative rotation ``q[t+1] ⊗ q[t]⁻¹`` (short arc, so the sign
    of either quaternion does not matter); frames average their two neighbouring steps and
    the ends take their one step, so the output has the input's length.
    """
    q = np.asarray(q, dtype=np.float64)
    if q.shape[0] < 2:
        return np.zeros((*q.shape[:-1], 3))
    step = to_rotvec(multiply(q[1:], conjugate(q[:-1]))) * fps
    return np.concatenate([step[:1], 0.5 * (step[1:] + step[:-1]), step[-1:]], axis=0)


def xyzw_to_wxyz(q: ArrayLike) -> Array:
    """Converter for file edges that store quaternions scalar-last (SciPy, Isaac Gym, CSV)."""
    q = np.asarray(q, dtype=np.float64)
    return np.concatenate([q[..., 3:], q[..., :3]], axis=-1)


def wxyz_to_xyzw(q: ArrayLike) -> Array:
    """Converter for writing scalar-last files."""
    q = np.asarray(q, dtype=np.float64)
    return np.concatenate([q[..., 1:], q[..., :1]], axis=-1)


Y_UP_TO_Z_UP: Array = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
"""Rotation taking a Y-up, right-handed frame to humimic's Z-up frame (+90° about x)."""
