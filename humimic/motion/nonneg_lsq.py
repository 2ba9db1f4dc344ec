"""Batched non-negative ridge least squares (the contact-force solve of the feasibility check).

Generic numerics: nothing here knows about robots. Dimension names: ``T`` problems,
``m`` equations, ``n`` unknowns.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]


def nonneg_ridge_lsq(a: F64, b: F64, ridge: float, max_iter: int = 50) -> F64:
    """Batched ``argmin_{λ≥0} ½|aλ − b|² + ½ ridge |λ|²`` by semismooth Newton on the dual.

    The dual variable ``z = b − aλ`` is the residual (m numbers per frame), with
    ``λ = max(0, aᵀz) / ridge``. The concave dual is maximised by Newton steps with an Armijo
    line search, for all frames at once; converged frames drop out.

    Args:
        a: Shape (T, m, n).
        b: Shape (T, m).
        ridge: Positive weight of the ridge term.
        max_iter: Newton iterations at most (a few suffice in practice).

    Returns:
        ``λ``, shape (T, n).
    """
    a_t = np.swapaxes(a, 1, 2)
    z = b.copy()
    eye = np.eye(a.shape[1])
    tol = 1e-10 * (1.0 + np.max(np.abs(b), initial=0.0))
    todo = np.arange(len(b))
    for _ in range(max_iter):
        s = _matvec(a_t[todo], z[todo])
        grad = b[todo] - z[todo] - _matvec(a[todo], np.maximum(s, 0.0) / ridge)
        keep = np.max(np.abs(grad), axis=1) > tol
        todo, s, grad = todo[keep], s[keep], grad[keep]
        if todo.size == 0:
            break
        act = a[todo] * (s > 0)[:, None, :]
        hess = eye + act @ np.swapaxes(act, 1, 2) / ridge
        step = np.linalg.solve(hess, grad[..., None])[..., 0]
        alpha = _armijo(a[todo], b[todo], z[todo], step, grad, ridge)
        z[todo] += alpha[:, None] * step
    return np.maximum(_matvec(a_t, z), 0.0) / ridge


def _matvec(mat: F64, vec: F64) -> F64:
    """Batched matrix-vector product: (k, r, c) @ (k, c) -> (k, r)."""
    return (mat @ vec[..., None])[..., 0]


def _dual(a: F64, b: F64, z: F64, ridge: float) -> F64:
    """Dual objective of :func:`nonneg_ridge_lsq` per frame, shape (k,)."""
    s = np.maximum(_matvec(np.swapaxes(a, 1, 2), z), 0.0)
    return np.sum(b * z, -1) - 0.5 * np.sum(z**2, -1) - 0.5 / ridge * np.sum(s**2, -1)


def _armijo(a: F64, b: F64, z: F64, step: F64, grad: F64, ridge: float) -> F64:
    """Step lengths (k,) halved from 1 until the dual rises enough (Armijo, c = 1e-4)."""
    alpha = np.full(len(z), 0.5**15)
    base = _dual(a, b, z, ridge)
    slope = np.sum(grad * step, -1)
    pending = np.arange(len(z))
    for size in 0.5 ** np.arange(16):
        p = pending
        gain = _dual(a[p], b[p], z[p] + size * step[p], ridge) - base[p]
        ok = gain >= 1e-4 * size * slope[p]
        alpha[p[ok]] = size
        pending = p[~ok]
        if pending.size == 0:
            break
    return alpha
