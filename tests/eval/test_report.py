"""The metrics.json contract: written, read back, and older schema versions still read."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from humimic.errors import InputFileError
from humimic.eval.metrics import compute_metrics
from humimic.eval.report import (
    METRIC_KEYS,
    SCHEMA_VERSION,
    EvalReport,
    Summary,
    TrackingMetrics,
    read_eval_report,
)
from humimic.json_contract import write_report
from tests.eval.test_metrics import fell_and_drifted


def eval_report() -> EvalReport:
    """A report of the fell-and-drifted episodes (upright [0, 1])."""
    robot, ref = fell_and_drifted()
    q = np.zeros((2, 5, 1))
    metrics = compute_metrics(robot, ref, q, q, 50.0, joint_names=["j"])
    return EvalReport(metrics, Summary(0.8, 0.2), "model_3.pt", "clip.npz", {"body_pos": 0.3},
                      False, False, ("run_errors_over_time.png",))  # fmt: skip


def without_upright(data: dict[str, Any], version: int | None) -> dict[str, Any]:
    """``data`` as a file from before schema 3 (None: no ``schema_version`` at all)."""
    old = json.loads(json.dumps(data))
    del old["upright_rate"], old["per_episode"]["upright"], old["units"]["upright_rate"]
    if version is None:
        del old["schema_version"]
    else:
        old["schema_version"] = version
    return old


def test_schema_3_round_trip_keeps_the_upright_values(tmp_path: Path) -> None:
    report = eval_report()
    path = write_report(tmp_path / "metrics.json", report)
    written = json.loads(path.read_text())
    assert SCHEMA_VERSION == 3 and written["schema_version"] == 3
    assert list(written)[1 : 1 + len(METRIC_KEYS)] == list(METRIC_KEYS)
    assert written["upright_rate"] == {"mean": 0.5, "std": 0.5}
    assert written["per_episode"]["upright"] == [0.0, 1.0]
    back = read_eval_report(path)
    assert back == report
    assert back.metrics.upright_rate == Summary(0.5, 0.5)
    assert back.metrics.per_episode.upright == (0.0, 1.0)


@pytest.mark.parametrize("version", [2, None])
def test_files_before_schema_3_read_with_nan_upright(tmp_path: Path, version: int | None) -> None:
    report = eval_report()
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps(without_upright(report.to_json(), version)))
    back = read_eval_report(path)
    assert back.schema_version == (version or 1)
    up = back.metrics.upright_rate
    assert math.isnan(up.mean) and math.isnan(up.std)
    assert len(back.metrics.per_episode.upright) == back.metrics.num_episodes == 2
    assert all(math.isnan(v) for v in back.metrics.per_episode.upright)
    # everything else as written
    assert back.metrics.success_rate == report.metrics.success_rate
    assert back.metrics.per_episode.success == report.metrics.per_episode.success
    assert back.elr_0_7m == report.elr_0_7m


@pytest.mark.parametrize(
    ("drop", "problem"),
    [
        (lambda d: d.pop("upright_rate"), "upright_rate: missing"),
        (lambda d: d["per_episode"].pop("upright"), "per_episode.upright: missing"),
    ],
)
def test_schema_3_requires_the_upright_entries(tmp_path: Path, drop: Any, problem: str) -> None:
    data = eval_report().to_json()
    drop(data)
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps(data))
    with pytest.raises(InputFileError) as err:
        read_eval_report(path)
    assert str(err.value) == f"{path}: {problem}"


def test_embedded_metrics_read_upright_where_present() -> None:
    """A report that embeds the metrics under its own version (sim2sim) reads them as found."""
    data = eval_report().to_json()
    assert TrackingMetrics.from_json(data, "x").per_episode.upright == (0.0, 1.0)
    old = TrackingMetrics.from_json(without_upright(data, None), "x")
    assert math.isnan(old.upright_rate.mean) and len(old.per_episode.upright) == 2


def test_eval_command_prints_how_many_stayed_upright(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``humimic eval``'s summary, on a written report instead of a policy rollout."""
    import argparse

    import humimic.eval.runner
    from humimic.cli.eval import run

    path = write_report(tmp_path / "metrics.json", eval_report())
    monkeypatch.setattr(humimic.eval.runner, "evaluate", lambda *a, **kw: path)
    args = argparse.Namespace(target=tmp_path, motion=None, episodes=2, no_video=True, out=None,
                              noise=False, randomize=False)  # fmt: skip
    assert run(args) == 0
    lines = capsys.readouterr().out.splitlines()
    i = lines.index("episodes succeeded: 0 of 2")
    assert lines[i + 1] == "episodes upright to the end: 1 of 2 (pelvis above 0.3 m)"
