"""What a pickle holds, read from its opcodes without executing it.

:func:`scan_pickle` collects the string constants (dict keys, class names) of a plain or
compressed pickle and says whether it read the whole stream. It follows joblib's layout,
where raw array bytes sit between the opcodes, and the memo, so names repeated later count.
"""

from __future__ import annotations

import bz2
import io
import lzma
import pickletools
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from humimic.errors import InputFileError

PICKLE_SCAN_BYTES = 64 << 20  # the first motions of a merged package are enough
_GETS = ("GET", "BINGET", "LONG_BINGET")
_PUTS = ("PUT", "BINPUT", "LONG_BINPUT")
_MEMO_OPS = (*_PUTS, "MEMOIZE", "FRAME", "PROTO")  # leave the stack top as it is


@dataclass
class PickleScan:
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


def scan_pickle(path: Path) -> PickleScan:
    """String constants of a pickle, read from its opcodes without executing it.

    Understands joblib's layout: ``joblib.dump`` writes each numpy array as a pickled
    ``NumpyArrayWrapper`` (shape, dtype, ...) followed by the raw array bytes, preceded by
    one padding-length byte and that many pad bytes (joblib >= 1.2), or by a nested pickle
    for object arrays. Raw bytes are not opcodes; the scan skips them using the wrapper's
    shape and dtype (names repeated later are memo references, so the memo is followed) and
    goes on. Plain and zlib/gzip/bz2/xz-compressed files (joblib's ``compress=``) are read.
    """
    data = _pickle_bytes(path)
    scan = PickleScan()
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


def _scan_from(data: bytes, start: int, scan: PickleScan) -> tuple[int, bool]:
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
    """The (decompressed) bytes of a pickle, at most :data:`PICKLE_SCAN_BYTES`."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(PICKLE_SCAN_BYTES)
    except OSError as exc:
        raise InputFileError(path, f"cannot read file ({exc.strerror})") from None
    for magic, decompressor in _COMPRESSIONS:
        if head.startswith(magic):
            try:
                return decompressor().decompress(head, PICKLE_SCAN_BYTES)
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
