"""Schema of ``configs/retarget.yaml``: every setting of the motion front end."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from humimic.config.motion_schema import (
    ContactCfg,
    CorrectCfg,
    FeasibilityCfg,
    FilterCfg,
    NormalizeCfg,
    SolverCfg,
)
from humimic.errors import ConfigError


@dataclass
class BatchCfg:
    """How a folder of motions is processed."""

    workers: int = 0
    """Worker processes; 0 means one per CPU core."""
    engine: str = "local"
    """``local`` (a process pool on this machine) or ``ray`` (an existing Ray cluster)."""
    resume: bool = True
    """Skip inputs whose clip and report already exist and match the settings."""
    max_key_point_error_m: float = 0.05
    """Mean key-point error (after proportion fitting) above which a clip gets a warning."""

    def __post_init__(self) -> None:
        """Check the engine name and worker count."""
        if self.engine not in ("local", "ray"):
            raise ConfigError(f"batch.engine must be 'local' or 'ray', got '{self.engine}'")
        if self.workers < 0:
            raise ConfigError("batch.workers must be >= 0")
        if not 0 < self.max_key_point_error_m < math.inf:
            raise ConfigError(
                f"batch.max_key_point_error_m must be a finite number > 0,"
                f" got {self.max_key_point_error_m}"
            )


@dataclass
class RetargetCfg:
    """Motion front end: read, normalise, filter, fix contacts, retarget, assess."""

    robot: str = "g1_23dof_lock_wrist"
    """Robot variant the clips are made for."""
    units: str = "auto"
    """Length unit of BVH/ASF-AMC input: ``auto`` (from the skeleton's height), ``m``, ``cm``,
    ``mm``, ``inch`` or ``cmu`` (CMU's 1/0.45 inch)."""
    normalize: NormalizeCfg = field(default_factory=NormalizeCfg)
    filter: FilterCfg = field(default_factory=FilterCfg)
    contact: ContactCfg = field(default_factory=ContactCfg)
    correct: CorrectCfg = field(default_factory=CorrectCfg)
    solver: SolverCfg = field(default_factory=SolverCfg)
    feasibility: FeasibilityCfg = field(default_factory=FeasibilityCfg)
    batch: BatchCfg = field(default_factory=BatchCfg)
