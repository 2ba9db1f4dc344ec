"""Chumpy-free reading of official SMPL-family ``.pkl`` model files.

The official SMPL 1.0/1.1 and SMPL-H ``.pkl`` files are Python 2 pickles holding ``chumpy``
objects, and chumpy does not import on Python 3.11. A restricted unpickler replaces every
chumpy class by a stand-in that keeps the pickled state (a terminal ``Ch`` stores its array
under ``x``), and builds nothing but numpy arrays, builtins and sparse-matrix stand-ins, so a
model file can't run code. :func:`convert_smpl_pkl` writes the result as a plain-numpy pickle
that ``smplx`` loads; :func:`cached_plain_pickle` does that once per file, in a cache folder
outside the user's model folder.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse
from numpy.typing import NDArray

from humimic.errors import InputFileError
from humimic.files import atomic_write, file_sha256

REQUIRED_KEYS: tuple[str, ...] = (
    "v_template", "shapedirs", "posedirs", "J_regressor", "weights", "f", "kintree_table",
)  # fmt: skip
"""Arrays every SMPL-family model file must provide."""


class _ChumpyStandIn:
    """Takes the place of any ``chumpy`` class while unpickling; keeps the pickled state."""

    def __new__(cls, *args: Any, **kwargs: Any) -> _ChumpyStandIn:
        return super().__new__(cls)

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def to_numpy(self) -> NDArray | None:
        """The wrapped array of a terminal ``Ch`` (state key ``x``), else ``None``."""
        state = getattr(self, "state", None)
        if isinstance(state, dict) and "x" in state:
            return np.asarray(state["x"])
        return None


class _SparseStandIn:
    """Takes the place of ``scipy.sparse`` matrices pickled by old SciPy versions."""

    fmt = "csc"

    def __new__(cls, *args: Any, **kwargs: Any) -> _SparseStandIn:
        return super().__new__(cls)

    def __setstate__(self, state: dict) -> None:
        self.state = state

    def to_numpy(self) -> NDArray | None:
        """Dense array of the pickled matrix."""
        s = self.state
        shape = s.get("_shape", s.get("shape"))
        ctor = scipy.sparse.csr_matrix if self.fmt == "csr" else scipy.sparse.csc_matrix
        return np.asarray(ctor((s["data"], s["indices"], s["indptr"]), shape=shape).toarray())


class _CsrStandIn(_SparseStandIn):
    fmt = "csr"


_ALLOWED = {
    ("copyreg", "_reconstructor"), ("copy_reg", "_reconstructor"), ("builtins", "object"),
    ("__builtin__", "object"), ("builtins", "set"), ("__builtin__", "set"),
    ("builtins", "frozenset"), ("numpy", "ndarray"), ("numpy", "dtype"),
    ("numpy._core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "scalar"),
    ("numpy._core.numeric", "_frombuffer"), ("_codecs", "encode"),
}  # fmt: skip


class _SafeUnpickler(pickle.Unpickler):
    """Unpickler that builds only numpy arrays, builtins and stand-ins for chumpy/sparse."""

    def find_class(self, module: str, name: str) -> Any:
        if module.split(".")[0] == "chumpy":
            return _ChumpyStandIn
        if module.startswith("scipy.sparse") and name in ("csc_matrix", "csr_matrix"):
            return _CsrStandIn if name == "csr_matrix" else _SparseStandIn
        if module.startswith("numpy.core"):
            module = "numpy._core" + module[len("numpy.core") :]
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        module = {"copy_reg": "copyreg", "__builtin__": "builtins"}.get(module, module)
        return super().find_class(module, name)


def _plain(value: Any) -> Any:
    """Replace stand-ins, also inside dicts and lists, by numpy arrays.

    Returns ``None`` for a chumpy expression that can't be evaluated without chumpy.
    """
    if isinstance(value, _ChumpyStandIn | _SparseStandIn):
        return value.to_numpy()
    if isinstance(value, dict):
        return {k: v for k, v in ((k, _plain(v)) for k, v in value.items()) if v is not None}
    if isinstance(value, list | tuple):
        return type(value)(v for v in map(_plain, value) if v is not None)
    return value


def load_model_pickle(path: Path) -> dict[str, Any]:
    """Read a body-model ``.pkl`` (with or without chumpy objects) as plain numpy.

    Args:
        path: An official SMPL / SMPL-H / SMPL-X ``.pkl`` file (Python 2 pickles included).

    Returns:
        The file's dict with chumpy arrays and sparse matrices as dense ``np.ndarray``.
        Entries that are unevaluated chumpy expressions are dropped.
    """
    try:
        with open(path, "rb") as fh:
            raw = _SafeUnpickler(fh, encoding="latin1").load()
        if not isinstance(raw, dict):
            raise InputFileError(path, f"expected a dict of arrays, not {type(raw).__name__}")
        out = {str(k): v for k, v in _plain(raw).items()}
    except FileNotFoundError:
        raise InputFileError(path, "file not found") from None
    except (pickle.UnpicklingError, EOFError, ValueError, KeyError, TypeError) as exc:
        raise InputFileError(path, f"not a readable body-model pickle ({exc})") from None
    missing = [k for k in REQUIRED_KEYS if out.get(k) is None]
    if missing:
        raise InputFileError(path, f"body-model arrays missing or not evaluable: {missing}")
    return out


def convert_smpl_pkl(src: Path, dst: Path) -> Path:
    """Rewrite a chumpy-based body-model ``.pkl`` as a plain-numpy pickle ``smplx`` loads.

    Args:
        src: Official ``.pkl`` (e.g. ``basicModel_neutral_lbs_10_207_0_v1.0.0.pkl``).
        dst: Output file (written atomically; parent folders are created).

    Returns:
        ``dst``.
    """
    data = load_model_pickle(Path(src))
    blob = pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL)
    return atomic_write(Path(dst), lambda tmp: tmp.write_bytes(blob))


def cache_dir() -> Path:
    """Where converted model files go: ``$HUMIMIC_CACHE``, else ``$XDG_CACHE_HOME/humimic``."""
    env = os.environ.get("HUMIMIC_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(xdg) / "humimic"


def cached_plain_pickle(src: Path) -> Path:
    """Plain-numpy copy of ``src`` in the cache, keyed by the file's content hash."""
    digest = file_sha256(src)[:20]
    dst = cache_dir() / "body_models" / digest / src.name
    return dst if dst.is_file() else convert_smpl_pkl(src, dst)
