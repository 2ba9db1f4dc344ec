"""Offscreen MuJoCo rendering to MP4, and the interactive viewer where a display exists.

Headless machines render through EGL (Mesa's llvmpipe on a CPU); ``humimic/__init__.py``
chooses the backend before MuJoCo is first imported.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import mujoco
import numpy as np
from numpy.typing import NDArray

from humimic.errors import HumimicError
from humimic.files import atomic_write

GL_HINT = (
    "offscreen rendering needs EGL or OSMesa: on Debian/Ubuntu run "
    "'apt-get install libegl1 libgl1-mesa-dri' (or libosmesa6 with MUJOCO_GL=osmesa)"
)

SceneHook = Callable[[mujoco.MjvScene, int], None]
"""Adds extra geoms (skeletons, ghosts) to the scene of frame ``t`` before rendering."""


def has_display() -> bool:
    """True when an interactive window can be opened."""
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def make_renderer(model: mujoco.MjModel, width: int, height: int) -> mujoco.Renderer:
    """An offscreen renderer, or a one-line error saying which system package is missing."""
    model.vis.global_.offwidth = max(model.vis.global_.offwidth, width)
    model.vis.global_.offheight = max(model.vis.global_.offheight, height)
    try:
        return mujoco.Renderer(model, height=height, width=width)
    except Exception as err:  # MuJoCo raises several types when no GL context can be made
        raise HumimicError(f"cannot create an offscreen renderer ({err}); {GL_HINT}") from err


def tracking_camera(lookat: NDArray[np.float64], distance: float = 3.0) -> mujoco.MjvCamera:
    """A free camera looking at ``lookat`` from the front-left, slightly above."""
    camera = mujoco.MjvCamera()
    camera.type = mujoco.mjtCamera.mjCAMERA_FREE
    camera.lookat[:] = lookat
    camera.distance = distance
    camera.azimuth = 135.0
    camera.elevation = -15.0
    return camera


def render_qpos_sequence(
    model: mujoco.MjModel,
    qpos: NDArray[np.float64],
    *,
    width: int = 640,
    height: int = 480,
    scene_hook: SceneHook | None = None,
    follow_body: int = 1,
    distance: float = 3.0,
) -> Iterator[NDArray[np.uint8]]:
    """Render one RGB image ``(H, W, 3)`` per row of ``qpos (T, nq)``.

    The camera follows body ``follow_body`` (the pelvis by default) horizontally.
    """
    data = mujoco.MjData(model)
    renderer = make_renderer(model, width, height)
    option = mujoco.MjvOption()
    try:
        for t, row in enumerate(qpos):
            data.qpos[:] = row
            mujoco.mj_forward(model, data)
            lookat = data.xpos[follow_body].copy()
            lookat[2] = 0.8
            renderer.update_scene(
                data, camera=tracking_camera(lookat, distance), scene_option=option
            )
            if scene_hook is not None:
                scene_hook(renderer.scene, t)
            yield renderer.render().copy()
    finally:
        renderer.close()


def write_video(path: str | Path, frames: Iterable[NDArray[np.uint8]], fps: float) -> Path:
    """Encode RGB frames to an H.264 MP4 at ``path`` atomically."""
    import imageio.v2 as imageio

    def encode(tmp: Path) -> None:
        # Bound before the with: the stubs type __enter__ as the base class without append_data.
        writer = imageio.get_writer(
            tmp, format="FFMPEG", fps=fps, codec="libx264", quality=7, macro_block_size=8
        )
        with writer:
            for frame in frames:
                writer.append_data(frame)

    return atomic_write(path, encode, suffix=".mp4")


def add_sphere(
    scene: mujoco.MjvScene, pos: NDArray[np.float64], radius: float, rgba: list[float]
) -> None:
    """Append a sphere marker to a scene (ignored when the scene is full)."""
    if scene.ngeom >= scene.maxgeom:
        return
    geom = scene.geoms[scene.ngeom]
    mujoco.mjv_initGeom(
        geom,
        mujoco.mjtGeom.mjGEOM_SPHERE,
        np.array([radius, 0.0, 0.0]),
        np.asarray(pos, dtype=np.float64),
        np.eye(3).flatten(),
        np.asarray(rgba, dtype=np.float32),
    )
    scene.ngeom += 1


def add_capsule(
    scene: mujoco.MjvScene,
    start: NDArray[np.float64],
    end: NDArray[np.float64],
    radius: float,
    rgba: list[float],
) -> None:
    """Append a capsule between two points to a scene (ignored when full)."""
    if scene.ngeom >= scene.maxgeom:
        return
    geom = scene.geoms[scene.ngeom]
    mujoco.mjv_initGeom(
        geom,
        mujoco.mjtGeom.mjGEOM_CAPSULE,
        np.zeros(3),
        np.zeros(3),
        np.eye(3).flatten(),
        np.asarray(rgba, dtype=np.float32),
    )
    mujoco.mjv_connector(
        geom,
        mujoco.mjtGeom.mjGEOM_CAPSULE,
        radius,
        np.asarray(start, dtype=np.float64),
        np.asarray(end, dtype=np.float64),
    )
    scene.ngeom += 1


def add_skeleton(
    scene: mujoco.MjvScene,
    joint_pos_w: NDArray[np.float64],
    parents: NDArray[np.int64],
    rgba: list[float],
    offset_w: NDArray[np.float64] | None = None,
) -> None:
    """Draw a stick figure: a sphere per joint ``(K, 3)`` and a capsule per bone.

    Joints with parent -1 get no bone; a parent whose own parent is -1 and that no other
    drawn bone touches (a hidden root) gets no sphere either.
    """
    points = joint_pos_w + (0.0 if offset_w is None else offset_w)
    touched = set(int(p) for p in parents if p >= 0) | {k for k, p in enumerate(parents) if p >= 0}
    for k, parent in enumerate(parents):
        if k in touched or len(parents) == 1:
            add_sphere(scene, points[k], 0.025, rgba)
        if parent >= 0:
            add_capsule(scene, points[parent], points[k], 0.012, rgba)
