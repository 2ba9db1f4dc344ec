"""Batched physics backends for training: C MuJoCo on CPU threads, MuJoCo Warp on GPU."""

from __future__ import annotations

from humimic.sim.backend import (
    BACKENDS,
    SimBackend,
    SimState,
    default_reset_state,
    make_backend,
    reset_nan_worlds,
    validate_device,
)

__all__ = [
    "BACKENDS",
    "SimBackend",
    "SimState",
    "default_reset_state",
    "make_backend",
    "reset_nan_worlds",
    "validate_device",
]
