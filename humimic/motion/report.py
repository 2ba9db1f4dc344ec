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
file keeps the same object in its ``report_json`` field (:attr:`RobotClip.report`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from humimic.errors import InputFileError
from humimic.eval.report import JsonReader, is_number, load_json_object, read_schema_version
from humimic.files import atomic_write, json_default

if TYPE_CHECKING:
    from humimic.motion.clip import RobotClip

SCHEMA_VERSION = 2
"""2: ``schema_version`` written; 1: the same layout without it."""
VERDICTS = ("pass", "warn", "fail")
"""Verdicts from best to worst."""


def worst(*verdicts: str) -> str:
    """The worst of ``verdicts`` (``pass`` when none)."""
    return max(verdicts, key=VERDICTS.index, default="pass")


@dataclass(frozen=True)
class CheckResult:
    """One feasibility check: its verdict, why, and the figures it measured.

    Attributes:
        name: the check, e.g. ``"foot_skating"`` (its key in ``checks``).
        verdict: pass / warn / fail.
        reasons: one line per warn or fail (each names the measured value and its limit).
        figures: the measured values by name, units in the name (``max_depth_m``); the
            thresholds are in :attr:`FeasibilityReport.settings`.
    """

    name: str
    verdict: str
    reasons: tuple[str, ...] = ()
    figures: Mapping[str, Any] = field(default_factory=dict)

    def number(self, key: str) -> float:
        """The figure ``key`` as a float.

        Raises:
            KeyError: The check has no such numeric figure.
        """
        value = self.figures.get(key)
        if not isinstance(value, int | float) or not is_number(value):
            raise KeyError(f"{self.name}.{key}")
        return float(value)

    def to_json(self) -> dict[str, Any]:
        """The check's JSON object."""
        return {"verdict": self.verdict, "reasons": list(self.reasons), **self.figures}

    @classmethod
    def from_json(cls, name: str, data: Mapping[str, Any], where: str, prefix: str) -> CheckResult:
        """Validate one entry of ``checks``."""
        r = JsonReader(data, where, prefix)
        figures = {k: v for k, v in data.items() if k not in ("verdict", "reasons")}
        return cls(name, _verdict(r), r.texts("reasons"), figures)


@dataclass(frozen=True)
class RobotContact:
    """The robot's own sole-point contact mask, ``(T, 2)`` 0/1 [left, right], and the
    fraction of frames where it agrees with the clip's mask."""

    mask: tuple[tuple[int, int], ...]
    agreement: float

    def to_json(self) -> dict[str, Any]:
        return {"mask": [list(row) for row in self.mask], "agreement": self.agreement}

    @classmethod
    def from_json(cls, data: Mapping[str, Any], where: str, prefix: str) -> RobotContact:
        r = JsonReader(data, where, prefix)
        mask = data.get("mask")
        if not isinstance(mask, list) or not all(
            isinstance(row, list) and len(row) == 2 and all(v in (0, 1) for v in row)
            for row in mask
        ):
            raise InputFileError(where, f"{prefix}mask: not a list of [0/1, 0/1] rows")
        return cls(tuple((int(a), int(b)) for a, b in mask), r.number("agreement"))


@dataclass(frozen=True)
class FeasibilityReport:
    """Can the robot perform the clip: each check, the worst verdict and its reasons.

    Attributes:
        verdict: the worst check's verdict.
        reasons: ``"<check>: <reason>"`` for every warn or fail.
        checks: the checks by name, in the order they ran.
        robot_contact: the robot's own contact mask (None when not recorded).
        settings: the thresholds (:class:`~humimic.config.motion_schema.FeasibilityCfg`).
    """

    verdict: str
    reasons: tuple[str, ...]
    checks: Mapping[str, CheckResult]
    robot_contact: RobotContact | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_checks(
        cls,
        checks: Mapping[str, CheckResult],
        robot_contact: RobotContact,
        settings: Mapping[str, Any],
    ) -> FeasibilityReport:
        """The report of ``checks``: the worst verdict, and every reason with its check."""
        verdict = worst(*(c.verdict for c in checks.values()))
        reasons = tuple(f"{name}: {r}" for name, c in checks.items() for r in c.reasons)
        return cls(verdict, reasons, dict(checks), robot_contact, dict(settings))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"verdict": self.verdict, "reasons": list(self.reasons)}
        out["checks"] = {name: c.to_json() for name, c in self.checks.items()}
        if self.robot_contact is not None:
            out["robot_contact"] = self.robot_contact.to_json()
        out["settings"] = dict(self.settings)
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any], where: str, prefix: str) -> FeasibilityReport:
        r = JsonReader(data, where, prefix)
        checks = {
            str(name): CheckResult.from_json(
                str(name), _object(entry, where, f"{prefix}checks.{name}"), where,
                f"{prefix}checks.{name}.",
            )
            for name, entry in r.object("checks").items()
        }  # fmt: skip
        contact = None
        if "robot_contact" in data:
            contact = RobotContact.from_json(
                r.object("robot_contact"), where, f"{prefix}robot_contact."
            )
        settings = r.object("settings") if "settings" in data else {}
        return cls(_verdict(r), r.texts("reasons"), checks, contact, dict(settings))


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
        r = JsonReader(_object(data, where, "source"), where, "source.")
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
        return {"contact_fraction": list(self.contact_fraction),
                "contact_runs": list(self.contact_runs),
                "no_contact_fraction": self.no_contact_fraction, "fps": self.fps}  # fmt: skip

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
        return {"key_point_error_mean_m": self.key_point_error_mean_m,
                "key_point_error_max_m": self.key_point_error_max_m,
                "key_point_error_per_joint_m": dict(self.key_point_error_per_joint_m),
                "bone_scale": dict(self.bone_scale), "leg_scale": self.leg_scale,
                "solver_iterations": self.solver_iterations,
                "solver_cost": list(self.solver_cost)}  # fmt: skip

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
        return {"upright_s": self.upright_s, "clip_s": self.clip_s,
                "E_g_mpbpe_mm": self.E_g_mpbpe_mm, "note": self.note}  # fmt: skip

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
        sections = (("source", self.source), ("filter", self.filter), ("contact", self.contact),
                    ("retarget", self.retarget), ("feasibility", self.feasibility))  # fmt: skip
        typed = {k: v.to_json() for k, v in sections if v is not None}
        plain = {"normalize": self.normalize, "correct": self.correct}
        for key in ("source", "normalize", "filter", "correct", "contact", "retarget",
                    "feasibility"):  # fmt: skip
            if key in typed:
                out[key] = typed[key]
            elif plain.get(key) is not None:
                out[key] = dict(plain[key] or {})
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

        def section(key: str) -> Mapping[str, Any] | None:
            return r.object(key) if key in data else None

        filt, contact, retarget = section("filter"), section("contact"), section("retarget")
        feasibility, pd = section("feasibility"), section("pd_replay")
        return cls(
            _verdict(r), r.texts("reasons") if "reasons" in data else (),
            SourceInfo.from_json(data["source"], where) if "source" in data else None,
            _plain(section("normalize")),
            FilterSummary.from_json(filt, where) if filt is not None else None,
            _plain(section("correct")),
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
    import json

    text = json.dumps(report.to_json(), indent=2, default=json_default)
    return atomic_write(path, lambda p: p.write_text(text + "\n", encoding="utf-8"))


def _verdict(r: JsonReader) -> str:
    value = r.text("verdict")
    if value not in VERDICTS:
        raise InputFileError(r.where, f"{r.prefix}verdict: {value!r} is not one of {VERDICTS}")
    return value


def _object(value: object, where: str, key: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InputFileError(where, f"{key}: not an object")
    return value


def _plain(section: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return dict(section) if section is not None else None
