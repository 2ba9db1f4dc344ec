"""File helpers shared by every stage: atomic writes and content hashes."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from humimic.errors import ConfigError, HumimicError


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
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; results are ordinary files
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
    return found is not None and Path(found["name"]).suffix == found["suffix"]


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


def check_can_create_folder(path: str | Path, label: str) -> None:
    """Refuse a folder that names a file or lies where nothing can be created, before
    anything is built or written (so a refused command leaves nothing behind).

    Raises:
        ConfigError: ``<label> <path>: ...`` (``label`` names the option, e.g. ``--out``).
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{label} {path}: exists and is not a folder")
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(f"{label} {path}: {existing} is not a folder")
    try:  # a real probe: permission bits say nothing for root or read-only mounts
        os.rmdir(tempfile.mkdtemp(prefix=".humimic-probe-", dir=existing))
    except OSError as err:
        raise ConfigError(f"{label} {path}: cannot write in {existing} ({_why(err)})") from err


PARTIAL_FOLDER = ".{name}.partial-"
"""Prefix of a folder being assembled by :func:`atomic_folder` beside its final name."""


@contextlib.contextmanager
def atomic_folder(path: str | Path, replaceable: Callable[[Path], bool]) -> Iterator[Path]:
    """Assemble a folder under a hidden name beside ``path``; rename it onto ``path`` when
    the block ends without error. On any error or Ctrl-C the partial folder is removed, so
    ``path`` is either the old folder or the complete new one.

    An existing ``path`` is replaced as a whole when ``replaceable(path)`` says so (e.g.
    it is an earlier export); otherwise it is refused before anything is written. Partial
    folders of a killed earlier run for the same ``path`` are removed first.

    Raises:
        HumimicError: ``path`` is a file, a folder that may not be replaced, or unwritable.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise HumimicError(f"{path}: exists and is not a folder")
    if path.is_dir() and any(path.iterdir()) and not replaceable(path):
        raise HumimicError(f"{path}: folder exists with other content; choose an empty or new one")
    prefix = PARTIAL_FOLDER.format(name=path.name)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        for stale in path.parent.glob(f"{prefix}*"):
            shutil.rmtree(stale, ignore_errors=True)
        partial = Path(tempfile.mkdtemp(prefix=prefix, dir=path.parent))
    except OSError as err:
        raise HumimicError(f"{path}: cannot write output ({_why(err)})") from err
    try:
        yield partial
        _swap_in(partial, path)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise


def _swap_in(partial: Path, path: Path) -> None:
    """Rename ``partial`` onto ``path``, moving an old ``path`` aside first."""
    os.chmod(partial, 0o777 & ~_umask())  # mkdtemp makes 0700; results are ordinary folders
    old = None
    if path.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{path.name}.old-", dir=path.parent))
        os.replace(path, old / path.name)
    try:
        os.replace(partial, path)
    except OSError:
        if old is not None:  # put the old folder back
            os.replace(old / path.name, path)
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def json_default(value: Any) -> Any:
    """``json.dumps`` fallback for numpy scalars/arrays and paths (settings, reports, metrics)."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")
