"""Warp loading and the two kernels the MuJoCo Warp backend adds to a step.

:func:`import_warp` imports ``warp`` and ``mujoco_warp`` quietly (or names the missing
extra); :func:`kernels` compiles, on first launch, the per-world divergence check and
the reset of diverged worlds to the default pose.
"""

from __future__ import annotations

import functools
from types import ModuleType
from typing import Any

from humimic.errors import ConfigError


def import_warp() -> tuple[ModuleType, ModuleType]:
    """``(warp, mujoco_warp)``, with Warp's start-up output silenced.

    Raises:
        ConfigError: The ``gpu`` extra is not installed.
    """
    try:
        import warp

        # No banner or per-module load lines in the training output (before mujoco_warp
        # initialises Warp).
        if hasattr(warp.config, "quiet"):  # Warp < 1.19
            warp.config.quiet = True
        if hasattr(warp, "LOG_WARNING"):  # Warp >= 1.19 logs by level
            warp.config.log_level = warp.LOG_WARNING
        import mujoco_warp
    except ImportError as err:
        raise ConfigError(
            f"sim backend mujoco_warp needs the 'gpu' extra (pip install 'humimic[gpu]'): {err}"
        ) from None
    return warp, mujoco_warp


# Warp kernel parameters are annotated with calls (``wp.array(dtype=...)``, the only
# spelling older Warp releases accept), which mypy cannot read as types.
@functools.cache
def kernels() -> tuple[Any, Any]:
    """``(diverged, default_state)`` Warp kernels, one thread per world.

    ``diverged(qpos (N, nq), qvel (N, nv), overflow (N,), bits, limit) -> bad (N,), seen (1,)``:
    a world is bad when an overflow flag in ``bits`` is set (OR-ed into ``seen[0]``) or a
    qpos/qvel entry is NaN or beyond ``limit`` in magnitude.
    ``default_state(bad (N,), qpos0 (nq,)) -> qpos, qvel``: bad worlds get ``qpos0`` and
    zero velocity.
    """
    import warp as wp

    @wp.kernel(enable_backward=False)
    def diverged(
        qpos: wp.array2d(dtype=float),  # type: ignore[valid-type]
        qvel: wp.array2d(dtype=float),  # type: ignore[valid-type]
        overflow: wp.array(dtype=int),  # type: ignore[valid-type]
        bits: int,
        limit: float,
        bad: wp.array(dtype=wp.bool),  # type: ignore[valid-type]
        seen: wp.array(dtype=int),  # type: ignore[valid-type]
    ):
        world = wp.tid()
        flags = overflow[world] & bits
        out = int(0)  # noqa: UP018, RUF046 - Warp needs a typed variable to mutate in loops
        if flags != 0:
            out = 1
            wp.atomic_or(seen, 0, flags)
        for i in range(qpos.shape[1]):
            x = qpos[world, i]
            if wp.isnan(x) or wp.abs(x) > limit:
                out = 1
        for i in range(qvel.shape[1]):
            x = qvel[world, i]
            if wp.isnan(x) or wp.abs(x) > limit:
                out = 1
        bad[world] = out != 0

    @wp.kernel(enable_backward=False)
    def default_state(
        bad: wp.array(dtype=wp.bool),  # type: ignore[valid-type]
        qpos0: wp.array(dtype=float),  # type: ignore[valid-type]
        qpos: wp.array2d(dtype=float),  # type: ignore[valid-type]
        qvel: wp.array2d(dtype=float),  # type: ignore[valid-type]
    ):
        world = wp.tid()
        if not bad[world]:
            return
        for i in range(qpos.shape[1]):
            qpos[world, i] = qpos0[i]
        for i in range(qvel.shape[1]):
            qvel[world, i] = 0.0

    return diverged, default_state
