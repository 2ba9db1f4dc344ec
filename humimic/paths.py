"""The one module that knows the repository tree.

Every other module asks here for robot, config, motion and shared-data locations, so the
layout can change in one place.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT: Path = Path(__file__).resolve().parent.parent
"""Root of the source checkout (holds ``robots/``, ``configs/``, ``motions/``)."""
ROBOTS_DIR: Path = REPO_ROOT / "robots"
CONFIGS_DIR: Path = REPO_ROOT / "configs"
MOTIONS_DIR: Path = REPO_ROOT / "motions"
PRIORS_DIR: Path = REPO_ROOT / "priors"
"""Shipped tracker checkpoints that new runs start from (``runner.init_from=builtin``)."""


def shared_data_dir() -> Path:
    """Folder with shared test data (``$HUMIMIC_DATA`` or ``../shared/data`` beside the repo)."""
    env = os.environ.get("HUMIMIC_DATA")
    if env:
        return Path(env).expanduser().resolve()
    return (REPO_ROOT.parent / "shared" / "data").resolve()


def shared_motions_dir() -> Path:
    """Folder of real motion-capture files used by tests and benchmarks."""
    base = shared_data_dir()
    return base / "motions" if (base / "motions").is_dir() else base
