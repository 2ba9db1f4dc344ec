"""Shared test fixtures: seeds, the shared motion-capture folder, scratch output."""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import pytest

from humimic.paths import shared_motions_dir


@pytest.fixture(autouse=True)
def _seed() -> None:
    """Every test starts from the same random state."""
    random.seed(0)
    np.random.seed(0)
    try:
        import torch

        torch.manual_seed(0)
    except ImportError:  # pragma: no cover - torch is a core dependency
        pass


@pytest.fixture(scope="session")
def shared_motions() -> Path:
    """The shared real mocap folder (``../shared/data/motions`` or ``$HUMIMIC_DATA``).

    Skips with a reason when absent; fails when ``CI`` is set, since CI must have it.
    """
    path = shared_motions_dir()
    if not (path / "cmu").is_dir():
        message = f"shared motion data not found at {path} (set HUMIMIC_DATA)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path
