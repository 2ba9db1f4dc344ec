"""File helpers shared by every stage: atomic writes and content hashes."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from humimic.errors import HumimicError


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def atomic_write(path: str | Path, write: Callable[[Path], object], suffix: str = "") -> Path:
    """Write through ``write(tmp_path)`` into a temporary file, then rename onto ``path``.

    Readers never see a half-written file, and a failure leaves no file behind.

    Raises:
        HumimicError: if the folder cannot be written.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(
            prefix=f".{path.name}.", suffix=suffix or path.suffix, dir=path.parent
        )
    except OSError as err:
        raise HumimicError(f"{path}: cannot write output ({_why(err)})") from err
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; results are ordinary files
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except OSError as err:  # full disk, quota, file-size limit, permissions
        Path(tmp).unlink(missing_ok=True)
        raise HumimicError(f"{_failed_file(err, path, tmp)}: cannot write ({_why(err)})") from err
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _failed_file(err: OSError, path: Path, tmp: str) -> str:
    """The file to name for a failed write: the output, unless another file failed."""
    name = err.filename
    return str(path) if name is None or str(name) == tmp else str(name)


def _why(err: OSError) -> str:
    return err.strerror or str(err) or type(err).__name__


_TEMPORARY = re.compile(r"^\.(?P<name>.+)\.[a-z0-9_]{8}(?P<suffix>(\.[^.]*)?)$")
"""Names :func:`atomic_write` gives its temporary files: ``.<name>.<8 random><suffix>``."""


def is_stale_temporary(path: Path) -> bool:
    """Whether ``path`` is named like a temporary file of :func:`atomic_write`."""
    found = _TEMPORARY.match(path.name)
    return bool(found) and Path(found["name"]).suffix == found["suffix"]


def remove_stale_temporaries(folder: str | Path) -> list[Path]:
    """Delete the temporary files a killed run left under ``folder`` (recursively).

    Only call this while no other process writes into ``folder``. Returns what was removed.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    stale = [p for p in folder.rglob(".*") if p.is_file() and is_stale_temporary(p)]
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


def json_default(value: Any) -> Any:
    """``json.dumps`` fallback for numpy scalars/arrays and paths (settings, reports, metrics)."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")
