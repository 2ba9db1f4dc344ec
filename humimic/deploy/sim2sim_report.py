"""The sim-to-sim report: the gate's decision and the ``metrics.json`` sim2sim writes.

Layout (keys as before the schema was versioned, plus ``schema_version``): the tracking
metrics of :class:`~humimic.eval.report.TrackingMetrics`, then ``"episodes"`` (``{"episode",
"fall", "frames"}`` each), ``"bodies"``, ``"gate"`` (:class:`~humimic.deploy.gate.GateVerdict`),
``"controller"``, ``"settings"``, ``"plots"`` and, when asked for, ``"video"``. Read and
written here only; deploy reads just the gate (:func:`humimic.deploy.gate.read_verdict`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from humimic.deploy.gate import GATE_KEY, SCHEMA_VERSION, GateThresholds, GateVerdict
from humimic.errors import InputFileError
from humimic.eval.metrics import FAIL_DISTANCE_M
from humimic.eval.report import TrackingMetrics
from humimic.json_contract import JsonReader, load_json_object, read_schema_version

if TYPE_CHECKING:
    from humimic.deploy.sim2sim import Sim2SimConfig


@dataclass(frozen=True)
class EpisodeOutcome:
    """How one episode ended: ``fall`` says why it stopped early ("" when it did not)."""

    episode: int
    fall: str
    frames: int


@dataclass(frozen=True)
class Sim2SimReport:
    """What ``humimic sim2sim`` found (see the module docstring for the file layout).

    Attributes:
        metrics: tracking metrics of the episodes (as ``humimic eval`` computes them).
        episodes: how each episode ended.
        bodies: the tracked physical bodies scored, pelvis first.
        gate: the verdict.
        controller: the controller folder.
        settings: the :class:`~humimic.deploy.sim2sim.Sim2SimConfig` fields, episodes, seed.
        plots: PNG names beside the report.
        video: the MP4 path or why it was not rendered (None: not asked for).
        schema_version: the file's version (:data:`humimic.deploy.gate.SCHEMA_VERSION`).
    """

    metrics: TrackingMetrics
    episodes: tuple[EpisodeOutcome, ...]
    bodies: tuple[str, ...]
    gate: GateVerdict
    controller: str = ""
    settings: Mapping[str, float | int | bool] = field(default_factory=dict)
    plots: tuple[str, ...] = ()
    video: str | None = None
    schema_version: int = SCHEMA_VERSION

    def to_json(self) -> dict[str, Any]:
        """The file's JSON object."""
        out: dict[str, Any] = {"schema_version": SCHEMA_VERSION, **self.metrics.to_json()}
        out["episodes"] = [{"episode": e.episode, "fall": e.fall, "frames": e.frames}
                           for e in self.episodes]  # fmt: skip
        out["bodies"] = list(self.bodies)
        out[GATE_KEY] = self.gate.to_json()
        out["controller"] = self.controller
        out["settings"] = dict(self.settings)
        out["plots"] = list(self.plots)
        if self.video is not None:
            out["video"] = self.video
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any], where: str) -> Sim2SimReport:
        """Validate a parsed sim2sim ``metrics.json``.

        Raises:
            InputFileError: one line naming the file and the bad entry.
        """
        version = read_schema_version(data, where, SCHEMA_VERSION)
        r = JsonReader(data, where)
        episodes = data.get("episodes")
        if not isinstance(episodes, list) or not all(isinstance(e, Mapping) for e in episodes):
            raise InputFileError(where, "episodes: not a list of objects")
        outcomes = []
        for i, e in enumerate(episodes):
            er = JsonReader(e, where, f"episodes[{i}].")
            outcomes.append(EpisodeOutcome(er.integer("episode"), er.text("fall"),
                                           er.integer("frames", minimum=1)))  # fmt: skip
        settings = r.object("settings")
        if not all(isinstance(v, int | float) for v in settings.values()):
            raise InputFileError(where, "settings: not an object of numbers and flags")
        return cls(TrackingMetrics.from_json(data, where), tuple(outcomes), r.texts("bodies"),
                   GateVerdict.from_json(data.get(GATE_KEY), version, where),
                   r.text("controller"), dict(settings), r.texts("plots"),
                   r.text("video") if "video" in data else None, version)  # fmt: skip


def read_sim2sim_report(path: str | Path) -> Sim2SimReport:
    """Read and validate a sim2sim ``metrics.json``.

    Raises:
        InputFileError: one line naming the file and what is wrong.
    """
    return Sim2SimReport.from_json(load_json_object(path), str(path))


def gate(
    mpbpe_mm: float,
    success: Sequence[float] | None,
    episodes: Sequence[EpisodeOutcome],
    cfg: Sim2SimConfig,
    hashes: Mapping[str, str | None] | None = None,
) -> GateVerdict:
    """The verdict from the metrics and per-episode falls.

    Args:
        mpbpe_mm: mean ``E_mpbpe`` over the episodes, mm (NaN fails).
        success: per-episode success (1.0 / 0.0) as ``humimic eval`` defines it; None or a
            wrong length fails (success unknown).
        episodes: how each episode ended.
        cfg: thresholds.
        hashes: ``controller_sha256`` / ``manifest_sha256`` of the bytes that ran (None
            when a stand-in controller ran: deploy then refuses the verdict).
    """
    reasons = [f"episode {e.episode}: {e.fall}" for e in episodes if e.fall]
    fail_m = FAIL_DISTANCE_M
    if success is None or len(success) != len(episodes):
        reasons.append("no per-episode success recorded")
    else:
        reasons += [
            f"episode {e.episode}: not a success (a body beyond {fail_m} m of its reference "
            "or the clip not finished, as in humimic eval)"
            for e, ok in zip(episodes, success) if not ok and not e.fall
        ]  # fmt: skip
    if not mpbpe_mm < cfg.max_mpbpe_mm:
        reasons.append(f"E_mpbpe {mpbpe_mm:.1f} mm >= {cfg.max_mpbpe_mm} mm")
    thresholds = GateThresholds(cfg.min_pelvis_height_m, cfg.max_tilt_rad, cfg.max_mpbpe_mm,
                                fail_m, every_episode_succeeds=True)  # fmt: skip
    hashes = hashes or {}
    return GateVerdict(not reasons, tuple(reasons), thresholds,
                       hashes.get("controller_sha256"), hashes.get("manifest_sha256"))  # fmt: skip
