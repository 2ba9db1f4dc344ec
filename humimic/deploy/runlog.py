"""The deploy run log: ``events.jsonl`` (one JSON object a line, flushed as it goes) and
``steps.npz`` (every control step's state and command, written at the end) in a run folder.

``steps.npz`` holds :data:`STEP_KEYS` (arrays over steps) and ``state_names`` (the
:class:`~humimic.deploy.safety.SafetyState` names, indexed by the ``state`` codes).
"""

from __future__ import annotations

import json
import os
import time
from io import TextIOWrapper
from pathlib import Path
from typing import Any

import numpy as np

from humimic.deploy.controller import JointCommand, RobotState
from humimic.deploy.safety import SafetyState

STATE_CODES = {s: i for i, s in enumerate(SafetyState)}
"""The integer each safety state is logged as."""
STEP_KEYS = ("time_s", "state", "tick", "state_age_s", "joint_pos", "joint_vel", "quat_wxyz",
              "gyro_b", "q_target", "kp", "kd")  # fmt: skip
"""The per-step arrays of ``steps.npz``."""


class RunLog:
    """events.jsonl (flushed as it goes) and steps.npz (written at close) in a run folder."""

    def __init__(self, log_dir: Path | None) -> None:
        self.dir = log_dir
        self._rows: dict[str, list[Any]] = {k: [] for k in STEP_KEYS}
        self._events: TextIOWrapper | None = None
        if log_dir is not None:
            log_dir.mkdir(parents=True, exist_ok=True)
            self._events = open(log_dir / "events.jsonl", "a", encoding="utf-8")  # noqa: SIM115

    def event(self, time_s: float, kind: str, **info: Any) -> None:
        """Append one event line (wall clock, run time ``time_s`` in s, kind, details)."""
        if self._events is not None:
            row = {"wall": time.time(), "t": round(time_s, 4), "event": kind, **info}
            self._events.write(json.dumps(row, default=str) + "\n")
            self._events.flush()

    def step(self, rs: RobotState, cmd: JointCommand, state: SafetyState) -> None:
        """Keep one control step's state and command for ``steps.npz``."""
        if self.dir is None:
            return
        values = (rs.time_s, STATE_CODES[state], rs.tick, rs.age_s, rs.joint_pos, rs.joint_vel,
                  rs.quat_wxyz, rs.gyro_b, cmd.q, cmd.kp, cmd.kd)  # fmt: skip
        for k, v in zip(STEP_KEYS, values):
            self._rows[k].append(v)

    def close(self) -> None:
        """Close the event file and write ``steps.npz`` atomically (when steps were kept)."""
        if self._events is not None:
            self._events.close()
            self._events = None
        if self.dir is None or not self._rows["time_s"]:
            return
        arrays = {k: np.asarray(v) for k, v in self._rows.items()}
        arrays["state_names"] = np.array([str(s) for s in SafetyState])
        tmp = self.dir / "steps.tmp.npz"
        save: Any = np.savez_compressed  # numpy's stub types **arrays as its allow_pickle flag
        save(tmp, **arrays)
        os.replace(tmp, self.dir / "steps.npz")
