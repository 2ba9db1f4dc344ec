"""The one home of the run-folder layout: where training, evaluation, export and the demo
find a run's files.

A run folder (default ``<out_dir>/<experiment>/<UTC timestamp>/``) holds::

    config.yaml                      the resolved training config (TrainCfg as YAML)
    model_<iterations>.pt            checkpoints, named by the finished PPO iterations
    events.out.tfevents.*            TensorBoard logs (several after a resume)
    training_curves.png              plotted from the logs at the end of training
    eval_model_<k>/                  ``humimic eval`` of checkpoint k (metrics.json, plots)
    export_model_<k>/                ``humimic export`` of checkpoint k (the controller)

This module knows names only; it imports nothing heavier than the standard library.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from humimic.errors import InputFileError

CONFIG_FILE = "config.yaml"
CURVES_FILE = "training_curves.png"
LOG_GLOB = "events.out.tfevents.*"
CHECKPOINT_RE = re.compile(r"model_(\d+)\.pt")
"""Checkpoint file names: ``model_<iterations>.pt``."""
STAMP_FORMAT = "%Y%m%d-%H%M%S"
"""Name of a new run folder: its UTC start time."""


def checkpoint_iteration(path: str | Path) -> int | None:
    """The iteration count in a ``model_<k>.pt`` name; None for any other name."""
    found = CHECKPOINT_RE.fullmatch(Path(path).name)
    return int(found.group(1)) if found else None


@dataclass(frozen=True)
class RunDir:
    """Paths inside one run folder (nothing is created or checked on construction)."""

    root: Path

    @classmethod
    def new(cls, out_dir: str | Path, experiment: str, start: datetime) -> RunDir:
        """``<out_dir>/<experiment>/<start as YYYYmmdd-HHMMSS>`` (``start`` in UTC)."""
        return cls(Path(out_dir) / experiment / start.strftime(STAMP_FORMAT))

    @property
    def config(self) -> Path:
        """The resolved training config, ``config.yaml``."""
        return self.root / CONFIG_FILE

    @property
    def log_dir(self) -> Path:
        """Where TensorBoard event files go (the run folder itself)."""
        return self.root

    @property
    def curves(self) -> Path:
        """The training-curves figure written at the end of training."""
        return self.root / CURVES_FILE

    def log_files(self) -> list[Path]:
        """TensorBoard event files, oldest name first (a resumed run has several)."""
        return sorted(self.root.glob(LOG_GLOB))

    def checkpoint(self, iteration: int) -> Path:
        """The checkpoint after ``iteration`` finished PPO iterations."""
        return self.root / f"model_{iteration}.pt"

    def checkpoints(self) -> list[tuple[int, Path]]:
        """Every ``model_<k>.pt`` of the run as ``(k, path)``, in increasing ``k``."""
        found = [(checkpoint_iteration(p), p) for p in self.root.glob("model_*.pt")]
        return sorted((k, p) for k, p in found if k is not None)

    def latest_checkpoint(self) -> Path:
        """The checkpoint with the most iterations.

        Raises:
            InputFileError: the folder has no checkpoint.
        """
        found = self.checkpoints()
        if not found:
            raise InputFileError(self.root, "run folder has no model_<iteration>.pt checkpoint")
        return found[-1][1]

    def eval_dir(self, checkpoint: Path) -> Path:
        """Default output folder of ``humimic eval`` for ``checkpoint``."""
        return self.root / f"eval_{checkpoint.stem}"

    def export_dir(self, checkpoint: Path) -> Path:
        """Default controller folder of ``humimic export`` for ``checkpoint``."""
        return self.root / f"export_{checkpoint.stem}"


def resolve_run(run_or_checkpoint: str | Path) -> tuple[RunDir, Path]:
    """(run folder, checkpoint) of a ``.pt`` file (its folder is the run) or of a run
    folder (its latest checkpoint).

    Raises:
        InputFileError: neither a file nor a folder, or a folder without checkpoints.
    """
    path = Path(run_or_checkpoint)
    if path.is_file():
        return RunDir(path.parent), path
    if not path.is_dir():
        raise InputFileError(path, "no such run folder or checkpoint")
    run = RunDir(path)
    return run, run.latest_checkpoint()
