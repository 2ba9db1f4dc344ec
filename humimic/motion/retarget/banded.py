"""Block-banded normal equations of whole-clip retargeting and their damped solve.

The state of frame ``t`` has ``V`` values; per-frame terms fill the diagonal blocks,
terms linking neighbouring frames the first off-diagonal blocks, and second differences
(smoothness) couple frames two apart on the diagonal only. Dimension names: ``T`` frames,
``R`` residual rows, ``C`` columns of one kinematic branch (a subset of ``V``).
"""

from __future__ import annotations

import functools

import numpy as np
import scipy.linalg
from numpy.typing import NDArray

F64 = NDArray[np.float64]
System = tuple[F64, F64, F64, F64]
"""Normal equations ``(H_diag (T, V, V), H_off1 (T-1, V, V), h_off2 (T-2, V), g (T, V))``."""


def zero_system(num_frames: int, dim: int) -> System:
    """Empty normal equations for ``num_frames`` frames of ``dim`` values."""
    return (
        np.zeros((num_frames, dim, dim)),
        np.zeros((max(num_frames - 1, 0), dim, dim)),
        np.zeros((max(num_frames - 2, 0), dim)),
        np.zeros((num_frames, dim)),
    )


def gram(a: F64, b: F64) -> F64:
    """Batched ``a_tᵀ b_t`` for ``(T, R, C)`` arrays (BLAS, unlike a plain einsum)."""
    return np.matmul(a.transpose(0, 2, 1), b)


def add_block(
    blocks: F64, span: tuple[int, int], block: F64, frames: NDArray | None = None
) -> None:
    """Add ``block (T, C, C)`` to ``blocks (T, V, V)`` at the root's and ``span``'s columns.

    ``C = 6 + (stop - start)``: a kinematic branch's columns are the root's ``[0, 6)`` and
    its joints' ``[start, stop)``, so the sums are four slice additions, no fancy indexing.
    ``frames`` selects the blocks (all if None).
    """
    start, stop = span
    rows = slice(None) if frames is None else frames
    if start == 6:
        blocks[rows, :stop, :stop] += block
        return
    blocks[rows, :6, :6] += block[:, :6, :6]
    blocks[rows, :6, start:stop] += block[:, :6, 6:]
    blocks[rows, start:stop, :6] += block[:, 6:, :6]
    blocks[rows, start:stop, start:stop] += block[:, 6:, 6:]


def add_rows(system: System, span: tuple[int, int], res: F64, jac: F64) -> None:
    """Add per-frame residuals ``res (T, R)`` with Jacobians ``jac (T, R, C)`` on ``span``.

    ``jac`` holds only the root's and a kinematic branch's columns (see :func:`add_block`).
    """
    add_block(system[0], span, gram(jac, jac))
    add_gradient(system[3], span, res, jac)


def add_gradient(grad: F64, span: tuple[int, int], res: F64, jac: F64) -> None:
    """Add ``res_tᵀ jac_t`` (``res (T, R)``, ``jac (T, R, C)``) to ``grad (T, V)`` on ``span``."""
    rows = np.matmul(res[:, None, :], jac)[:, 0]
    grad[:, :6] += rows[:, :6]
    grad[:, span[0] : span[1]] += rows[:, 6:]


@functools.lru_cache(maxsize=8)
def _band_layout(num_frames: int, dim: int) -> tuple[int, list[tuple[NDArray[np.int64], ...]]]:
    """Bandwidth and, per block diagonal, flat source and band-storage indices.

    Full blocks couple neighbouring frames (distance up to ``2V - 1``); frames two apart are
    coupled on the diagonal only (distance ``2V``), so the bandwidth is ``2V``, not ``3V - 1``.
    """
    bandwidth = min(2 * dim, num_frames * dim - 1)
    n = num_frames * dim
    idx = np.arange(dim)
    layout: list[tuple[NDArray[np.int64], ...]] = []
    for offset in range(min(2, num_frames)):
        t = np.arange(num_frames - offset)[:, None, None]
        rows, cols = np.broadcast_arrays(t * dim + idx[None, :, None], (t + offset) * dim + idx)
        upper = (rows <= cols).ravel()
        src = np.flatnonzero(upper)
        dst = (bandwidth + rows.ravel()[src] - cols.ravel()[src]) * n + cols.ravel()[src]
        layout.append((src.astype(np.int64), dst.astype(np.int64)))
    if num_frames > 2:
        rows = np.arange((num_frames - 2) * dim)
        layout.append((rows, (bandwidth - 2 * dim) * n + rows + 2 * dim))
    return bandwidth, layout


def band_matrix(system: System) -> F64:
    """Upper band storage ``(2V + 1, T V)`` of ``H`` for :func:`solve_band`."""
    diag, off1, off2, grad = system
    num_frames, dim = grad.shape
    bandwidth, layout = _band_layout(num_frames, dim)
    band = np.zeros((bandwidth + 1, num_frames * dim))
    flat = band.reshape(-1)
    for blocks, (src, dst) in zip((diag, off1, off2), layout, strict=False):
        flat[dst] = np.take(blocks.reshape(-1), src)
    return band


def solve_band(band: F64, grad: F64, damping: float) -> F64:
    """Solve ``(H + λ diag(H)) dx = -g`` with ``H`` from :func:`band_matrix`; returns ``dx``.

    ``band`` is not modified, so one matrix serves several damping values.
    """
    damped = band.copy()
    damped[-1] = band[-1] * (1.0 + damping) + 1e-9
    return scipy.linalg.solveh_banded(
        damped, -grad.reshape(-1), lower=False, overwrite_ab=True, check_finite=False
    )


def solve_banded(diag: F64, off1: F64, off2: F64, grad: F64, damping: float) -> F64:
    """Solve ``(H + λ diag(H)) dx = -g`` for the block-banded ``H``; returns ``dx``."""
    return solve_band(band_matrix((diag, off1, off2, grad)), grad, damping)
