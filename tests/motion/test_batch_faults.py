"""Folder runs under faults: Ctrl-C, kill -9, name collisions, output inside the input,
exit codes (issue 11, part 4). Real BVH/AMC files, real worker processes, real signals."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from humimic.cli.main import main
from humimic.config.store import compose
from humimic.errors import ConfigError
from humimic.motion.batch import collect_inputs, plan_outputs, run_batch
from humimic.motion.pipeline import InputOptions
from tests.signals import sigint_reaches_child

WALK = "cmu/bvh/02_01.bvh"


def _short_bvh(shared_motions: Path, frames: int = 60) -> str:
    """The first ``frames`` frames of a real CMU BVH (a fast clip to retarget)."""
    lines = (shared_motions / WALK).read_text().splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("Frames:"))
    head = [*lines[:at], f"Frames: {frames}", lines[at + 1]]
    return "\n".join(head + lines[at + 2 : at + 2 + frames]) + "\n"


@pytest.fixture(scope="module")
def short_bvh(shared_motions: Path) -> str:
    return _short_bvh(shared_motions)


def _children(pid: int) -> list[int]:
    """Live processes whose parent is ``pid`` and that run a multiprocessing worker."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z" and b"spawn_main" in cmdline:
            found.append(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _wait(condition: Callable[[], bool], timeout_s: float) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def _start_folder_run(inputs: Path, out: Path, workers: int = 2) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "humimic.cli.main", "retarget", str(inputs), "-o", str(out),
               "--workers", str(workers)]  # fmt: skip
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,  # a signal to the test's group does not reach it
        preexec_fn=sigint_reaches_child,
    )  # fmt: skip


def _make_inputs(folder: Path, text: str, count: int) -> Path:
    folder.mkdir(parents=True)
    for i in range(count):
        (folder / f"clip{i:02d}.bvh").write_text(text)
    return folder


needs_linux = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")


@needs_linux
def test_ctrl_c_stops_the_workers_writes_the_summary_and_exits_130(
    short_bvh: str, tmp_path: Path
) -> None:
    # Enough clips that a quiet machine does not finish them all before the Ctrl-C.
    inputs = _make_inputs(tmp_path / "in", short_bvh, 60)
    out = tmp_path / "out"
    proc = _start_folder_run(inputs, out)
    try:
        assert _wait(lambda: len(list(out.glob("clip*.report.json"))) >= 1, 120), "no clip"
        time.sleep(0.3)  # the parent has heard of it
        workers = _children(proc.pid)
        assert workers, "no worker processes found"
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
        took = time.monotonic() - sent
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert took < 10.0, f"Ctrl-C took {took:.1f} s"
    assert "interrupted:" in err and "Traceback" not in err
    assert _wait(lambda: not any(_alive(w) for w in workers), 5.0), "workers outlived Ctrl-C"
    summary = json.loads((out / "summary.json").read_text())
    done = {Path(c["source"]).name for c in summary["clips"]}
    assert summary["interrupted"] is True and 1 <= len(done) < 60
    clips = {p.name for p in out.glob("clip*.npz")}
    # Every clip in the summary is complete on disk (one finishing in the instant of the
    # Ctrl-C may be on disk without a row: the next run picks it up as done).
    assert {name.replace(".bvh", ".npz") for name in done} <= clips
    assert all((out / name.replace(".bvh", ".report.json")).is_file() for name in done)
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []  # no temporaries
    count_after = len(clips)
    time.sleep(2.0)  # nothing keeps writing after the exit
    assert len(list(out.glob("clip*.npz"))) == count_after


@needs_linux
def test_a_second_ctrl_c_exits_at_once(short_bvh: str, tmp_path: Path) -> None:
    inputs = _make_inputs(tmp_path / "in", short_bvh, 12)
    out = tmp_path / "out"
    proc = _start_folder_run(inputs, out)
    try:
        assert _wait(lambda: len(_children(proc.pid)) >= 1, 60), "no workers started"
        workers = _children(proc.pid)
        proc.send_signal(signal.SIGINT)
        time.sleep(0.01)
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=10)
    finally:
        proc.kill()
    # 130, or death by the second SIGINT itself (the default handler is back): a shell
    # reports both as 130.
    assert proc.returncode in (130, -signal.SIGINT)
    assert _wait(lambda: not any(_alive(w) for w in workers), 5.0), "workers outlived exit"


@needs_linux
def test_workers_die_with_a_killed_parent_and_the_next_run_cleans_up(
    short_bvh: str, tmp_path: Path
) -> None:
    inputs = _make_inputs(tmp_path / "in", short_bvh, 12)
    out = tmp_path / "out"
    proc = _start_folder_run(inputs, out)
    try:
        assert _wait(lambda: len(list(out.glob("clip*.npz"))) >= 1, 120), "no clip finished"
        workers = _children(proc.pid)
        assert workers
        proc.kill()  # kill -9: no cleanup in the parent at all
        proc.communicate(timeout=10)
    finally:
        proc.kill()
    assert _wait(lambda: not any(_alive(w) for w in workers), 5.0), "orphaned workers run on"
    count = len(list(out.glob("clip*.npz")))
    time.sleep(2.0)
    assert len(list(out.glob("clip*.npz"))) == count  # no orphan keeps writing clips

    # What a worker killed mid-write leaves: a hidden temporary clip. The next run removes
    # it, resumes the finished clips and does the rest.
    stale = out / ".clip11.npz.k3x9_a2b.npz"
    stale.write_bytes(b"PK\x03\x04 half a clip")
    assert main(["retarget", str(inputs), "-o", str(out), "--workers", "2"]) == 0
    assert not stale.exists()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["interrupted"] is False and summary["counts"]["error"] == 0
    assert len(summary["clips"]) == 12 and len(list(out.glob("clip*.npz"))) == 12


def test_same_named_inputs_get_distinct_clips_and_the_output_folder_is_not_input(
    shared_motions: Path, short_bvh: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    (inputs / "07_05-walk.bvh").write_text(short_bvh)
    shutil.copy(shared_motions / "cmu/asfamc/07_05-walk.amc", inputs / "07_05-walk.amc")
    shutil.copy(shared_motions / "cmu/asfamc/07-walk.asf", inputs / "07-walk.asf")
    out = inputs / "clips"  # inside the input folder
    argv = ["retarget", str(inputs), "-o", str(out), "--workers", "2", "normalize.end_s=0.5"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert (out / "07_05-walk_bvh.npz").is_file() and (out / "07_05-walk_amc.npz").is_file()
    assert not (out / "07_05-walk.npz").exists()
    assert "named 07_05-walk_amc.npz: another input has the same name" in printed
    summary = json.loads((out / "summary.json").read_text())
    assert sorted(Path(c["output"]).name for c in summary["clips"]) == [
        "07_05-walk_amc.npz", "07_05-walk_bvh.npz",
    ]  # fmt: skip
    first = {c["output"]: c for c in summary["clips"]}

    # The second run reads neither the clips in out/ nor their extra files as inputs, and
    # the resumed clips keep their frames in and seconds from the first run.
    assert main(argv) == 0
    again = json.loads((out / "summary.json").read_text())
    assert len(again["clips"]) == 2
    for clip in again["clips"]:
        before = first[clip["output"]]
        assert clip["figures"]["resumed"] == 1.0
        assert clip["frames_in"] == before["frames_in"] > 0
        assert clip["seconds"] == before["seconds"] > 0


def test_case_only_collisions_are_refused_up_front(tmp_path: Path) -> None:
    root = tmp_path / "in"
    sources = [root / "walk.bvh", root / "Walk.bvh"]
    with pytest.raises(ConfigError, match="would both be written to"):
        plan_outputs(sources, root, tmp_path / "out")


def test_output_folder_equal_to_input_is_refused(short_bvh: str, tmp_path: Path) -> None:
    inputs = _make_inputs(tmp_path / "in", short_bvh, 1)
    with pytest.raises(ConfigError, match="must not be the input folder"):
        run_batch(inputs, inputs, compose("retarget"), InputOptions(), show_progress=False)
    (inputs / "out").mkdir()
    (inputs / "out" / "clip00.bvh").write_text(short_bvh)  # e.g. an extra file in out/
    assert collect_inputs(inputs, exclude=inputs / "out") == [inputs / "clip00.bvh"]


def test_a_folder_run_with_a_failed_clip_exits_1_and_names_it(
    short_bvh: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inputs = _make_inputs(tmp_path / "in", short_bvh, 1)
    (inputs / "broken.bvh").write_text(short_bvh[: len(short_bvh) // 3])
    code = main(["retarget", str(inputs), "-o", str(tmp_path / "out"), "--workers", "1"])
    assert code == 1
    out = capsys.readouterr().out
    errors = [line for line in out.splitlines() if line.startswith("  error:")]
    assert any("broken.bvh" in line for line in errors), out
