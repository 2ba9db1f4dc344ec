"""Which motion format a file is, and one entry point that reads any human motion.

Detection looks at the extension and, for ``.npz`` and pickles, at the stored key names only
(``.npz`` member names via ``np.load(allow_pickle=False)``; pickle opcodes are scanned with
:mod:`pickletools`, never executed, skipping the raw array bytes joblib writes between them).
A pickle is loaded only when the scan cannot tell and the user trusts it (``--trust-pickle``).
"""

from __future__ import annotations

import bz2
import inspect
import io
import lzma
import pickletools
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from humimic.errors import ConfigError, InputFileError
from humimic.motion.human import HumanMotion
from humimic.motion.skeleton_map import load_skeleton_map, resolve_canonical_map

FORMATS: tuple[str, ...] = (
    "bvh",
    "asf/amc",
    "smpl",
    "gvhmr",
    "joints",
    "humimic_clip",
    "beyondmimic",
    "lafan_csv",
    "pbhc_pkl",
    "smpl_model",
)
"""Every name :func:`detect_format` can return."""

HUMAN_FORMATS: tuple[str, ...] = ("bvh", "asf/amc", "smpl", "gvhmr", "joints")
"""Formats :func:`read_human_motion` reads."""
ROBOT_FORMATS: tuple[str, ...] = ("humimic_clip", "beyondmimic", "lafan_csv", "pbhc_pkl")
"""Robot clips of other tools (and humimic's own), converted rather than retargeted."""

_EXTENSIONS = {
    ".bvh": "bvh",
    ".amc": "asf/amc",
    ".asf": "asf/amc",
    ".pt": "gvhmr",
    ".pth": "gvhmr",
    ".csv": "lafan_csv",
}
_SMPL_MODEL_KEYS = {"J_regressor", "shapedirs", "v_template", "kintree_table"}
_PBHC_KEYS = {"root_trans_offset", "pose_aa", "dof", "root_rot"}
_PICKLE_SCAN_BYTES = 64 << 20  # the first motions of a merged package are enough


def detect_format(path: str | Path, *, trust_pickle: bool = False) -> str:
    """Name of the motion format of ``path`` (one of :data:`FORMATS`).

    Args:
        path: The file.
        trust_pickle: A pickle whose opcodes do not tell what it holds may be loaded and
            looked into (loading runs code stored in it); without it such a pickle is refused.

    Raises:
        InputFileError: The file is missing, unreadable, or of no known format.
    """
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "is not a file" if path.exists() else "file not found")
    suffix = path.suffix.lower()
    if suffix in _EXTENSIONS:
        return _EXTENSIONS[suffix]
    if suffix == ".npz":
        return _npz_format(path)
    if suffix in (".pkl", ".pickle"):
        return _pickle_format(path, trust_pickle)
    raise InputFileError(
        path,
        f"unknown motion format {suffix or '(no extension)'!r}; expected .bvh, .amc, .npz, "
        ".pt, .csv or .pkl",
    )


def _npz_format(path: Path) -> str:
    try:
        with np.load(path, allow_pickle=False) as npz:
            keys = set(npz.files)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise InputFileError(path, f"not a readable .npz file ({exc})") from None
    if "schema_version" in keys:
        return "humimic_clip"
    if {"body_pos_w", "joint_pos"} <= keys:
        return "beyondmimic"
    if "joint_names" in keys and keys & {"joint_pos", "positions"}:
        return "joints"
    if "trans" in keys and keys & {"poses", "pose_body", "root_orient"}:
        return "smpl"
    if len(_SMPL_MODEL_KEYS & keys) >= 2:
        return "smpl_model"
    shown = ", ".join(sorted(keys)[:12])
    raise InputFileError(path, f"unknown .npz content (keys: {shown})")


def _pickle_format(path: Path, trust_pickle: bool) -> str:
    scan = _scan_pickle(path)
    kind = _pickle_kind(scan.strings)
    if kind is not None:
        return kind
    if scan.complete:
        raise InputFileError(path, "pickle holds neither a robot motion nor an SMPL body model")
    if not trust_pickle:
        raise InputFileError(
            path,
            "cannot tell what this pickle holds without loading it, and loading runs code "
            "stored in the file; pass --trust-pickle if you trust where it came from",
        )
    kind = _pickle_kind(_loaded_keys(path))
    if kind is None:
        raise InputFileError(path, "pickle holds neither a robot motion nor an SMPL body model")
    return kind


def _pickle_kind(strings: set[str]) -> str | None:
    if len(_SMPL_MODEL_KEYS & strings) >= 2:
        return "smpl_model"
    if len(_PBHC_KEYS & strings) >= 2:
        return "pbhc_pkl"
    return None


def _loaded_keys(path: Path) -> set[str]:
    """Keys of a trusted pickle's dict and of the dicts it holds (one level down)."""
    from humimic.motion.io.robot_formats import load_pickle

    data = load_pickle(path)
    keys: set[str] = set()
    if isinstance(data, dict):
        keys |= {k for k in data if isinstance(k, str)}
        for value in data.values():
            if isinstance(value, dict):
                keys |= {k for k in value if isinstance(k, str)}
    return keys


_GETS = ("GET", "BINGET", "LONG_BINGET")
_PUTS = ("PUT", "BINPUT", "LONG_BINPUT")
_MEMO_OPS = (*_PUTS, "MEMOIZE", "FRAME", "PROTO")  # leave the stack top as it is


@dataclass
class _PickleScan:
    """What a scan of a pickle's opcodes found, and the memo it needs to follow names."""

    strings: set[str] = field(default_factory=set)
    """String constants met in the opcodes."""
    complete: bool = False
    """Every opcode up to the final STOP was read (nothing left unknown)."""
    memo: dict[int, object] = field(default_factory=dict)
    """Memo index -> the string, int or ``"module name"`` global stored there."""
    outer_memos: list[dict[int, object]] = field(default_factory=list)
    top: object = None
    """Value the last opcode pushed, if a constant or a global."""
    recent: list[str] = field(default_factory=list)
    """Last two strings pushed (the operands of ``STACK_GLOBAL``)."""
    wrapper: _ArrayWrapper | None = None
    dtype_code: str | None = None
    """Code of a ``numpy.dtype(code, ...)`` call being read ("" before the code)."""

    def value(self, name: str, arg: object) -> object:
        """The constant an opcode pushes (memo references resolved), else None."""
        if name in _GETS:
            return self.memo.get(int(arg))  # type: ignore[call-overload]
        if name == "STACK_GLOBAL":
            return " ".join(self.recent[-2:])
        if isinstance(arg, bytes):
            return arg.decode("latin-1") if len(arg) < 64 else None
        return arg if isinstance(arg, str | int) else None

    def feed(self, name: str, arg: object) -> None:
        """Follow one opcode: memo, strings, the joblib wrapper being read."""
        if name == "MEMOIZE":
            self.memo[len(self.memo)] = self.top
        elif name in _PUTS:
            self.memo[int(arg)] = self.top  # type: ignore[call-overload]
        if name in _MEMO_OPS:
            return
        self.top = self.value(name, arg)
        if self.top == "numpy dtype":
            self.dtype_code = ""
        elif self.dtype_code == "" and isinstance(self.top, str):
            self.dtype_code = self.top
        elif name == "REDUCE" and self.dtype_code:
            # the dtype object, memoised and referenced by later arrays of the same type
            self.top, self.dtype_code = f"<dtype {self.dtype_code}>", None
        if isinstance(self.top, str):
            self.strings.add(self.top)
            self.recent = [*self.recent[-1:], self.top]
            if self.top.endswith("NumpyArrayWrapper"):
                self.wrapper = _ArrayWrapper()
        if self.wrapper is not None:
            self.wrapper.feed(name, self.top)


def _scan_pickle(path: Path) -> _PickleScan:
    """String constants of a pickle, read from its opcodes without executing it.

    Understands joblib's layout: ``joblib.dump`` writes each numpy array as a pickled
    ``NumpyArrayWrapper`` (shape, dtype, ...) followed by the raw array bytes, preceded by
    one padding-length byte and that many pad bytes (joblib >= 1.2), or by a nested pickle
    for object arrays. Raw bytes are not opcodes; the scan skips them using the wrapper's
    shape and dtype (names repeated later are memo references, so the memo is followed) and
    goes on. Plain and zlib/gzip/bz2/xz-compressed files (joblib's ``compress=``) are read.
    """
    data = _pickle_bytes(path)
    scan = _PickleScan()
    pos, stopped = 0, False
    try:
        while pos < len(data):
            pos, stopped = _scan_from(data, pos, scan)
        scan.complete = stopped and pos == len(data) and not scan.outer_memos
    except Exception:  # a truncated or foreign stream: keep what was read
        pass
    if not scan.strings:
        raise InputFileError(path, "not a readable pickle file")
    return scan


def _scan_from(data: bytes, start: int, scan: _PickleScan) -> tuple[int, bool]:
    """Scan opcodes from ``start``; the position after a STOP (True) or a joblib array."""
    stream = io.BytesIO(data)
    stream.seek(start)
    for op, arg, at in pickletools.genops(stream):  # ``at``: absolute position
        assert at is not None  # genops gives positions on a seekable stream
        scan.feed(op.name, arg)
        wrapper = scan.wrapper
        if wrapper is not None and wrapper.built:  # its array's bytes follow
            scan.wrapper = None
            if wrapper.has_objects:  # a nested pickle with its own memo
                scan.outer_memos.append(scan.memo)
                scan.memo = {}
            return wrapper.end_of_array(data, at + 1), False
        if op.name == "STOP":
            if scan.outer_memos:
                scan.memo = scan.outer_memos.pop()
            return at + 1, True
    raise ValueError("pickle stream without STOP")


@dataclass
class _ArrayWrapper:
    """Follows one joblib ``NumpyArrayWrapper`` through its state (shape, dtype, padding).

    The state dict is written in attribute order: ``subclass, shape, order, dtype,
    allow_mmap[, numpy_array_alignment_bytes]``; the BUILD after ``allow_mmap`` ends it
    (the dtype's own BUILD comes before).
    """

    key: str = ""
    shape: list[int] = field(default_factory=list)
    dtype: str = ""
    aligned: bool = False
    after_mmap: bool = False
    built: bool = False

    def feed(self, op: str, value: object) -> None:
        """Take one opcode and the constant it pushed (None if not a constant)."""
        if value in ("shape", "dtype", "order", "allow_mmap"):
            self.key = str(value)
            self.after_mmap = self.after_mmap or value == "allow_mmap"
        elif value == "numpy_array_alignment_bytes":
            self.aligned = True
        elif self.key == "shape" and isinstance(value, int) and not isinstance(value, bool):
            self.shape.append(value)
        elif self.key == "dtype" and isinstance(value, str) and value.startswith("<dtype "):
            self.dtype = value[7:-1]  # e.g. "f4", the first argument of numpy.dtype
        elif op == "BUILD" and self.after_mmap:
            self.built = True

    @property
    def has_objects(self) -> bool:
        return np.dtype(self.dtype).hasobject

    def end_of_array(self, data: bytes, pos: int) -> int:
        """Position after the array data that starts at ``pos``."""
        if self.has_objects:
            return pos
        if self.aligned:
            pos += 1 + data[pos]
        return pos + int(np.prod(self.shape, dtype=np.int64)) * np.dtype(self.dtype).itemsize


def _pickle_bytes(path: Path) -> bytes:
    """The (decompressed) bytes of a pickle, at most :data:`_PICKLE_SCAN_BYTES`."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(_PICKLE_SCAN_BYTES)
    except OSError as exc:
        raise InputFileError(path, f"cannot read file ({exc.strerror})") from None
    for magic, decompressor in _COMPRESSIONS:
        if head.startswith(magic):
            try:
                return decompressor().decompress(head, _PICKLE_SCAN_BYTES)
            except (zlib.error, OSError, EOFError, lzma.LZMAError):
                raise InputFileError(path, "corrupt compressed pickle") from None
    return head


def _gzip() -> Any:
    return zlib.decompressobj(16 + zlib.MAX_WBITS)


class _Bz2:
    """bz2 decompressor with zlib's ``decompress(data, max_length)`` signature."""

    def decompress(self, data: bytes, max_length: int) -> bytes:
        return bz2.BZ2Decompressor().decompress(data, max_length)


class _Xz:
    def decompress(self, data: bytes, max_length: int) -> bytes:
        return lzma.LZMADecompressor().decompress(data, max_length)


_COMPRESSIONS: tuple[tuple[bytes, Callable[[], Any]], ...] = (
    (b"\x78", zlib.decompressobj),  # zlib, joblib's compress=True
    (b"\x1f\x8b", _gzip),
    (b"BZh", _Bz2),
    (b"\xfd7zXZ", _Xz),
)


def read_human_motion(
    path: str | Path,
    *,
    asf: Path | None = None,
    skeleton_map: Path | None = None,
    body_models: Path | None = None,
    units: str = "auto",
    **reader_options: Any,
) -> HumanMotion:
    """Read any human motion file, apply the skeleton map and validate.

    Args:
        path: A ``.bvh``, ``.amc``, joint-position or AMASS ``.npz``, or GVHMR ``.pt`` file.
        asf: Skeleton for an ``.amc`` (default: found beside it).
        skeleton_map: User YAML ``canonical_name: joint_name`` overriding detection.
        body_models: SMPL model folder for ``smpl``/``gvhmr`` inputs.
        units: Length unit of BVH and ASF/AMC files (the ``units`` config key): ``auto``
            or a name in :data:`~humimic.motion.io.skeleton.UNIT_SCALES`. Body-model formats are
            metres by definition and a joints ``.npz`` names its unit, so they ignore it.
        **reader_options: Passed to the format's reader (e.g. ``up_axis``, ``unit_scale``
            for BVH, ``fps`` for AMC).

    Returns:
        A validated motion whose ``canonical`` map has every required joint.

    Raises:
        InputFileError: Unreadable file, a non-human format, or an unmappable skeleton.
        ConfigError: A reader option the format does not take.
    """
    path = Path(path)
    fmt = detect_format(path)
    if fmt not in HUMAN_FORMATS:
        raise InputFileError(
            path, f"is a {fmt} file, not human motion ({', '.join(HUMAN_FORMATS)})"
        )
    if fmt == "asf/amc" and path.suffix.lower() == ".asf":
        raise InputFileError(path, "is a skeleton; pass the .amc motion (with --asf if needed)")
    reader, fixed = _reader(fmt, asf, body_models)
    allowed = set(inspect.signature(reader).parameters) - {"path", "amc_path", *fixed}
    unknown = sorted(set(reader_options) - allowed)
    if unknown:
        raise ConfigError(f"options {unknown} do not apply to {fmt} input {path}")
    if units != "auto":
        from humimic.motion.io.skeleton import UNIT_SCALES

        if units not in UNIT_SCALES:
            raise ConfigError(
                f"units must be auto or one of {', '.join(UNIT_SCALES)}, got {units!r}"
            )
    if fmt in ("bvh", "asf/amc"):
        fixed = {**fixed, "units": units}
    motion = reader(path, **fixed, **reader_options)
    user_map = load_skeleton_map(skeleton_map) if skeleton_map is not None else None
    motion.canonical = resolve_canonical_map(motion.joint_names, user_map, source=path)
    motion.validate()
    return motion


def _reader(
    fmt: str, asf: Path | None, body_models: Path | None
) -> tuple[Callable[..., HumanMotion], dict[str, Any]]:
    """Reader function and the keyword arguments this module fills in."""
    if fmt == "bvh":
        from humimic.motion.io.bvh import read_bvh

        return read_bvh, {}
    if fmt == "asf/amc":
        from humimic.motion.io.asfamc import read_asf_amc

        return read_asf_amc, {"asf_path": asf}
    if fmt == "joints":
        from humimic.motion.io.joints_npz import read_joints_npz

        return read_joints_npz, {}
    if fmt == "smpl":
        from humimic.motion.io.smpl import read_smpl_npz

        return read_smpl_npz, {"body_models": body_models}
    from humimic.motion.io.smpl import read_gvhmr

    return read_gvhmr, {"body_models": body_models}
