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
        (["retarget", "{bvh}", "--start", "5", "--end", "4"], "normalize.end_s"),
        (["retarget", "{bvh}", "--start", "50"], "fewer than two frames"),
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


def _rename_joints(text: str) -> tuple[str, dict[str, str]]:
    """A BVH whose joints have names no naming family knows (Bone00, Bone01, ...)."""
    import re

    names = re.findall(r"(?:ROOT|JOINT)\s+(\S+)", text)
    renamed = {}
    for i, name in enumerate(names):
        renamed[name] = f"Bone{i:02d}"
        text = re.sub(rf"\b(ROOT|JOINT)\s+{re.escape(name)}\b", rf"\1 Bone{i:02d}", text, count=1)
    return text, renamed


def test_unknown_skeleton_lists_missing_joints_and_a_user_map_fixes_it(
    shared_motions: Path, tmp_path: Path
) -> None:
    text, renamed = _rename_joints((shared_motions / "cmu/bvh/02_01.bvh").read_text())
    weird = tmp_path / "weird.bvh"
    weird.write_text(text)
    result = run_cli("retarget", str(weird), "-o", str(tmp_path / "w.npz"), "--no-plots")
    assert result.returncode == 2
    first, *rest = result.stderr.splitlines()
    assert "unknown skeleton" in first and "left_knee" in first and "weird.bvh" in first
    assert any("skeleton map" in line for line in rest)  # shows how to write the mapping
    assert not (tmp_path / "w.npz").exists()

    cmu = {"pelvis": "Hips", "head": "Head", "spine": "Spine", "chest": "Spine1", "neck": "Neck"}
    for side, s in (("left", "Left"), ("right", "Right")):
        cmu |= {
            f"{side}_shoulder": f"{s}Arm", f"{side}_elbow": f"{s}ForeArm",
            f"{side}_wrist": f"{s}Hand", f"{side}_hip": f"{s}UpLeg", f"{side}_knee": f"{s}Leg",
            f"{side}_ankle": f"{s}Foot", f"{side}_toe": f"{s}ToeBase",
        }  # fmt: skip
    mapping = tmp_path / "map.yaml"
    mapping.write_text("".join(f"{k}: {renamed[v]}\n" for k, v in cmu.items()))
    result = run_cli(
        "retarget", str(weird), "-o", str(tmp_path / "w.npz"), "--no-plots",
        "--skeleton-map", str(mapping),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "w.npz").is_file()


def test_amass_file_without_body_models_names_the_missing_file(tmp_path: Path) -> None:
    import numpy as np

    amass = tmp_path / "clip_poses.npz"
    np.savez(
        amass, poses=np.zeros((10, 156)), trans=np.zeros((10, 3)), betas=np.zeros(16),
        gender="female", mocap_framerate=120.0,
    )  # fmt: skip
    env_models = tmp_path / "empty_models"
    env_models.mkdir()
    result = run_cli("retarget", str(amass), "--body-models", str(env_models), cwd=tmp_path)
    assert result.returncode == 2
    line = result.stderr.strip()
    assert "\n" not in line and "smplh" in line.lower() and "female" in line.lower()


def test_overrides_may_follow_options(
    tmp_path: Path, shared_motions: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A key=value after the options still reaches the config (here: a misspelt key is named)."""
    bvh = str(shared_motions / "cmu/bvh/02_01.bvh")
    out = str(tmp_path / "o.npz")
    assert main(["retarget", bvh, "-o", out, "solver.itrations=3"]) == 2
    assert "solver.itrations" in capsys.readouterr().err
    assert not Path(out).exists()
    with pytest.raises(SystemExit) as exit_info:  # a stray word is still refused
        main(["retarget", bvh, "-o", out, "stray"])
    assert exit_info.value.code == 2
    assert "unrecognized arguments: stray" in capsys.readouterr().err


def test_units_option_becomes_the_units_override(capsys: pytest.CaptureFixture[str]) -> None:
    """``--units cm`` is ``units=cm`` (and wins over a positional override); the exit
    codes of a folder run are documented in ``--help``."""
    from humimic.cli.main import build_parser, parse_args
    from humimic.cli.retarget import _overrides
    from humimic.config.store import compose

    args = parse_args(build_parser(), ["retarget", "walk.bvh", "units=mm", "--units", "cm"])
    overrides = _overrides(args)
    assert overrides[-1] == "units=cm"
    assert compose("retarget", overrides).units == "cm"
    with pytest.raises(SystemExit):
        main(["retarget", "walk.bvh", "--units", "furlong"])
    assert "invalid choice: 'furlong'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["retarget", "--help"])
    help_text = capsys.readouterr().out
    for line in ("1    folder run: some inputs made no clip", "130  interrupted (Ctrl-C)"):
        assert line in help_text


def _import_failed_on_ctrl_c(args: object) -> int:
    """What a C extension's init does when Ctrl-C lands in it: ImportError from the interrupt."""
    try:
        raise KeyboardInterrupt
    except KeyboardInterrupt as interrupt:
        raise ImportError("initialization failed") from interrupt


def test_ctrl_c_inside_an_import_is_an_interrupt_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import humimic.cli.export as export_cli

    monkeypatch.setattr(export_cli, "run", _import_failed_on_ctrl_c)
    assert main(["export", "some_run"]) == 130
    assert capsys.readouterr().err.strip() == "humimic export: interrupted"


def test_an_import_error_of_its_own_still_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    import humimic.cli.export as export_cli

    def broken(args: object) -> int:
        raise ImportError("initialization failed")

    monkeypatch.setattr(export_cli, "run", broken)
    with pytest.raises(ImportError, match="initialization failed"):
        main(["export", "some_run"])
