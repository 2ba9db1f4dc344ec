"""The clip-report contract: what ``humimic retarget`` writes as ``<clip>.report.json``.

Read and written here only. Layout (keys as before the schema was versioned, plus
``schema_version``; every section but ``verdict`` is optional)::

    {"schema_version": 2,
     "source": {"file", "format", "sha256", "frames"?, "fps"?, "joints"?, "canonical_map"?,
                "meta"?, "notes"?} or a bare label ("synthetic"),
     "normalize": {...}, "correct": {...},          # stage figures, plain JSON objects
     "filter": {"passed", "reason", "distance_m": [T], ...statistics},
     "contact": {"contact_fraction": [2], "contact_runs": [2], "no_contact_fraction", "fps"},
     "retarget": {"key_point_error_mean_m", "key_point_error_max_m",
                  "key_point_error_per_joint_m": {}, "bone_scale": {}, "leg_scale",
                  "solver_iterations", "solver_cost": [first, last]},
     "feasibility": {"verdict", "reasons", "checks": {name: {"verdict", "reasons", ...}},
                     "robot_contact": {"mask": [[0/1, 0/1]] * T, "agreement"}, "settings"},
     "verdict": "pass" | "warn" | "fail", "reasons": [...], "timing_s",
     "pd_replay": {"upright_s", "clip_s", "E_g_mpbpe_mm", "note"}}

A file without ``schema_version`` is version 1 (the same keys) and reads as such. The clip
file keeps the same object in its ``report_json`` field (:attr:`RobotClip.report`). The
feasibility section's types (:class:`CheckResult`, :class:`FeasibilityReport`) are defined
in :mod:`humimic.motion.feasibility_report` and re-exported here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from humimic.errors import InputFileError
from humimic.files import atomic_write, json_default
from humimic.json_contract import JsonReader, load_json_object, read_schema_version
from humimic.motion.feasibility_report import (
    VERDICTS,
    CheckResult,
    FeasibilityReport,
    RobotContact,
    json_object,
    read_verdict,
    worst,
)

if TYPE_CHECKING:
    from humimic.motion.clip import RobotClip

__all__ = [  # the feasibility section's types are defined beside it, part of this contract
    "SCHEMA_VERSION",
    "VERDICTS",
    "CheckResult",
    "ClipReport",
    "ContactSummary",
    "FeasibilityReport",
    "FilterSummary",
    "PdReplay",
    "RetargetSummary",
    "RobotContact",
    "SourceInfo",
    "clip_report",
    "read_clip_report",
    "worst",
    "write_clip_report",
]

SCHEMA_VERSION = 2
"""2: ``schema_version`` written; 1: the same layout without it."""
_SECTIONS = ("source", "normalize", "filter", "correct", "contact", "retarget", "feasibility")


@dataclass(frozen=True)
class SourceInfo:
    """The input file. Human motion adds its size and skeleton (``frames`` set); clips from
    other tools add import notes; a synthetic clip is known by a label in ``file`` only."""

    file: str
    format: str = ""
    sha256: str = ""
    frames: int | None = None
    fps: float | None = None
    joints: int | None = None
    canonical_map: Mapping[str, str] = field(default_factory=dict)
    meta: Mapping[str, str | int | float | bool] = field(default_factory=dict)
    notes: tuple[str, ...] | None = None

    @property
    def is_label(self) -> bool:
        """Only a label (written as a bare string)."""
        return not (self.format or self.sha256) and self.frames is None and self.notes is None

    def to_json(self) -> dict[str, Any] | str:
        if self.is_label:
            return self.file
        out: dict[str, Any] = {"file": self.file, "format": self.format, "sha256": self.sha256}
        if self.frames is not None:
            out.update(frames=self.frames, fps=self.fps, joints=self.joints,
                       canonical_map=dict(self.canonical_map), meta=dict(self.meta))  # fmt: skip
        if self.notes is not None:
            out["notes"] = list(self.notes)
        return out

    @classmethod
    def from_json(cls, data: object, where: str) -> SourceInfo:
        if isinstance(data, str):
            return cls(data)
        r = JsonReader(json_object(data, where, "source"), where, "source.")
        human = "frames" in r.data
        meta = r.object("meta") if human else {}
        if not all(isinstance(v, str | int | float | bool) for v in meta.values()):
            raise InputFileError(where, "source.meta: not an object of plain values")
        return cls(
            r.text("file"), r.text("format"), r.text("sha256"),
            r.integer("frames") if human else None, r.number("fps") if human else None,
            r.integer("joints") if human else None,
            r.text_map("canonical_map") if human else {}, dict(meta),
            r.texts("notes") if "notes" in r.data else None,
        )  # fmt: skip


@dataclass(frozen=True)
class FilterSummary:
    """The physics filter: passed, why, the CoM-to-support distance per frame (m) and its
    statistics (``longest_unstable_s``, ``stable_fraction`` ...) in ``figures``."""

    passed: bool
    reason: str
    distance_m: tuple[float, ...] = ()
    figures: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"passed": self.passed, "reason": self.reason, **self.figures,
                "distance_m": list(self.distance_m)}  # fmt: skip

    @classmethod
    def from_json(cls, data: Mapping[str, Any], where: str) -> FilterSummary:
        r = JsonReader(data, where, "filter.")
        rest = {k: v for k, v in data.items() if k not in ("passed", "reason", "distance_m")}
        return cls(r.flag("passed"), r.text("reason"), r.numbers("distance_m"), rest)


@dataclass(frozen=True)
class ContactSummary:
    """The clip's foot contacts: fraction of frames and runs per foot [left, right], the
    fraction with neither foot down, and the rate (Hz) they were counted at."""

    contact_fraction: tuple[float, float]
    contact_runs: tuple[int, int]
    no_contact_fraction: float
    fps: float

    def to_json(self) -> dict[str, Any]:
        return _fields_json(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any], where: str) -> ContactSummary:
        r = JsonReader(data, where, "contact.")
        left, right = r.numbers("contact_fraction", 2)
        runs = r.numbers("contact_runs", 2)
        return cls((left, right), (int(runs[0]), int(runs[1])), r.number("no_contact_fraction"),
                   r.number("fps"))  # fmt: skip


@dataclass(frozen=True)
class RetargetSummary:
    """How well the robot follows the human: key-point errors (m, mean/max over frames and
    points, mean per human joint), the fitted bone and leg scales, and the solver's work
    (iterations, cost before and after)."""

    key_point_error_mean_m: float
    key_point_error_max_m: float
    key_point_error_per_joint_m: Mapping[str, float]
    bone_scale: Mapping[str, float]
    leg_scale: float
    solver_iterations: int
    solver_cost: tuple[float, ...]

    def to_json(self) -> dict[str, Any]:
        return _fields_json(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any], where: str) -> RetargetSummary:
        r = JsonReader(data, where, "retarget.")
        return cls(r.number("key_point_error_mean_m"), r.number("key_point_error_max_m"),
                   r.number_map("key_point_error_per_joint_m"), r.number_map("bone_scale"),
                   r.number("leg_scale"), r.integer("solver_iterations"),
                   r.numbers("solver_cost"))  # fmt: skip


@dataclass(frozen=True)
class PdReplay:
    """``tools/pd_replay.py``: seconds the robot stays near the reference on PD alone, the
    clip's length (s), the global body error (mm) and what the figures mean."""

    upright_s: float
    clip_s: float
    E_g_mpbpe_mm: float
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return _fields_json(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any], where: str) -> PdReplay:
        r = JsonReader(data, where, "pd_replay.")
        return cls(r.number("upright_s"), r.number("clip_s"), r.number("E_g_mpbpe_mm"),
                   r.text("note") if "note" in data else "")  # fmt: skip


@dataclass(frozen=True)
class ClipReport:
    """A clip's quality report (see the module docstring for the file layout).

    Attributes:
        verdict: pass / warn / fail: the worst of the filter, retarget and feasibility.
        reasons: one line per problem, naming the stage.
        source: the input (None: not recorded).
        normalize / correct: what those stages changed (offsets m, rates Hz), plain JSON.
        filter / contact / retarget / feasibility: the stages' sections (None: stage not run,
            e.g. a robot clip from another tool has only ``source`` and ``feasibility``).
        timing_s: seconds the pipeline took on this input.
        pd_replay: the PD-only replay diagnosis, when ``tools/pd_replay.py`` added it.
        schema_version: version of the file it was read from, or :data:`SCHEMA_VERSION`.
    """

    verdict: str
    reasons: tuple[str, ...] = ()
    source: SourceInfo | None = None
    normalize: Mapping[str, Any] | None = None
    filter: FilterSummary | None = None
    correct: Mapping[str, Any] | None = None
    contact: ContactSummary | None = None
    retarget: RetargetSummary | None = None
    feasibility: FeasibilityReport | None = None
    timing_s: float | None = None
    pd_replay: PdReplay | None = None
    schema_version: int = SCHEMA_VERSION

    @property
    def leg_scale(self) -> float:
        """The retarget's leg scale, 1.0 when the clip was not retargeted from a human."""
        return self.retarget.leg_scale if self.retarget is not None else 1.0

    def check(self, name: str) -> CheckResult | None:
        """The feasibility check ``name``, None when it did not run."""
        return self.feasibility.checks.get(name) if self.feasibility is not None else None

    def to_json(self) -> dict[str, Any]:
        """The file's JSON object."""
        out: dict[str, Any] = {"schema_version": SCHEMA_VERSION}
        for key in _SECTIONS:  # in the order the stages run
            value = getattr(self, key)
            if value is not None:
                out[key] = dict(value) if isinstance(value, Mapping) else value.to_json()
        out["verdict"], out["reasons"] = self.verdict, list(self.reasons)
        if self.timing_s is not None:
            out["timing_s"] = self.timing_s
        if self.pd_replay is not None:
            out["pd_replay"] = self.pd_replay.to_json()
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any], where: str) -> ClipReport:
        """Validate a parsed clip report.

        Raises:
            InputFileError: one line naming the file and the bad entry.
        """
        version = read_schema_version(data, where, SCHEMA_VERSION)
        r = JsonReader(data, where)

        def section(key: str) -> dict[str, Any] | None:
            return dict(r.object(key)) if key in data else None

        filt, contact, retarget = section("filter"), section("contact"), section("retarget")
        feasibility, pd = section("feasibility"), section("pd_replay")
        return cls(
            read_verdict(r), r.texts("reasons") if "reasons" in data else (),
            SourceInfo.from_json(data["source"], where) if "source" in data else None,
            section("normalize"),
            FilterSummary.from_json(filt, where) if filt is not None else None,
            section("correct"),
            ContactSummary.from_json(contact, where) if contact is not None else None,
            RetargetSummary.from_json(retarget, where) if retarget is not None else None,
            FeasibilityReport.from_json(feasibility, where, "feasibility.")
            if feasibility is not None else None,
            r.number("timing_s") if "timing_s" in data else None,
            PdReplay.from_json(pd, where) if pd is not None else None,
            version,
        )  # fmt: skip


def clip_report(clip: RobotClip, where: str = "clip") -> ClipReport | None:
    """The typed report stored in ``clip`` (None when the clip has none).

    Raises:
        InputFileError: ``<where>: report ...`` when the stored report is damaged.
    """
    if not clip.report:
        return None
    return ClipReport.from_json(clip.report, f"{where} report")


def read_clip_report(path: str | Path) -> ClipReport:
    """Read and validate a ``<clip>.report.json``.

    Raises:
        InputFileError: one line naming the file and what is wrong.
    """
    return ClipReport.from_json(load_json_object(path), str(path))


def write_clip_report(path: str | Path, report: ClipReport) -> Path:
    """Write ``report`` atomically as indented JSON (numpy values converted)."""
    text = json.dumps(report.to_json(), indent=2, default=json_default)
    return atomic_write(path, lambda p: p.write_text(text + "\n", encoding="utf-8"))


def _fields_json(section: Any) -> dict[str, Any]:
    """A dataclass section of numbers, strings, tuples and maps as JSON values, in field
    order (tuples as lists, maps as dicts)."""
    out: dict[str, Any] = {}
    for f in fields(section):
        value = getattr(section, f.name)
        out[f.name] = (
            list(value) if isinstance(value, tuple)
            else dict(value) if isinstance(value, Mapping) else value
        )  # fmt: skip
    return out
