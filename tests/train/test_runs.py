"""The run-folder layout (humimic.runs) on real files."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from humimic.errors import InputFileError
from humimic.runs import RunDir, checkpoint_iteration, resolve_run


def test_layout_names(tmp_path: Path) -> None:
    run = RunDir.new(tmp_path, "walk", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    assert run.root == tmp_path / "walk" / "20260102-030405"
    assert run.config == run.root / "config.yaml"
    assert run.checkpoint(30) == run.root / "model_30.pt"
    assert run.curves == run.root / "training_curves.png"
    assert run.eval_dir(run.checkpoint(30)) == run.root / "eval_model_30"
    assert run.export_dir(run.checkpoint(30)) == run.root / "export_model_30"


def test_latest_checkpoint_is_numeric_not_lexical(tmp_path: Path) -> None:
    run = RunDir(tmp_path)
    for name in ("model_9.pt", "model_100.pt", "model_20.pt", "model_x.pt", "other.pt"):
        (tmp_path / name).write_bytes(b"")
    assert [k for k, _ in run.checkpoints()] == [9, 20, 100]
    assert run.latest_checkpoint() == tmp_path / "model_100.pt"
    assert resolve_run(tmp_path) == (run, tmp_path / "model_100.pt")
    assert resolve_run(tmp_path / "model_9.pt") == (run, tmp_path / "model_9.pt")
    assert checkpoint_iteration("a/model_12.pt") == 12
    assert checkpoint_iteration("model_12.pt.tmp") is None


def test_missing_run_or_checkpoint_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match=r"no model_<iteration>\.pt checkpoint"):
        RunDir(tmp_path).latest_checkpoint()
    with pytest.raises(InputFileError, match="no such run folder"):
        resolve_run(tmp_path / "nope")
