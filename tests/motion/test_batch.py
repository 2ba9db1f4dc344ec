"""Folder runs: parallel, resumable, one bad file does not stop the rest."""

from __future__ import annotations

import builtins
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from humimic.config.store import compose
from humimic.motion.batch import run_batch
from humimic.motion.pipeline import InputOptions


def test_folder_run_reports_bad_files_and_resumes(shared_motions: Path, tmp_path: Path) -> None:
    inputs = tmp_path / "in"
    (inputs / "sub").mkdir(parents=True)
    shutil.copy(shared_motions / "cmu/bvh/02_01.bvh", inputs / "walk.bvh")
    shutil.copy(shared_motions / "cmu/asfamc/09_06-run.amc", inputs / "sub" / "09_06-run.amc")
    shutil.copy(shared_motions / "cmu/asfamc/09-run.asf", inputs / "sub" / "09-run.asf")
    text = (shared_motions / "cmu/bvh/02_01.bvh").read_text()
    (inputs / "truncated.bvh").write_text(text[: len(text) // 3])  # cut mid-frame
    out = tmp_path / "out"
    cfg = compose("retarget", ["batch.workers=2"])

    outcomes = run_batch(inputs, out, cfg, InputOptions(), show_progress=False)
    by_name = {Path(o.source).name: o for o in outcomes}
    assert set(by_name) == {"walk.bvh", "09_06-run.amc", "truncated.bvh"}
    assert by_name["truncated.bvh"].verdict == "error"
    assert "truncated.bvh" in by_name["truncated.bvh"].reasons[0]
    assert by_name["walk.bvh"].verdict in ("pass", "warn")
    assert (out / "walk.npz").is_file() and (out / "sub" / "09_06-run.npz").is_file()
    assert not (out / "truncated.npz").exists()  # nothing half-written for the bad file
    summary = json.loads((out / "summary.json").read_text())
    assert summary["counts"]["error"] == 1 and len(summary["clips"]) == 3
    assert (out / "summary.csv").read_text().count("\n") == 4  # header + 3 rows

    # A second run skips the finished clips and only retries the broken file.
    stamp = (out / "walk.npz").stat().st_mtime_ns
    again = run_batch(inputs, out, cfg, InputOptions(), show_progress=False)
    resumed = {Path(o.source).name: o.figures.get("resumed") for o in again}
    assert resumed["walk.bvh"] == 1.0 and resumed["truncated.bvh"] is None
    assert (out / "walk.npz").stat().st_mtime_ns == stamp

    # Changing a setting that shapes the clip invalidates the finished ones.
    changed = compose("retarget", ["batch.workers=2", "solver.smooth_weight=3.0"])
    redone = run_batch(inputs, out, changed, InputOptions(), show_progress=False)
    assert all(o.figures.get("resumed") is None for o in redone)


def test_ray_engine_gives_the_local_results(shared_motions: Path, tmp_path: Path) -> None:
    """The same command on Ray (a local Ray instance here): same clips, same error report."""
    pytest.importorskip("ray", reason="Ray is in the dev extra: pip install -e '.[dev]'")
    inputs = tmp_path / "in"
    inputs.mkdir()
    shutil.copy(shared_motions / "cmu/bvh/02_01.bvh", inputs / "walk.bvh")
    (inputs / "empty.bvh").write_text("")
    local = run_batch(
        inputs, tmp_path / "local", compose("retarget", ["batch.workers=1"]), InputOptions(),
        show_progress=False,
    )  # fmt: skip
    on_ray = run_batch(
        inputs, tmp_path / "ray", compose("retarget", ["batch.engine=ray"]), InputOptions(),
        show_progress=False,
    )  # fmt: skip
    verdicts = {Path(o.source).name: o.verdict for o in on_ray}
    assert verdicts == {Path(o.source).name: o.verdict for o in local}
    assert verdicts["empty.bvh"] == "error"
    with np.load(tmp_path / "local" / "walk.npz") as a, np.load(tmp_path / "ray" / "walk.npz") as b:
        np.testing.assert_array_equal(a["joint_pos"], b["joint_pos"])
    assert json.loads((tmp_path / "ray" / "summary.json").read_text())["counts"]["error"] == 1
    assert print is builtins.print and builtins.print.__module__ == "builtins"  # restored
