"""The motion front end end to end on real CMU motion capture."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from humimic.config.store import compose
from humimic.motion.clip import load_clip, report_path_for
from humimic.motion.pipeline import ClipMaker, InputOptions

SHARED_FILES = [
    "cmu/bvh/02_01.bvh",
    "cmu/bvh/05_06.bvh",
    "cmu/bvh/49_08_cartwheels.bvh",
    "cmu/bvh/01_01_forward_jumps.bvh",
    "cmu/asfamc/07_05-walk.amc",
    "cmu/asfamc/09_06-run.amc",
]
VARIANTS = ["g1_23dof_lock_wrist", "g1_29dof", "g1_23dof"]


@pytest.fixture(scope="module")
def makers() -> dict[str, ClipMaker]:
    """One pipeline per variant, built once (model, solver) and reused for every file."""
    return {v: ClipMaker(compose("retarget", [f"robot={v}"])) for v in VARIANTS}


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("name", SHARED_FILES)
def test_every_shared_file_retargets_to_every_variant(
    shared_motions: Path, makers: dict[str, ClipMaker], tmp_path: Path, name: str, variant: str
) -> None:
    out = tmp_path / "clip.npz"
    outcome = makers[variant].run(shared_motions / name, out, InputOptions())
    clip = load_clip(out)  # validates shapes, names, units, finiteness
    spec = makers[variant].spec
    assert clip.variant == variant and clip.joint_names == list(spec.joint_names)
    assert outcome.verdict in ("pass", "warn", "fail")
    report = json.loads(report_path_for(out).read_text())
    assert report["verdict"] == outcome.verdict
    assert clip.duration_s == pytest.approx(report["normalize"]["duration_s"], abs=0.03)
    # Joint limits are hard in the solver, whatever the motion.
    limits = report["feasibility"]["checks"]["joint_limits"]
    assert limits["violation_frames"] == 0


@pytest.mark.parametrize("name", ["cmu/bvh/02_01.bvh", "cmu/asfamc/07_05-walk.amc"])
def test_walks_meet_the_quality_targets(
    shared_motions: Path, makers: dict[str, ClipMaker], tmp_path: Path, name: str
) -> None:
    maker = makers["g1_23dof_lock_wrist"]
    maker.run(shared_motions / name, tmp_path / "walk.npz", InputOptions())
    report = load_clip(tmp_path / "walk.npz").report
    checks = report["feasibility"]["checks"]
    assert report["retarget"]["key_point_error_mean_m"] <= 0.03
    assert checks["joint_limits"]["violation_frames"] == 0
    assert checks["foot_skating"]["mean_mps"] <= 0.02
    assert checks["ground_penetration"]["max_depth_m"] <= 0.005
    assert report["filter"]["passed"]


def test_cartwheel_is_flagged(shared_motions: Path, makers: dict[str, ClipMaker], tmp_path: Path):
    maker = makers["g1_23dof_lock_wrist"]
    outcome = maker.run(
        shared_motions / "cmu/bvh/49_08_cartwheels.bvh", tmp_path / "c.npz", InputOptions()
    )
    assert outcome.verdict == "fail"
    text = " ".join(outcome.reasons)
    assert "physics filter" in text or "support" in text


def test_robot_clip_round_trips_through_the_pipeline(
    shared_motions: Path, makers: dict[str, ClipMaker], tmp_path: Path
) -> None:
    """A humimic clip given back as input is re-assessed, not retargeted again: the motion,
    its provenance and its stage sections stay, a note names the file re-assessed, and the
    same checks give the same verdict."""
    maker = makers["g1_23dof_lock_wrist"]
    maker.run(shared_motions / "cmu/bvh/02_01.bvh", tmp_path / "a.npz", InputOptions())
    maker.run(tmp_path / "a.npz", tmp_path / "b.npz", InputOptions())
    a, b = load_clip(tmp_path / "a.npz"), load_clip(tmp_path / "b.npz")
    np.testing.assert_array_equal(a.joint_pos, b.joint_pos)
    np.testing.assert_array_equal(a.body_pos_w, b.body_pos_w)
    source = b.report["source"]
    assert source["format"] == "bvh" and source["sha256"] == a.source_sha256
    assert source["notes"][-1].startswith(f"re-assessed from {tmp_path / 'a.npz'} (humimic clip")
    for key in ("normalize", "filter", "correct", "contact", "retarget"):
        assert b.report[key] == a.report[key], key
    assert (b.report["verdict"], b.report["reasons"]) == (a.report["verdict"], a.report["reasons"])
    assert b.report["feasibility"]["checks"] == a.report["feasibility"]["checks"]
    assert b.settings == a.settings  # the same version made it: nothing to update
    assert json.loads(report_path_for(tmp_path / "b.npz").read_text()) == b.report


def test_reassessing_a_clip_replaces_a_stale_verdict(
    makers: dict[str, ClipMaker], tmp_path: Path
) -> None:
    """A clip whose stored verdict no longer matches the checks (an older version wrote it)
    gets the checks' verdict; a stored physics-filter failure from before ``severity`` was
    recorded still fails it, with the stored reason first."""
    from humimic.motion.clip import save_clip
    from humimic.testing.synthetic_clips import arm_wave_clip

    clip = arm_wave_clip(seconds=1.0)
    save_clip(clip, tmp_path / "still.npz")  # report: {"verdict": "pass", "source": "synthetic"}
    maker = makers["g1_23dof_lock_wrist"]
    fresh = maker.run(tmp_path / "still.npz", tmp_path / "fresh.npz", InputOptions())
    report = load_clip(tmp_path / "fresh.npz").report
    assert report["source"]["file"] == str(tmp_path / "still.npz")
    assert report["source"]["notes"][0] == "the clip's earlier report names its source 'synthetic'"
    assert "feasibility" in report and fresh.verdict == report["feasibility"]["verdict"]

    clip.report = {
        "verdict": "pass",  # stale: the filter below failed
        "filter": {
            "passed": False,
            "reason": "unstable for 1.20 s (limit 0.50 s)",
            "distance_m": [],
        },
        "feasibility": {"verdict": "pass", "reasons": [], "checks": {}},
    }
    clip.settings = {"solver": {"iterations": 3}, "feasibility": {"torque_warn_fraction": 9.0}}
    save_clip(clip, tmp_path / "stale.npz")
    outcome = maker.run(tmp_path / "stale.npz", tmp_path / "graded.npz", InputOptions())
    assert outcome.verdict == "fail"
    assert outcome.reasons[0] == "physics filter: unstable for 1.20 s (limit 0.50 s)"
    graded = load_clip(tmp_path / "graded.npz")
    # the solver that made the motion is still on record; the checks' settings are today's
    assert graded.settings["solver"] == {"iterations": 3}
    assert graded.settings["feasibility"] == maker.settings["feasibility"]
    checks = graded.report["feasibility"]["checks"]
    assert checks.keys() == report["feasibility"]["checks"].keys() and checks


def test_units_override_reaches_the_report_and_an_implausible_height_warns(
    shared_motions: Path, tmp_path: Path
) -> None:
    walk = shared_motions / "cmu" / "bvh" / "02_01.bvh"
    auto = ClipMaker(compose("retarget", []))
    auto.run(walk, tmp_path / "auto.npz", InputOptions())
    meta = load_clip(tmp_path / "auto.npz").report["source"]["meta"]
    assert meta["unit"] == "cmu" and 1.2 < meta["height_m"] < 2.1
    inch = ClipMaker(compose("retarget", ["units=inch"]))
    outcome = inch.run(walk, tmp_path / "inch.npz", InputOptions())
    meta = load_clip(tmp_path / "inch.npz").report["source"]["meta"]
    # CMU's unit is 1/0.45 inch: read as inches the subject is 0.45x as tall
    assert meta["unit"] == "inch"
    assert meta["height_m"] == pytest.approx(0.45 * 1.4, abs=0.01)
    assert outcome.verdict == "warn"
    assert any("check its unit" in r for r in outcome.reasons), outcome.reasons


def test_a_damaged_stored_report_is_replaced_not_fatal(
    makers: dict[str, ClipMaker], tmp_path: Path
) -> None:
    """Re-assessment is how a clip's report is repaired, so a damaged one is noted and
    replaced rather than refused."""
    from humimic.motion.clip import save_clip
    from humimic.testing.synthetic_clips import arm_wave_clip

    clip = arm_wave_clip(seconds=1.0)
    clip.report = {"verdict": "maybe"}
    save_clip(clip, tmp_path / "damaged.npz")
    outcome = makers["g1_23dof_lock_wrist"].run(
        tmp_path / "damaged.npz", tmp_path / "repaired.npz", InputOptions()
    )
    report = load_clip(tmp_path / "repaired.npz").report
    note = report["source"]["notes"][-1]
    assert note.startswith("the clip's stored report could not be read (") and "maybe" in note
    assert outcome.verdict == report["feasibility"]["verdict"] == report["verdict"]
