"""Optional visual meshes: Unitree's per-link STL files added to a scene as group-2 geoms.

The repository ships no meshes. Given a folder holding Unitree's G1 STL files (one per link,
named after the link, e.g. ``left_knee_link.STL``; revision-1.0 waist and torso files carry a
``_rev_1_0`` suffix), each link body gets its mesh as a non-colliding, massless geom, and the
primitive stand-in visuals (group 1) are removed so the two do not overlap.
"""

from __future__ import annotations

from pathlib import Path

import mujoco

from humimic.errors import InputFileError

VISUAL_PRIMITIVE_GROUP = 1
"""Geom group of the primitive stand-in visuals in the robot MJCF."""
VISUAL_MESH_GROUP = 2
"""Geom group given to mesh visuals."""

_FILE_SUFFIXES = ("", "_rev_1_0")
_EXTENSIONS = (".STL", ".stl", ".obj")
_DARK_LINKS = ("pelvis", "hip_pitch_link", "ankle_roll_link")

_EXTRA_MESHES: dict[str, list[tuple[str, tuple[float, float, float]]]] = {
    "pelvis": [("pelvis_contour_link", (0.0, 0.0, 0.0))],
    # head and logo meshes are expressed in the waist-roll frame, 0.044 m below the torso origin
    "torso_link": [
        ("logo_link", (0.0039635, 0.0, -0.044)),
        ("head_link", (0.0039635, 0.0, -0.044)),
    ],
    "left_wrist_yaw_link": [("left_rubber_hand", (0.0415, 0.003, 0.0))],
    "right_wrist_yaw_link": [("right_rubber_hand", (0.0415, -0.003, 0.0))],
}
"""Meshes beyond the one named after the link: (file stem, position in the link frame, m).
They are added when the file is present."""


def add_visual_meshes(scene: mujoco.MjSpec, mesh_dir: Path) -> None:
    """Give every link body its STL mesh and drop the primitive visuals.

    Link bodies are those with a positive mass; massless virtual points get no mesh.

    Args:
        scene: Scene being built; edited in place.
        mesh_dir: Folder of the STL files.

    Raises:
        InputFileError: The folder is missing, or a link's mesh file is not in it.
    """
    if not mesh_dir.is_dir():
        raise InputFileError(mesh_dir, "visual mesh folder not found")
    links = [b for b in scene.bodies if b.name != "world" and b.mass > 0]
    main_meshes = {b.name: _find_mesh(mesh_dir, b.name) for b in links}
    missing = [name for name, path in main_meshes.items() if path is None]
    if missing:
        raise InputFileError(mesh_dir, f"no mesh file for links {missing}")
    scene.add_material(name="mesh_shell", rgba=[0.72, 0.74, 0.78, 1.0])
    scene.add_material(name="mesh_dark", rgba=[0.16, 0.17, 0.19, 1.0])
    for body in links:
        for geom in list(body.geoms):
            if geom.group == VISUAL_PRIMITIVE_GROUP:
                scene.delete(geom)
        dark = body.name.endswith(_DARK_LINKS)
        meshes = [(main_meshes[body.name], (0.0, 0.0, 0.0), dark)]
        for stem, pos in _EXTRA_MESHES.get(body.name, []):
            meshes.append((_find_mesh(mesh_dir, stem), pos, True))
        for path, pos, is_dark in meshes:
            if path is not None:  # extras are optional
                _add_mesh_geom(scene, body, path, pos, is_dark)


def _find_mesh(mesh_dir: Path, stem: str) -> Path | None:
    for suffix in _FILE_SUFFIXES:
        for extension in _EXTENSIONS:
            path = mesh_dir / f"{stem}{suffix}{extension}"
            if path.is_file():
                return path
    return None


def _add_mesh_geom(
    scene: mujoco.MjSpec,
    body: mujoco.MjsBody,
    path: Path,
    pos: tuple[float, float, float],
    dark: bool,
) -> None:
    mesh_name = f"mesh_{path.stem}"
    if scene.mesh(mesh_name) is None:
        scene.add_mesh(name=mesh_name, file=str(path.resolve()))
    body.add_geom(
        type=mujoco.mjtGeom.mjGEOM_MESH,
        meshname=mesh_name,
        pos=list(pos),
        group=VISUAL_MESH_GROUP,
        contype=0,
        conaffinity=0,
        density=0.0,
        material="mesh_dark" if dark else "mesh_shell",
    )
