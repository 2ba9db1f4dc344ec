"""Batched quaternion helpers in torch, ``(..., 4)`` tensors in ``wxyz`` order.

The twin of :mod:`humimic.geometry.quat_np` for kinematics, rewards and metrics. Every
function is differentiable and broadcasts over leading dimensions.
"""

from __future__ import annotations

import torch
from torch import Tensor


def normalize(q: Tensor) -> Tensor:
    """Unit quaternions (sign kept)."""
    return q / torch.linalg.vector_norm(q, dim=-1, keepdim=True).clamp_min(1e-12)


def multiply(a: Tensor, b: Tensor) -> Tensor:
    """Hamilton product ``a ⊗ b`` (apply ``b`` first, then ``a``)."""
    aw, ax, ay, az = a.unbind(-1)
    bw, bx, by, bz = b.unbind(-1)
    return torch.stack(
        (
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ),
        dim=-1,
    )


def conjugate(q: Tensor) -> Tensor:
    """Inverse of a unit quaternion."""
    return torch.cat((q[..., :1], -q[..., 1:]), dim=-1)


def rotate(q: Tensor, v: Tensor) -> Tensor:
    """Rotate vectors ``v (..., 3)`` by unit quaternions ``q (..., 4)``."""
    w = q[..., :1]
    u = q[..., 1:]
    t = 2.0 * torch.linalg.cross(u, v, dim=-1)
    return v + w * t + torch.linalg.cross(u, t, dim=-1)


def rotate_inverse(q: Tensor, v: Tensor) -> Tensor:
    """Rotate vectors by the inverse of ``q`` (world to body when ``q`` is body-to-world)."""
    return rotate(conjugate(q), v)


def from_axis_angle(axis: Tensor, angle: Tensor) -> Tensor:
    """Quaternion for ``angle (...)`` rad about unit ``axis (..., 3)``."""
    half = 0.5 * angle.unsqueeze(-1)
    return torch.cat((torch.cos(half), torch.sin(half) * axis), dim=-1)


def to_matrix(q: Tensor) -> Tensor:
    """Rotation matrices ``(..., 3, 3)`` of unit quaternions."""
    w, x, y, z = q.unbind(-1)
    row0 = torch.stack((1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)), -1)
    row1 = torch.stack((2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)), -1)
    row2 = torch.stack((2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)), -1)
    return torch.stack((row0, row1, row2), dim=-2)


def angle_between(a: Tensor, b: Tensor) -> Tensor:
    """Geodesic angle (rad) between unit quaternions, invariant to the sign of either."""
    dot = torch.sum(a * b, dim=-1).abs().clamp(max=1.0)
    return 2.0 * torch.acos(dot)


def to_rotvec(q: Tensor) -> Tensor:
    """Axis-angle vectors ``(..., 3)`` of unit quaternions (angle in [0, π])."""
    q = torch.where(q[..., :1] < 0, -q, q)
    sin_half = torch.linalg.vector_norm(q[..., 1:], dim=-1, keepdim=True)
    angle = 2.0 * torch.atan2(sin_half, q[..., :1])
    scale = torch.where(
        sin_half < 1e-8, torch.full_like(angle, 2.0), angle / sin_half.clamp_min(1e-8)
    )
    return scale * q[..., 1:]


def projected_gravity_b(q_wb: Tensor) -> Tensor:
    """Unit gravity direction ``(0, 0, -1)`` expressed in the body frame of ``q_wb``."""
    g = torch.zeros((*q_wb.shape[:-1], 3), dtype=q_wb.dtype, device=q_wb.device)
    g[..., 2] = -1.0
    return rotate_inverse(q_wb, g)


def yaw(q: Tensor) -> Tensor:
    """Heading angle (rad) of the body x axis projected on the ground plane, ``(...)``."""
    w, x, y, z = q.unbind(-1)
    return torch.atan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))


def yaw_quat(q: Tensor) -> Tensor:
    """Heading-only quaternion (rotation about world z) of ``q``."""
    heading = yaw(q)
    zero = torch.zeros_like(heading)
    half = 0.5 * heading
    return torch.stack((torch.cos(half), zero, zero, torch.sin(half)), dim=-1)


def slerp(a: Tensor, b: Tensor, t: Tensor) -> Tensor:
    """Spherical interpolation of unit quaternions ``(..., 4)`` by ``t`` (broadcast)."""
    dot = (a * b).sum(-1, keepdim=True)
    b = torch.where(dot < 0, -b, b)
    dot = dot.abs().clamp(max=1.0)
    theta = torch.acos(dot)
    sin = torch.sin(theta)
    small = sin < 1e-6
    s = sin.clamp_min(1e-6)
    wa = torch.where(small, 1 - t, torch.sin((1 - t) * theta) / s)
    wb = torch.where(small, t, torch.sin(t * theta) / s)
    out = wa * a + wb * b
    return out / torch.linalg.vector_norm(out, dim=-1, keepdim=True).clamp_min(1e-12)
