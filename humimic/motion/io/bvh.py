"""BVH (Biovision hierarchy) reader.

Handles what real files vary in: 3 or 6 (or any subset of) channels on any joint, a
per-joint Euler order taken from the channel order (intrinsic rotations in channel order,
``R = R_first @ R_second @ R_third``), Y-up or Z-up, centimetres, metres, millimetres,
inches or CMU units, ``End Site`` leaves, CRLF line endings and tabs.

Position channels *replace* the joint's offset (the usual reading, and what Blender writes:
its root offset equals the first frame's root position). The up axis is detected from the rest
pose, the unit from the animated bones (:func:`skeleton_height`, :func:`detect_unit_scale`);
both can be overridden. The skeleton helpers (forward kinematics, up axis, unit) live in
:mod:`humimic.motion.io.skeleton`, shared with the ASF/AMC reader.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from humimic.errors import ConfigError, InputFileError
from humimic.geometry import quat_np
from humimic.motion.human import HumanMotion
from humimic.motion.io.skeleton import (
    AXES,
    PLAUSIBLE_HEIGHT_M,
    UNIT_SCALES,
    check_up_axis,
    detect_up_axis,
    forward_kinematics,
    identity_quats,
    resolve_units,
    y_up_to_z_up,
)
from humimic.motion.skeleton_map import detect_canonical_map

__all__ = ["MAX_FPS", "MIN_FPS", "PLAUSIBLE_HEIGHT_M", "UNIT_SCALES", "read_bvh"]

Array = NDArray[np.float64]

MIN_FPS, MAX_FPS = 1.0, 2000.0
"""Plausible capture rates, frames/s: below, a clip is a slideshow; above, even high-speed
optical systems do not record whole bodies (a tiny Frame Time is a broken header)."""


@dataclass
class _Joint:
    name: str
    parent: int
    offset: Array = field(default_factory=lambda: np.zeros(3))
    channels: list[str] = field(default_factory=list)
    first_col: int = 0


def read_bvh(
    path: str | Path,
    *,
    up_axis: str | None = None,
    unit_scale: float | None = None,
    units: str = "auto",
) -> HumanMotion:
    """Read a BVH file into a z-up, metre :class:`HumanMotion`.

    Args:
        path: ``.bvh`` file.
        up_axis: ``"y"`` or ``"z"``, the file's up axis; detected from the rest pose if None.
        unit_scale: Metres per file length unit (e.g. ``0.01`` for cm); wins over ``units``.
        units: ``"auto"`` (the unit giving a plausible human height, see
            :func:`detect_unit_scale`) or a unit name of :data:`UNIT_SCALES`.

    Returns:
        Motion with ``K`` joints including ``End Site`` leaves (named ``<parent>_end``),
        ``joint_pos_w`` ``(T, K, 3)`` in metres and ``joint_quat_w`` ``(T, K, 4)`` wxyz.
        ``meta`` has ``unit``, ``unit_scale`` and ``height_m`` (ankle-to-head-joint path).
        Orientations are identity in the rest pose; ``meta["rest_offsets_m"]`` holds each
        joint's ``(K, 3)`` offset in its parent's frame (z-up, metres), so that
        ``pos[j] = pos[parent] + rotate(quat[parent], offset[j])`` when ``j`` has no position
        channels.

    Raises:
        InputFileError: Missing, truncated or corrupt file, or non-finite values.
        ConfigError: Invalid ``up_axis`` or ``unit_scale``.
    """
    path = Path(path)
    up_override = check_up_axis(up_axis)
    if unit_scale is not None and not (np.isfinite(unit_scale) and unit_scale > 0):
        raise ConfigError(f"unit_scale must be a positive number of metres, got {unit_scale}")
    lines = _read_lines(path)
    joints, motion_line = _parse_hierarchy(lines, path)
    n_channels = sum(len(j.channels) for j in joints)
    fps, values = _parse_motion(lines, motion_line, n_channels, path)
    _check_finite(values, joints, path)
    names = [j.name for j in joints]
    parents = np.array([j.parent for j in joints], dtype=np.int64)
    offsets = np.stack([j.offset for j in joints])
    local_t, local_q = _local_transforms(joints, values)
    pos, quat = forward_kinematics(parents, local_t, local_q)
    rest_pos, _ = forward_kinematics(parents, offsets[None])
    canonical = detect_canonical_map(names)
    up = up_override or detect_up_axis(rest_pos[0], names, canonical, pos[0])
    unit, scale, height_m = _resolve_scale(
        unit_scale, units, pos, rest_pos[0], parents, names, canonical, up
    )
    pos, quat = y_up_to_z_up(pos, quat) if up == "y" else (pos, quat)
    rest_offsets = offsets @ quat_np.Y_UP_TO_Z_UP.T if up == "y" else offsets
    motion = HumanMotion(
        fps=fps,
        joint_names=names,
        parents=parents,
        joint_pos_w=pos * scale,
        joint_quat_w=quat_np.normalize(quat),
        canonical=canonical,
        source=str(path),
        source_format="bvh",
        meta={
            "unit": unit,
            "unit_scale": scale,
            "height_m": round(height_m, 3),
            "up_axis": up,
            "euler_orders": sorted({_rotation_order(j.channels) for j in joints} - {""}),
            "rest_offsets_m": rest_offsets * scale,
        },
    )
    motion.validate()
    return motion


def _read_lines(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8-sig", errors="strict")
    except FileNotFoundError:
        raise InputFileError(path, "file not found") from None
    except UnicodeDecodeError:
        try:
            text = path.read_text(encoding="latin-1")
        except OSError as exc:
            raise InputFileError(path, f"cannot read file ({exc.strerror})") from None
    except OSError as exc:
        raise InputFileError(path, f"cannot read file ({exc.strerror})") from None
    return text.splitlines()


def _parse_hierarchy(lines: list[str], path: Path) -> tuple[list[_Joint], int]:
    """Joints in file order (parents first) and the index of the ``MOTION`` line."""
    first = next((ln.split()[0].upper() for ln in lines if ln.strip()), "")
    if first not in ("HIERARCHY", "ROOT"):
        raise InputFileError(path, "not a BVH file (does not start with HIERARCHY)")
    state = _Hierarchy(path)
    for i, raw in enumerate(lines):
        tokens = raw.split()
        if not tokens or tokens[0].upper() == "HIERARCHY":
            continue
        if tokens[0].upper() == "MOTION":
            if state.stack or state.pending is not None or not state.joints:
                raise InputFileError(path, f"line {i + 1}: MOTION before the hierarchy is closed")
            return state.joints, i
        state.line(tokens, f"line {i + 1}")
    raise InputFileError(path, "truncated: no MOTION section after the hierarchy")


@dataclass
class _Hierarchy:
    """Parser state: joints so far, open braces, a joint waiting for its ``{``."""

    path: Path
    joints: list[_Joint] = field(default_factory=list)
    stack: list[int] = field(default_factory=list)
    pending: int | None = None
    col: int = 0

    def line(self, tokens: list[str], where: str) -> None:
        key = tokens[0].upper()
        opens = tokens[-1] == "{" and len(tokens) > 1
        tokens = tokens[:-1] if opens else tokens
        if key in ("ROOT", "JOINT", "END"):
            self.new_joint(key, tokens, where)
            if opens:
                self.open(where)
        elif key == "{":
            self.open(where)
        elif key == "}":
            if not self.stack:
                raise InputFileError(self.path, f"{where}: unmatched '}}'")
            self.stack.pop()
        elif key == "OFFSET" and self.stack:
            offset = _floats(tokens[1:], 3, self.path, f"{where}: OFFSET")
            self.joints[self.stack[-1]].offset = offset
        elif key == "CHANNELS" and self.stack:
            joint = self.joints[self.stack[-1]]
            joint.channels = _channels(tokens, self.path, where)
            joint.first_col = self.col
            self.col += len(joint.channels)
        else:
            shown = " ".join(tokens)[:40]
            raise InputFileError(self.path, f"{where}: unexpected {shown!r} in HIERARCHY")

    def new_joint(self, key: str, tokens: list[str], where: str) -> None:
        if self.pending is not None or (key == "ROOT") != (not self.stack):
            raise InputFileError(self.path, f"{where}: unexpected {tokens[0]}")
        parent = self.stack[-1] if self.stack else -1
        name = _joint_name(key, tokens, self.joints, parent)
        if key != "END" and name in {j.name for j in self.joints}:
            raise InputFileError(self.path, f"{where}: duplicate joint name {name!r}")
        self.joints.append(_Joint(name, parent, first_col=self.col))
        self.pending = len(self.joints) - 1

    def open(self, where: str) -> None:
        if self.pending is None:
            raise InputFileError(self.path, f"{where}: '{{' without a joint")
        self.stack.append(self.pending)
        self.pending = None


def _joint_name(key: str, tokens: list[str], joints: list[_Joint], parent: int) -> str:
    if key != "END":
        return " ".join(tokens[1:]) or f"joint{len(joints)}"
    base = f"{joints[parent].name}_end"
    names = {j.name for j in joints}
    name, n = base, 1
    while name in names:
        n += 1
        name = f"{base}{n}"
    return name


def _floats(tokens: list[str], n: int, path: Path, what: str) -> Array:
    try:
        out = np.array([float(t) for t in tokens], dtype=np.float64)
    except ValueError:
        raise InputFileError(path, f"{what} has a value that is not a number: {tokens}") from None
    if out.shape != (n,) or not np.all(np.isfinite(out)):
        raise InputFileError(path, f"{what} needs {n} finite numbers, got {tokens}")
    return out


def _channels(tokens: list[str], path: Path, where: str) -> list[str]:
    try:
        count = int(tokens[1])
    except (IndexError, ValueError):
        raise InputFileError(path, f"{where}: CHANNELS needs a count") from None
    names = [t.lower() for t in tokens[2:]]
    if len(names) != count:
        raise InputFileError(path, f"{where}: CHANNELS says {count} but lists {len(names)}")
    valid = {f"{a}{k}" for a in "xyz" for k in ("position", "rotation")}
    bad = [t for t in names if t not in valid]
    if bad or len(set(names)) != len(names):
        raise InputFileError(path, f"{where}: invalid or repeated channels {tokens[2:]}")
    return names


def _parse_motion(lines: list[str], start: int, n_channels: int, path: Path) -> tuple[float, Array]:
    """Frame rate (Hz) and ``(T, C)`` channel values from the ``MOTION`` section."""
    header: dict[str, str] = {}
    i = start + 1
    while i < len(lines) and len(header) < 2:
        text = lines[i].strip()
        i += 1
        if text:
            key, _, value = text.partition(":")
            header[key.strip().lower()] = value.strip()
    try:
        n_frames = int(header["frames"])
        frame_time = float(header["frame time"])
    except (KeyError, ValueError):
        raise InputFileError(path, "MOTION section needs 'Frames:' and 'Frame Time:'") from None
    if n_frames <= 0:
        raise InputFileError(path, f"motion has zero frames (Frames: {n_frames})")
    if not np.isfinite(frame_time) or frame_time <= 0:
        raise InputFileError(path, f"Frame Time must be positive, got {frame_time}")
    if not MIN_FPS <= 1.0 / frame_time <= MAX_FPS:
        raise InputFileError(
            path,
            f"Frame Time {frame_time:g} s is {1.0 / frame_time:.4g} frames/s, outside the "
            f"{MIN_FPS:g}-{MAX_FPS:g} frames/s of any motion capture",
        )
    rows = [ln for ln in lines[i:] if ln.strip()]
    if len(rows) != n_frames:
        problem = "truncated" if len(rows) < n_frames else "extra data"
        raise InputFileError(path, f"{problem}: header says {n_frames} frames, found {len(rows)}")
    values = _frame_values(rows, n_channels, i, lines, path)
    fps = 1.0 / frame_time
    # Frame times are printed with ~6 digits (0.008333); snap to the intended integer rate.
    return (float(round(fps)) if abs(fps - round(fps)) < 1e-3 * fps else fps), values


def _frame_values(
    rows: list[str], n_channels: int, first: int, lines: list[str], path: Path
) -> Array:
    if n_channels == 0:
        return np.zeros((len(rows), 0))
    try:
        values = np.loadtxt(io.StringIO("\n".join(rows)), dtype=np.float64, ndmin=2)
        if values.shape[1] == n_channels:
            return values
    except ValueError:
        pass
    # Slow path only to name the first bad line.
    for n, ln in enumerate(lines[first:], start=first + 1):
        tokens = ln.split()
        if not tokens:
            continue
        if len(tokens) != n_channels:
            raise InputFileError(path, f"line {n}: {len(tokens)} values, expected {n_channels}")
        try:
            [float(t) for t in tokens]
        except ValueError:
            raise InputFileError(path, f"line {n}: value that is not a number") from None
    raise InputFileError(path, "cannot parse the MOTION values")


def _check_finite(values: Array, joints: list[_Joint], path: Path) -> None:
    bad = np.argwhere(~np.isfinite(values))
    if bad.size:
        frame, col = (int(v) for v in bad[0])
        joint = next(j.name for j in reversed(joints) if j.first_col <= col and j.channels)
        raise InputFileError(path, f"non-finite value (NaN/inf) at frame {frame}, joint {joint}")


def _rotation_order(channels: list[str]) -> str:
    return "".join(c[0].upper() for c in channels if c.endswith("rotation"))


def _local_transforms(joints: list[_Joint], values: Array) -> tuple[Array, Array]:
    """``(T, K, 3)`` local translations (file units) and ``(T, K, 4)`` local rotations."""
    t_len, k = values.shape[0], len(joints)
    local_t = np.repeat(np.stack([j.offset for j in joints])[None], t_len, axis=0)
    local_q = identity_quats(t_len, k)
    groups: dict[str, list[tuple[int, list[int]]]] = {}
    for idx, joint in enumerate(joints):
        for c, name in enumerate(joint.channels):
            if name.endswith("position"):
                local_t[:, idx, AXES[name[0]]] = values[:, joint.first_col + c]
        rot_cols = [
            joint.first_col + c for c, n in enumerate(joint.channels) if n.endswith("rotation")
        ]
        order = _rotation_order(joint.channels)
        if order:
            padded = order + "".join(a for a in "XYZ" if a not in order)[: 3 - len(order)]
            groups.setdefault(padded, []).append((idx, rot_cols))
    for order, members in groups.items():
        angles = np.zeros((t_len, len(members), 3))
        for g, (_, cols) in enumerate(members):
            angles[:, g, : len(cols)] = np.deg2rad(values[:, cols])
        local_q[:, [m[0] for m in members]] = quat_np.from_euler(angles, order)
    return local_t, local_q


def _resolve_scale(
    unit_scale: float | None,
    units: str,
    pos: Array,
    rest: Array,
    parents: NDArray[np.int64],
    names: list[str],
    canonical: Mapping[str, str],
    up: str,
) -> tuple[str, float, float]:
    """Unit name, metres per unit and height (m); the rest pose is only a fallback."""
    height = float(np.ptp(rest[:, AXES[up]]))
    if height < 1e-9:
        height = float(np.ptp(pos[0][:, AXES[up]]))
    unit, scale, height = resolve_units(units, pos, parents, names, canonical, height)
    if unit_scale is not None:
        unit, scale = "user", float(unit_scale)
    return unit, scale, height * scale
