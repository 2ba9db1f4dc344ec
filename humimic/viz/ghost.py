"""Videos of a robot tracking its reference, the reference drawn as a see-through ghost.

Both poses use the same model: the ghost's geoms are posed by a second ``MjData`` and added to
the renderer's scene after the robot's own geoms, then recoloured with one flat semi-transparent
colour (materials and textures removed, so the ghost reads as one shape). The camera follows
the robot, not the ghost, so drift from the reference shows as the ghost sliding away.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, NDArray

from humimic.errors import HumimicError
from humimic.viz.render import SceneHook, render_qpos_sequence, write_video

import mujoco  # isort: skip  # after render.py has chosen MUJOCO_GL

__all__ = ["GHOST_RGBA", "ghost_frames", "render_with_ghost"]

GHOST_RGBA = (1.0, 0.45, 0.05, 0.3)
"""Orange at 30 % opacity: distinct from the grey robot and the blue-grey floor."""


def ghost_frames(
    model: mujoco.MjModel,
    qpos: ArrayLike,
    ghost_qpos: ArrayLike | None,
    *,
    width: int = 640,
    height: int = 480,
    ghost_rgba: Sequence[float] = GHOST_RGBA,
) -> Iterator[NDArray[np.uint8]]:
    """Yield one RGB image ``(height, width, 3)`` per frame: the robot plus its ghost.

    Args:
        model: Robot model (with a free root joint); used for both robot and ghost.
        qpos: Shape (T, nq), the robot's configurations.
        ghost_qpos: Shape (T, nq), the reference's configurations, or None for no ghost.
        width: Image width, pixels.
        height: Image height, pixels.
        ghost_rgba: Ghost colour and opacity, each in [0, 1].

    Raises:
        HumimicError: Shapes that do not match the model or each other, or bad ``ghost_rgba``.
    """
    robot = _check_qpos(model, qpos, "qpos")
    hook = None
    if ghost_qpos is not None:
        ghost = _check_qpos(model, ghost_qpos, "ghost_qpos")
        if ghost.shape != robot.shape:
            raise HumimicError(f"ghost_qpos: shape {ghost.shape} != qpos shape {robot.shape}")
        hook = _ghost_hook(model, ghost, _check_rgba(ghost_rgba))
    yield from render_qpos_sequence(model, robot, width=width, height=height, scene_hook=hook)


def render_with_ghost(
    model: mujoco.MjModel,
    qpos: ArrayLike,
    ghost_qpos: ArrayLike | None,
    fps: float,
    path: str | Path,
    *,
    width: int = 640,
    height: int = 480,
) -> Path:
    """Write an MP4 of the robot with its reference ghost (see :func:`ghost_frames`).

    Args:
        model: Robot model.
        qpos: Shape (T, nq), robot configurations, one per video frame.
        ghost_qpos: Shape (T, nq), reference configurations, or None.
        fps: Video frame rate, Hz.
        path: MP4 file to write (atomically).
        width: Image width, pixels.
        height: Image height, pixels.

    Returns:
        ``path``.
    """
    if not (np.isfinite(fps) and fps > 0):
        raise HumimicError(f"{path}: video fps must be positive, got {fps}")
    frames = ghost_frames(model, qpos, ghost_qpos, width=width, height=height)
    return write_video(path, frames, fps)


def _ghost_hook(model: mujoco.MjModel, ghost_qpos: NDArray, rgba: NDArray) -> SceneHook:
    """A scene hook that adds the model's moving geoms posed at ``ghost_qpos[t]``."""
    data = mujoco.MjData(model)
    option = mujoco.MjvOption()
    perturb = mujoco.MjvPerturb()

    def add_ghost(scene: mujoco.MjvScene, t: int) -> None:
        data.qpos[:] = ghost_qpos[t]
        mujoco.mj_kinematics(model, data)
        first = scene.ngeom
        # dynamic category only: the floor and other world geoms are not duplicated
        mujoco.mjv_addGeoms(model, data, option, perturb, mujoco.mjtCatBit.mjCAT_DYNAMIC, scene)
        for i in range(first, scene.ngeom):
            geom = scene.geoms[i]
            geom.rgba[:] = rgba
            geom.matid = -1
            geom.transparent = 1
            geom.castshadow = 0

    return add_ghost


def _check_qpos(model: mujoco.MjModel, qpos: ArrayLike, name: str) -> NDArray[np.float64]:
    arr = np.asarray(qpos, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[0] < 1 or arr.shape[1] != model.nq:
        raise HumimicError(f"{name}: expected shape (T, {model.nq}), got {arr.shape}")
    if not np.isfinite(arr).all():
        raise HumimicError(f"{name}: contains NaN or infinite values")
    return arr


def _check_rgba(rgba: Sequence[float]) -> NDArray[np.float32]:
    arr = np.asarray(rgba, dtype=np.float32)
    if arr.shape != (4,) or not ((arr >= 0) & (arr <= 1)).all():
        raise HumimicError(f"ghost_rgba: expected 4 values in [0, 1], got {list(rgba)}")
    return arr
