"""The ``humimic`` command as a user meets it: help, errors, exit codes, outputs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from humimic.cli.main import SUBCOMMANDS, main


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -m humimic.cli.main`` as a separate process."""
    return subprocess.run(
        [sys.executable, "-m", "humimic.cli.main", *args],
        capture_output=True, text=True, cwd=cwd, timeout=600,
    )  # fmt: skip


def test_help_lists_every_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for name in SUBCOMMANDS:
        assert name in out


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_each_subcommand_explains_itself(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([name, "--help"])
    assert exit_info.value.code == 0
    assert len(capsys.readouterr().out.splitlines()) > 3


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["retarget", "missing.bvh"], "missing.bvh: no such file"),
        (["retarget", "{bvh}", "--robot", "g1_99dof"], "unknown robot variant"),
        (["retarget", "{bvh}", "solver.itrations=3"], "solver.itrations"),
        (["retarget", "{bvh}", "-o", "out.txt"], "ending in .npz"),
        (["retarget", "{nan}"], "nan.bvh"),
        (["retarget", "{empty}"], "empty.bvh"),
        (["view", "--robot", "nope", "--video", "x.mp4"], "unknown robot variant"),
    ],
)
def test_bad_input_gives_one_line_and_exit_code_2(
    tmp_path: Path, shared_motions: Path, args: list[str], needle: str
) -> None:
    bvh = shared_motions / "cmu/bvh/02_01.bvh"
    text = bvh.read_text()
    nan = tmp_path / "nan.bvh"
    lines = text.splitlines()
    motion_at = lines.index("MOTION")
    lines[motion_at + 5] = " ".join(["nan"] * len(lines[motion_at + 5].split()))
    nan.write_text("\n".join(lines) + "\n")
    empty = tmp_path / "empty.bvh"
    empty.write_text("")
    args = [a.format(bvh=bvh, nan=nan, empty=empty) for a in args]
    result = run_cli(*args, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    lines_err = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines_err) == 1, result.stderr
    assert needle.lower() in lines_err[0].lower()
    leftovers = [p.name for p in tmp_path.iterdir() if p.name not in ("nan.bvh", "empty.bvh")]
    assert leftovers == [], "a failed command must not leave files behind"


def test_unwritable_output_is_refused(shared_motions: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a folder")
    result = run_cli(
        "retarget", str(shared_motions / "cmu/bvh/02_01.bvh"), "-o", str(blocker / "x.npz"),
        "--no-plots",
    )  # fmt: skip
    assert result.returncode == 2
    assert "cannot write output" in result.stderr


def test_retarget_writes_clip_report_and_plots(shared_motions: Path, tmp_path: Path) -> None:
    out = tmp_path / "walk.npz"
    result = run_cli("retarget", str(shared_motions / "cmu/bvh/02_01.bvh"), "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert out.is_file() and (tmp_path / "walk.report.json").is_file()
    assert sorted(p.name for p in tmp_path.glob("walk_*.png"))
    assert "walk.npz" in result.stdout
