"""The clip-report contract: round trip, the repository's reports load, damage is one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from humimic.errors import InputFileError
from humimic.motion.report import (
    SCHEMA_VERSION,
    CheckResult,
    ClipReport,
    ContactSummary,
    FeasibilityReport,
    FilterSummary,
    PdReplay,
    RetargetSummary,
    RobotContact,
    SourceInfo,
    read_clip_report,
    write_clip_report,
)

MOTIONS = Path(__file__).resolve().parents[2] / "motions"


def _report() -> ClipReport:
    checks = {
        "foot_skating": CheckResult("foot_skating", "pass", (), {"mean_mps": 0.01}),
        "torque": CheckResult("torque", "warn", ("knee needs 1.1x",), {"peak_fraction": {}}),
    }
    feasibility = FeasibilityReport.from_checks(
        checks, RobotContact(((1, 0), (1, 1)), 0.5), {"friction": 0.8}
    )
    return ClipReport(
        verdict="warn",
        reasons=feasibility.reasons,
        source=SourceInfo("walk.bvh", "bvh", "ab12", 2, 50.0, 3, {"pelvis": "Hips"}, {"unit": "m"}),
        normalize={"fps": 50.0, "window_s": [0.0, None]},
        filter=FilterSummary(True, "stable", (0.02, 0.03), {"longest_unstable_s": 0.0}),
        correct={"lowest_point_m": 0.0},
        contact=ContactSummary((0.5, 0.5), (1, 1), 0.0, 50.0),
        retarget=RetargetSummary(0.01, 0.03, {"pelvis": 0.01}, {"a->b": 0.8}, 0.75, 9, (5.0, 1.0)),
        feasibility=feasibility,
        timing_s=0.5,
        pd_replay=PdReplay(0.4, 2.0, 900.0, "PD only"),
    )


def test_round_trip_through_a_file(tmp_path: Path) -> None:
    report = _report()
    assert report.feasibility is not None
    assert report.feasibility.verdict == "warn"
    assert report.feasibility.reasons == ("torque: knee needs 1.1x",)
    path = write_clip_report(tmp_path / "walk.report.json", report)
    assert json.loads(path.read_text())["schema_version"] == SCHEMA_VERSION
    assert read_clip_report(path) == report
    assert report.check("foot_skating") is not None and report.leg_scale == 0.75


@pytest.mark.parametrize("name", sorted(p.name for p in MOTIONS.glob("*.report.json")))
def test_reports_in_the_repository_load_unchanged(name: str, tmp_path: Path) -> None:
    """The shipped reports read and write back byte for byte; the same report without its
    ``schema_version`` (as files were written before it was versioned) reads as version 1
    with the same content."""
    data = json.loads((MOTIONS / name).read_text())
    report = read_clip_report(MOTIONS / name)
    assert report.schema_version == SCHEMA_VERSION
    assert json.dumps(report.to_json(), sort_keys=True) == json.dumps(data, sort_keys=True)
    unversioned = {k: v for k, v in data.items() if k != "schema_version"}
    (tmp_path / name).write_text(json.dumps(unversioned))
    old = read_clip_report(tmp_path / name)
    assert old.schema_version == 1
    written = old.to_json()
    assert written.pop("schema_version") == SCHEMA_VERSION
    assert json.dumps(written, sort_keys=True) == json.dumps(unversioned, sort_keys=True)


def test_a_synthetic_source_label_stays_a_label() -> None:
    report = ClipReport.from_json({"verdict": "pass", "source": "synthetic"}, "x")
    assert report.source == SourceInfo("synthetic")
    assert report.to_json()["source"] == "synthetic"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ({"schema_version": 99}, "schema_version 99 is newer"),
        ({"schema_version": "2"}, "schema_version '2' is not a positive integer"),
        ({"verdict": "maybe"}, "verdict: 'maybe' is not one of"),
        ({"retarget": {"leg_scale": 0.7}}, "retarget.key_point_error_mean_m: missing"),
        (
            {"feasibility": {"verdict": "pass", "reasons": [], "checks": {"torque": []}}},
            "feasibility.checks.torque: not an object",
        ),
        (
            {
                "contact": {
                    "contact_fraction": [0.5],
                    "contact_runs": [1, 1],
                    "no_contact_fraction": 0,
                    "fps": 50,
                }
            },
            "contact.contact_fraction: 1 values, expected 2",
        ),
    ],
)
def test_a_damaged_report_is_one_line_naming_the_file(
    tmp_path: Path, edit: dict[str, object], message: str
) -> None:
    path = tmp_path / "clip.report.json"
    path.write_text(json.dumps({**_report().to_json(), **edit}))
    with pytest.raises(InputFileError) as err:
        read_clip_report(path)
    text = str(err.value)
    assert text.startswith(f"{path}: ") and message in text and "\n" not in text


def test_not_json_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "clip.report.json"
    path.write_text('{"verdict": "pass",')
    with pytest.raises(InputFileError, match="not valid JSON"):
        read_clip_report(path)
