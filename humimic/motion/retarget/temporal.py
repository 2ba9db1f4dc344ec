"""Temporal terms of the sequence solver: smoothness, root velocity, joint speed.

Each couples neighbouring frames only (the normal matrix stays banded), returns its cost
and, given a :data:`~humimic.motion.retarget.banded.System`, adds its normal equations.
The state's ``V = 6 + J`` columns per frame are root position, root rotation increment
(world, on the left) and joints. Dimension names: ``T`` frames, ``J`` joints.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from humimic.geometry import quat_np
from humimic.motion.retarget.banded import System
from humimic.motion.retarget.jacobian import State

F64 = NDArray[np.float64]
FPS_REF = 50.0
"""Frame rate at which temporal weights are specified; other rates are rescaled."""


def smoothness(state: State, fps: float, weight: float, system: System | None) -> float:
    """Second differences of root position, root rotation and joints, ``weight`` at 50 fps.

    Returns the cost; with ``system``, also adds the term's normal equations to it.
    """
    num_frames = state[0].shape[0]
    if num_frames < 3 or weight == 0:
        return 0.0
    # Weight defined at 50 fps: acceleration scale (fps/50)^2, per-second sum sqrt(50/fps).
    w = weight * (fps / FPS_REF) ** 2 * np.sqrt(FPS_REF / fps)
    rot_step = quat_np.to_rotvec(quat_np.multiply(state[1][1:], quat_np.conjugate(state[1][:-1])))
    res = (
        np.concatenate(
            [
                np.diff(state[0], n=2, axis=0),
                rot_step[1:] - rot_step[:-1],
                np.diff(state[2], n=2, axis=0),
            ],
            axis=1,
        )
        * w
    )  # (T-2, V)
    if system is None:
        return float(np.sum(res**2))
    diag, off1, off2, grad = system
    w2 = w * w
    # r_t = x_t - 2 x_{t+1} + x_{t+2}: J^T J blocks with coefficients c_a c_b.
    coeffs = (1.0, -2.0, 1.0)
    for a, ca in enumerate(coeffs):
        grad[a : num_frames - 2 + a] += w * ca * res
        for b, cb in enumerate(coeffs):
            if b < a:
                continue
            block = w2 * ca * cb
            idx = np.arange(num_frames - 2) + a
            if b - a == 2:
                off2[idx] += block
            else:
                target = (diag, off1)[b - a]
                dim = target.shape[-1]
                # Add to the diagonal of each block through a strided view, no eye().
                target.reshape(len(target), -1)[idx[0] : idx[-1] + 1, :: dim + 1] += block
    return float(np.sum(res**2))


def root_velocity(
    reference: tuple[F64, F64], state: State, fps: float, weight: float, system: System | None
) -> float:
    """Root steps minus the reference (human pelvis) steps, ``w (Δx_t - Δx*_t)``.

    ``reference`` is the initial root trajectory (the proportioned pelvis): ``(T, 3)``
    positions, m, and ``(T, 4)`` orientations, wxyz.
    The rotation step is the rotation vector of ``q_{t+1} q_t⁻¹``; its Jacobian with respect
    to the left increments is taken as ``±I`` (exact for small steps, as in smoothing).
    """
    num_frames = state[0].shape[0]
    if num_frames < 2 or weight == 0:
        return 0.0
    w = weight * np.sqrt(fps / FPS_REF)  # steps shrink as 1/fps, frames grow as fps

    def steps(pos: F64, quat: F64) -> F64:
        rot = quat_np.to_rotvec(quat_np.multiply(quat[1:], quat_np.conjugate(quat[:-1])))
        return np.concatenate([np.diff(pos, axis=0), rot], axis=1)  # (T-1, 6)

    target = steps(reference[0], quat_np.normalize(reference[1]))
    res = w * (steps(state[0], state[1]) - target)
    if system is not None:
        diag, off1, _, grad = system
        idx = np.arange(6)
        diag[1:, idx, idx] += w * w
        diag[:-1, idx, idx] += w * w
        off1[:, idx, idx] -= w * w
        grad[1:, :6] += w * res
        grad[:-1, :6] -= w * res
    return float(np.sum(res**2))


def joint_speed(
    joint_pos: F64, fps: float, allowed_rad_s: F64, weight: float, system: System | None
) -> float:
    """One-sided penalty on ``(T, J)`` joint steps beyond ``allowed_rad_s`` ``(J,)``."""
    if joint_pos.shape[0] < 2 or weight == 0:
        return 0.0
    step = np.diff(joint_pos, axis=0)  # (T-1, J)
    allowed = allowed_rad_s / fps
    excess = np.abs(step) - allowed
    active = excess > 0
    if not np.any(active):
        return 0.0
    w = weight
    res = w * np.sign(step) * excess * active  # d res / d q_{t+1} = w sign, / d q_t = -w sign
    if system is None:
        return float(np.sum(res**2))
    diag, off1, _, grad = system
    coef = w * active
    j = np.arange(6, diag.shape[-1])
    diag[1:, j, j] += coef**2
    diag[:-1, j, j] += coef**2
    off1[:, j, j] -= coef**2
    grad[1:, 6:] += coef * np.sign(step) * res
    grad[:-1, 6:] -= coef * np.sign(step) * res
    return float(np.sum(res**2))
