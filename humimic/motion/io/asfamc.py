"""Acclaim ASF (skeleton) + AMC (motion) reader, as used by the CMU mocap database.

Each bone has a rest direction and length in the global (Y-up for CMU) frame, a local frame
``C`` given by ``axis a1 a2 a3 ORDER`` (``ORDER="XYZ"`` means rotate about x first, then y,
then z, i.e. ``C = Rz Ry Rx``) and a set of rotational dofs whose AMC values rotate the bone
about its own axes. The bone's world rotation is ``G = G_parent C E C^-1`` and its distal end
is ``start + G @ (direction * length)``.

The ASF root ``position``/``orientation`` are taken as zero (as in CMU files); AMC root
translations are absolute. Translation and length dofs on bones are rejected.

humimic places each bone's *joint* at its proximal end (where the bone rotates), so
``lhumerus`` is the shoulder and ``lfemur`` the hip, exactly like the CMU BVH conversions;
leaf bones get an extra ``<bone>_end`` joint at their tip. Orientations are ``G`` (identity
in the rest pose), as in the BVH reader.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from humimic.errors import ConfigError, InputFileError
from humimic.geometry import quat_np
from humimic.motion.human import HumanMotion
from humimic.motion.io.skeleton import (
    check_up_axis,
    detect_up_axis,
    forward_kinematics,
    identity_quats,
    resolve_units,
    y_up_to_z_up,
)
from humimic.motion.skeleton_map import detect_canonical_map

Array = NDArray[np.float64]
_INCH_M = 0.0254


@dataclass
class _Bone:
    name: str
    direction: Array = field(default_factory=lambda: np.zeros(3))
    length: float = 0.0
    axis: Array = field(default_factory=lambda: np.zeros(3))  # file angle unit until parsed
    axis_order: str = "XYZ"
    dof: list[str] = field(default_factory=list)


@dataclass
class _Skeleton:
    length_unit: float = 1.0
    degrees: bool = True
    bones: dict[str, _Bone] = field(default_factory=dict)
    children: dict[str, list[str]] = field(default_factory=dict)


def read_asf_amc(
    amc_path: str | Path,
    asf_path: str | Path | None = None,
    *,
    fps: float = 120.0,
    up_axis: str | None = None,
    units: str = "auto",
) -> HumanMotion:
    """Read an AMC motion with its ASF skeleton into a z-up, metre :class:`HumanMotion`.

    Args:
        amc_path: ``.amc`` file.
        asf_path: ``.asf`` file; if None, the single ``.asf`` beside the AMC with the same
            subject number (``07-walk.asf`` or ``07.asf`` for ``07_05-walk.amc``).
        fps: Frame rate in Hz (AMC files do not store it; CMU captures at 120).
        up_axis: ``"y"`` or ``"z"``; detected from the rest pose (CMU is Y-up) if None.
        units: ``"auto"`` uses the ASF's ``:units length`` (inches per unit, CMU's 0.45);
            a unit name of :data:`~humimic.motion.io.skeleton.UNIT_SCALES` overrides it.

    Returns:
        Motion with joints ``root``, every bone, and ``<leaf>_end`` tips; ``meta`` has the
        unit, unit scale (m per file unit), height (ankle-to-head-joint path, m) and up axis.

    Raises:
        InputFileError: Missing, ambiguous, truncated or corrupt files.
        ConfigError: Invalid ``fps`` or ``up_axis``.
    """
    amc_path = Path(amc_path)
    if not (np.isfinite(fps) and fps > 0):
        raise ConfigError(f"fps must be positive, got {fps}")
    up_override = check_up_axis(up_axis)
    asf = Path(asf_path) if asf_path is not None else find_asf(amc_path)
    skel = _parse_asf(_read_text(asf), asf)
    root_layout = skel.bones["root"].dof
    frames, amc_degrees = _parse_amc(_read_text(amc_path), amc_path, skel)
    degrees = skel.degrees if amc_degrees is None else amc_degrees
    names, parents, local_t, local_q = _local_transforms(skel, frames, degrees)
    pos, quat = forward_kinematics(parents, local_t, local_q)
    rest_t = local_t[:1].copy()
    rest_t[:, 0] = 0.0  # root at the origin
    rest, _ = forward_kinematics(parents, rest_t)
    canonical = detect_canonical_map(names)
    up = up_override or detect_up_axis(rest[0], names, canonical)
    if up == "y":
        pos, quat = y_up_to_z_up(pos, quat)
    unit, scale, height = resolve_units(units, pos, parents, names, canonical, 0.0)
    if units == "auto":  # the ASF states its unit
        unit, scale = "asf", _INCH_M / skel.length_unit
    height_m = height * scale
    motion = HumanMotion(
        fps=float(fps),
        joint_names=names,
        parents=parents,
        joint_pos_w=pos * scale,
        joint_quat_w=quat_np.normalize(quat),
        canonical=canonical,
        source=str(amc_path),
        source_format="asf/amc",
        meta={
            "asf": str(asf),
            "unit": unit,
            "unit_scale": scale,
            "height_m": round(height_m, 3),
            "up_axis": up,
            "root_order": root_layout,
        },
    )
    motion.validate()
    return motion


def find_asf(amc_path: Path) -> Path:
    """The single ``.asf`` beside ``amc_path`` sharing its subject number."""
    if not amc_path.is_file():
        raise InputFileError(amc_path, "file not found")
    subject = re.match(r"\d+", amc_path.stem)
    candidates = sorted(amc_path.parent.glob("*.[aA][sS][fF]"))
    if subject:
        candidates = [
            p for p in candidates if (m := re.match(r"\d+", p.stem)) and m[0] == subject[0]
        ]
    if len(candidates) != 1:
        found = ", ".join(p.name for p in candidates) or "none"
        raise InputFileError(
            amc_path, f"cannot pick the skeleton .asf (found {found}); pass the ASF path"
        )
    return candidates[0]


def _read_text(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        raise InputFileError(path, "file not found") from None
    except OSError as exc:
        raise InputFileError(path, f"cannot read file ({exc.strerror})") from None
    return [ln.split("#", 1)[0].strip() for ln in text.splitlines()]


def _parse_asf(lines: list[str], path: Path) -> _Skeleton:
    skel = _Skeleton()
    section = ""
    bone: _Bone | None = None
    for i, line in enumerate(lines):
        if not line:
            continue
        tokens = line.split()
        key = tokens[0].lower()
        if key.startswith(":"):
            section = key
            if key == ":root":
                skel.bones["root"] = _Bone("root", dof=[])
            continue
        try:
            if section == ":units":
                _units_line(skel, key, tokens)
            elif section == ":root":
                _root_line(skel.bones["root"], key, tokens)
            elif section == ":bonedata":
                bone = _bone_line(skel, bone, key, tokens)
            elif section == ":hierarchy" and key not in ("begin", "end"):
                skel.children.setdefault(tokens[0], []).extend(tokens[1:])
        except (ValueError, IndexError):
            raise InputFileError(path, f"line {i + 1}: cannot parse {line[:40]!r}") from None
    _check_skeleton(skel, path)
    for bone in skel.bones.values():
        bone.axis = np.deg2rad(bone.axis) if skel.degrees else bone.axis
    return skel


def _units_line(skel: _Skeleton, key: str, tokens: list[str]) -> None:
    if key == "length":
        skel.length_unit = float(tokens[1])
    elif key == "angle":
        skel.degrees = tokens[1].lower().startswith("deg")


def _root_line(root: _Bone, key: str, tokens: list[str]) -> None:
    if key == "order":
        root.dof = [t.lower() for t in tokens[1:]]
    elif key == "axis":
        root.axis_order = tokens[1].upper()


def _bone_line(skel: _Skeleton, bone: _Bone | None, key: str, tokens: list[str]) -> _Bone | None:
    if key == "begin":
        return _Bone("")
    if bone is None:
        return None
    if key == "name":
        bone.name = tokens[1]
    elif key == "direction":
        bone.direction = np.array([float(t) for t in tokens[1:4]])
    elif key == "length":
        bone.length = float(tokens[1])
    elif key == "axis":
        bone.axis = np.array([float(t) for t in tokens[1:4]])
        bone.axis_order = tokens[4].upper() if len(tokens) > 4 else "XYZ"
    elif key == "dof":
        bone.dof = [t.lower() for t in tokens[1:]]
    elif key == "end":
        skel.bones[bone.name] = bone
        return None
    return bone


_ROT_DOFS = ("rx", "ry", "rz")


def _check_skeleton(skel: _Skeleton, path: Path) -> None:
    if "root" not in skel.bones:
        raise InputFileError(path, "not an ASF skeleton (no :root section)")
    if not np.isfinite(skel.length_unit) or skel.length_unit <= 0:
        raise InputFileError(path, f":units length must be positive, got {skel.length_unit}")
    named = {n for parent, kids in skel.children.items() for n in (parent, *kids)}
    unknown = sorted(named - set(skel.bones))
    if unknown:
        raise InputFileError(path, f":hierarchy names bones without bonedata: {unknown}")
    kids = [k for ks in skel.children.values() for k in ks]
    if "root" in kids or len(set(kids)) != len(kids):  # one parent each: a tree, no cycles
        raise InputFileError(path, ":hierarchy is not a tree (a bone has two parents)")
    for bone in skel.bones.values():
        allowed = ("tx", "ty", "tz", *_ROT_DOFS) if bone.name == "root" else _ROT_DOFS
        bad = [d for d in bone.dof if d not in allowed]
        if bad:
            raise InputFileError(path, f"bone {bone.name}: unsupported dof {bad}")
        if sorted(bone.axis_order) != ["X", "Y", "Z"]:
            raise InputFileError(path, f"bone {bone.name}: bad axis order {bone.axis_order!r}")
        if bone.name != "root" and not np.linalg.norm(bone.direction) > 0:
            raise InputFileError(path, f"bone {bone.name}: direction must be non-zero")


def _parse_amc(
    lines: list[str], path: Path, skel: _Skeleton
) -> tuple[dict[str, Array], bool | None]:
    """Per-bone ``(T, n_dof)`` values, and whether a header says degrees (None: no header)."""
    degrees: bool | None = None
    frames: list[dict[str, list[str]]] = []
    for i, line in enumerate(lines):
        if not line:
            continue
        if line.upper() in (":DEGREES", ":RADIANS"):
            degrees = line.upper() == ":DEGREES"
        if line.startswith(":"):
            continue
        tokens = line.split()
        if len(tokens) == 1 and tokens[0].isdigit():
            frames.append({})
        elif not frames:
            raise InputFileError(path, f"line {i + 1}: data before the first frame number")
        elif tokens[0] not in skel.bones:
            raise InputFileError(path, f"line {i + 1}: bone {tokens[0]!r} is not in the ASF")
        elif len(tokens) - 1 != len(skel.bones[tokens[0]].dof):
            want = len(skel.bones[tokens[0]].dof)
            raise InputFileError(
                path, f"line {i + 1}: {tokens[0]} has {len(tokens) - 1} values, expected {want}"
            )
        else:
            frames[-1][tokens[0]] = tokens[1:]
    if not frames:
        raise InputFileError(path, "motion has zero frames")
    return _stack_frames(frames, skel, path), degrees


def _stack_frames(
    frames: list[dict[str, list[str]]], skel: _Skeleton, path: Path
) -> dict[str, Array]:
    moving = [b.name for b in skel.bones.values() if b.dof]
    out: dict[str, Array] = {}
    for name in moving:
        rows = [f.get(name) for f in frames]
        if any(r is None for r in rows):
            bad = next(i for i, r in enumerate(rows) if r is None)
            raise InputFileError(path, f"truncated: frame {bad + 1} has no values for {name}")
        try:
            values = np.array(rows, dtype=np.float64)
        except ValueError:
            raise InputFileError(path, f"bone {name}: value that is not a number") from None
        if not np.all(np.isfinite(values)):
            bad = int(np.argwhere(~np.isfinite(values))[0][0])
            raise InputFileError(
                path, f"non-finite value (NaN/inf) at frame {bad + 1}, bone {name}"
            )
        out[name] = values
    return out


def _joint_order(skel: _Skeleton) -> tuple[list[str], list[int]]:
    """Bones depth-first from the root (parents first), with ``<leaf>_end`` tips."""
    names: list[str] = []
    parents: list[int] = []
    stack: list[tuple[str, int]] = [("root", -1)]
    while stack:
        name, parent = stack.pop()
        names.append(name)
        parents.append(parent)
        idx = len(names) - 1
        kids = skel.children.get(name, [])
        if not kids and name in skel.bones and name != "root":
            stack.append((f"{name}_end", idx))
        stack.extend((k, idx) for k in reversed(kids))
    return names, parents


def _bone_rotation(bone: _Bone, values: Array | None, t_len: int, degrees: bool) -> Array:
    """``(T, 4)`` rotation ``C E C^-1`` of a bone in the global rest frame (axis in rad)."""
    angles = np.zeros((t_len, 3))
    if values is not None:
        for col, dof in enumerate(bone.dof):
            if dof in _ROT_DOFS:
                angles[:, _ROT_DOFS.index(dof)] = values[:, col]
    order = bone.axis_order[::-1]  # "XYZ" (x first, extrinsic) == intrinsic "ZYX"
    cols = [ord(a) - ord("X") for a in order]
    scale = np.pi / 180.0 if degrees else 1.0
    e = quat_np.from_euler(angles[:, cols] * scale, order)
    c = quat_np.from_euler(bone.axis[cols], order)
    return quat_np.multiply(quat_np.multiply(c, e), quat_np.conjugate(c))


def _local_transforms(
    skel: _Skeleton, frames: dict[str, Array], degrees: bool
) -> tuple[list[str], NDArray[np.int64], Array, Array]:
    """Joint names, parents and ``(T, K, 3)``/``(T, K, 4)`` local transforms (file units)."""
    names, parent_list = _joint_order(skel)
    t_len = next(iter(frames.values())).shape[0] if frames else 1
    local_t = np.zeros((t_len, len(names), 3))
    local_q = identity_quats(t_len, len(names))
    for j, (name, p) in enumerate(zip(names, parent_list)):
        if p >= 0 and names[p] != "root":
            parent = skel.bones[names[p]]
            local_t[:, j] = parent.direction / np.linalg.norm(parent.direction) * parent.length
        if name in skel.bones:
            bone = skel.bones[name]
            local_q[:, j] = _bone_rotation(bone, frames.get(name), t_len, degrees)
    root = skel.bones["root"]
    for col, dof in enumerate(root.dof):
        if dof.startswith("t") and "root" in frames:
            local_t[:, 0, "xyz".index(dof[1])] = frames["root"][:, col]
    return names, np.array(parent_list, dtype=np.int64), local_t, local_q
