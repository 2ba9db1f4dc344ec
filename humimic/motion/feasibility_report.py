"""The feasibility section of the clip report: one :class:`CheckResult` per check and the
:class:`FeasibilityReport` that grades them (layout: :mod:`humimic.motion.report`).

:func:`humimic.motion.feasibility.assess_clip` returns the report; the clip report embeds it
under ``"feasibility"``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from humimic.errors import InputFileError
from humimic.json_contract import JsonReader, is_number

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
        return cls(name, read_verdict(r), r.texts("reasons"), figures)


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
                str(name), json_object(entry, where, f"{prefix}checks.{name}"), where,
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
        return cls(read_verdict(r), r.texts("reasons"), checks, contact, dict(settings))


def read_verdict(r: JsonReader) -> str:
    """The ``verdict`` entry, one of :data:`VERDICTS`."""
    value = r.text("verdict")
    if value not in VERDICTS:
        raise InputFileError(r.where, f"{r.prefix}verdict: {value!r} is not one of {VERDICTS}")
    return value


def json_object(value: object, where: str, key: str) -> Mapping[str, Any]:
    """``value`` when it is a JSON object, else a one-line error naming ``key``."""
    if not isinstance(value, Mapping):
        raise InputFileError(where, f"{key}: not an object")
    return value
