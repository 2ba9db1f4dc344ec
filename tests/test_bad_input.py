"""Every subcommand on broken input: exit 2, one line naming the file or option, no
traceback, nothing left behind (issue 11, part 5). Also: outputs are never half-written
(a full disk, Ctrl-C during export, re-export into a checked controller folder).

Most cases run ``humimic.cli.main.main`` in-process (the same code path as the console
command, without ~3 s of imports per case); the fault cases use real subprocesses.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from humimic.cli.main import main
from humimic.config.store import compose
from humimic.motion.clip import save_clip
from humimic.testing.synthetic_clips import arm_wave_clip
from humimic.train.runner import save_config
from tests.export.helpers import TINY, exported, trained_run
from tests.signals import sigint_reaches_child

SMALL = [a for a in TINY if not a.startswith("runner.iterations")]


@dataclass
class Case:
    """``argv`` (``{tmp}`` and ``{clip}`` filled in) must fail with exit 2 and one line
    naming ``names``; ``absent`` paths must not exist afterwards."""

    id: str
    argv: list[str]
    names: str
    absent: tuple[str, ...] = ()
    setup: Callable[[Path], None] | None = None


def _npz_with_schema(value: object) -> Callable[[Path], None]:
    def make(tmp: Path) -> None:
        clip = tmp / "clip.npz"
        with np.load(clip) as data:
            arrays = {k: data[k] for k in data.files}
        arrays["schema_version"] = np.asarray(value)
        np.savez(tmp / "bad.npz", **arrays)

    return make


def _run_folder(config_text: str, model: bytes = b"") -> Callable[[Path], None]:
    """A run folder whose config.yaml is ``config_text`` (and a model_1.pt)."""

    def make(tmp: Path) -> None:
        run = tmp / "run"
        run.mkdir()
        (run / "config.yaml").write_text(config_text)
        (run / "model_1.pt").write_bytes(model or b"PK\x03\x04")

    return make


def _good_run_folder(tmp: Path) -> None:
    run = tmp / "run"
    run.mkdir()
    cfg = compose("train", [*SMALL, f"task.motion.files=[{tmp / 'clip.npz'}]"])
    save_config(cfg, run)
    shutil.copy(trained_run() / "model_1.pt", run / "model_1.pt")


def _controller_with_metrics(text: str) -> Callable[[Path], None]:
    def make(tmp: Path) -> None:
        shutil.copytree(exported(), tmp / "ctl")
        (tmp / "ctl" / "metrics.json").write_text(text)

    return make


def _bvh_with_frame_time(seconds: str) -> Callable[[Path], None]:
    def make(tmp: Path) -> None:
        from humimic.paths import shared_motions_dir

        source = shared_motions_dir() / "cmu/bvh/02_01.bvh"
        if not source.is_file():
            pytest.skip("shared motion data not found")
        lines = source.read_text().splitlines()
        lines = [f"Frame Time: {seconds}" if ln.startswith("Frame Time:") else ln for ln in lines]
        (tmp / "tiny_dt.bvh").write_text("\n".join(lines) + "\n")

    return make


def _file(name: str) -> Callable[[Path], None]:
    return lambda tmp: (tmp / name).write_text("not a folder\n")


def _read_only_dir() -> str:
    """A folder nothing can be created in, for root too (sysfs), else a chmod-ed one."""
    return "/sys/humimic_run" if os.geteuid() == 0 else "{tmp}/ro/run"


def _chmod_ro(tmp: Path) -> None:
    (tmp / "ro").mkdir()
    (tmp / "ro").chmod(0o555)


TRAIN = ["train", "{clip}", *SMALL]
CASES = [
    # npz whose schema_version is not an integer
    Case("retarget-schema-str", ["retarget", "{tmp}/bad.npz", "-o", "{tmp}/o.npz"],
         "bad.npz", ("o.npz",), _npz_with_schema("abc")),
    Case("retarget-schema-array", ["retarget", "{tmp}/bad.npz", "-o", "{tmp}/o.npz"],
         "bad.npz", ("o.npz",), _npz_with_schema([1, 2])),
    Case("train-schema-str", ["train", "{tmp}/bad.npz", *SMALL, "--out", "{tmp}/run"],
         "bad.npz", ("run",), _npz_with_schema("abc")),
    Case("view-schema-array", ["view", "{tmp}/bad.npz", "--video", "{tmp}/v.mp4"],
         "bad.npz", ("v.mp4",), _npz_with_schema([1, 2])),
    # output paths that cannot be
    Case("retarget-o-dir", ["retarget", "{clip}", "-o", "{tmp}/odir.npz"], "-o",
         (), lambda t: (t / "odir.npz").mkdir()),
    Case("retarget-folder-o-file", ["retarget", "{tmp}/in", "-o", "{tmp}/f"], "-o",
         (), lambda t: (_file("f")(t), (t / "in").mkdir(), shutil.copy(t / "clip.npz", t / "in"))),
    Case("train-out-file", [*TRAIN, "--out", "{tmp}/f"], "f", (), _file("f")),
    Case("train-out-read-only", [*TRAIN, "--out", _read_only_dir()], "run", (),
         None if os.geteuid() == 0 else _chmod_ro),
    Case("eval-out-file", ["eval", "{tmp}/run", "--out", "{tmp}/f"], "--out", (),
         lambda t: (_good_run_folder(t), _file("f")(t))),
    Case("export-o-file", ["export", "{tmp}/run", "-o", "{tmp}/f"], "f", (),
         lambda t: (_good_run_folder(t), _file("f")(t))),
    Case("export-o-other-folder", ["export", "{tmp}/run", "-o", "{tmp}/mine"], "mine", (),
         lambda t: (_good_run_folder(t), (t / "mine").mkdir(), _file("mine/notes.txt")(t))),
    # config values out of range: refused before a run folder exists
    Case("train-save-interval-0", [*TRAIN, "runner.save_interval=0", "--out", "{tmp}/run"],
         "runner.save_interval", ("run",)),
    Case("train-iterations-0", [*TRAIN, "--iterations", "0", "--out", "{tmp}/run"],
         "runner.iterations", ("run",)),
    Case("train-gamma", [*TRAIN, "algo.gamma=1.5", "--out", "{tmp}/run"], "algo.gamma", ("run",)),
    Case("train-clip-param", [*TRAIN, "algo.clip_param=-1", "--out", "{tmp}/run"],
         "algo.clip_param", ("run",)),
    Case("train-lam", [*TRAIN, "algo.lam=nan", "--out", "{tmp}/run"], "algo.lam", ("run",)),
    Case("train-time-limit", [*TRAIN, "runner.time_limit_min=-1", "--out", "{tmp}/run"],
         "runner.time_limit_min", ("run",)),
    Case("train-num-envs", [*TRAIN, "--num-envs", "0", "--out", "{tmp}/run"], "sim.num_envs",
         ("run",)),
    Case("train-seed", [*TRAIN, "--seed", "-3", "--out", "{tmp}/run"], "runner.seed", ("run",)),
    Case("retarget-workers", ["retarget", "{clip}", "-o", "{tmp}/o.npz", "--workers", "-2"],
         "batch.workers", ("o.npz",)),
    # broken run folders and checkpoints
    Case("eval-config-not-yaml", ["eval", "{tmp}/run", "--no-video"], "config.yaml", (),
         _run_folder("algo: [unclosed\n  : -")),
    Case("eval-config-a-list", ["eval", "{tmp}/run", "--no-video"], "config.yaml", (),
         _run_folder("- 1\n- 2\n")),
    Case("export-config-wrong-type", ["export", "{tmp}/run", "-o", "{tmp}/ctl"], "config.yaml",
         ("ctl",), _run_folder("runner:\n  iterations: many\n")),
    Case("export-config-out-of-range", ["export", "{tmp}/run", "-o", "{tmp}/ctl"], "config.yaml",
         ("ctl",), _run_folder("algo:\n  gamma: 2.0\n")),
    Case("eval-checkpoint-garbage", ["eval", "{tmp}/run", "--no-video"], "model_1.pt", (),
         lambda t: (_good_run_folder(t), (t / "run" / "model_1.pt").write_bytes(b"\0" * 64))),
    Case("eval-episodes-0", ["eval", "{tmp}/run", "--episodes", "0"], "--episodes", (),
         _good_run_folder),
    # metrics.json of a controller folder that is not an object
    Case("deploy-metrics-list", ["deploy", "{tmp}/ctl", "--iface", "lo", "--unattended",
                                 "--duration", "1"], "metrics.json", (),
         _controller_with_metrics("[1, 2]")),
    # view options
    Case("view-width", ["view", "--robot", "g1_23dof_lock_wrist", "--video", "{tmp}/v.mp4",
                        "--width", "-5"], "--width", ("v.mp4",)),
    Case("view-seconds", ["view", "--robot", "g1_23dof_lock_wrist", "--video", "{tmp}/v.mp4",
                          "--seconds", "nan"], "--seconds", ("v.mp4",)),
    # demo checks before writing
    Case("demo-iterations-0", ["demo", "-o", "{tmp}/demo", "--iterations", "0", "--no-video"],
         "--iterations", ("demo",)),
    Case("demo-num-envs-0", ["demo", "-o", "{tmp}/demo", "--num-envs", "0", "--no-video"],
         "--num-envs", ("demo",)),
    Case("demo-bad-clip", ["demo", "-o", "{tmp}/demo", "--clip", "{tmp}/bad.npz", "--no-video"],
         "bad.npz", ("demo",), _npz_with_schema("abc")),
    Case("demo-out-file", ["demo", "-o", "{tmp}/f", "--no-video"], "-o", (), _file("f")),
    # a BVH whose frame time is implausible (10^9 frames per second)
    Case("retarget-bvh-frame-time", ["retarget", "{tmp}/tiny_dt.bvh", "-o", "{tmp}/o.npz"],
         "tiny_dt.bvh", ("o.npz",), _bvh_with_frame_time("1e-9")),
]  # fmt: skip


def _fill(arg: str, tmp: Path) -> str:
    return arg.replace("{tmp}", str(tmp)).replace("{clip}", str(tmp / "clip.npz"))


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES])
def test_bad_input_is_one_line_exit_2_and_leaves_nothing(
    case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    save_clip(arm_wave_clip(seconds=1.0), tmp_path / "clip.npz")
    if case.setup is not None:
        case.setup(tmp_path)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    code = main([_fill(a, tmp_path) for a in case.argv])
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    command = case.argv[0]
    assert code == 2, captured.err[-2000:]
    assert len(lines) == 1, captured.err
    assert lines[0].startswith(f"humimic {command}: error: ")
    assert _fill(case.names, tmp_path) in lines[0] or case.names in lines[0]
    assert "Traceback" not in captured.err + captured.out
    after = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    assert after == before, f"left behind: {set(after) - set(before)}"
    for name in case.absent:
        assert not (tmp_path / name).exists()


# --- nothing half-written ------------------------------------------------------------


def test_a_full_disk_is_one_line_and_leaves_no_partial_clip(tmp_path: Path) -> None:
    """Real ENOSPC: a 64 kB tmpfs (root only) receives the clip of a real BVH."""
    from humimic.paths import shared_motions_dir

    source = shared_motions_dir() / "cmu/bvh/02_01.bvh"
    if not source.is_file():
        pytest.skip("shared motion data not found")
    disk = tmp_path / "disk"
    disk.mkdir()
    mount = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(disk)],
                           capture_output=True, check=False)  # fmt: skip
    if mount.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        (disk / "filler").write_bytes(b"\0" * 40_000)
        command = [sys.executable, "-m", "humimic.cli.main", "retarget", str(source),
                   "-o", str(disk / "walk.npz"), "--no-plots"]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, timeout=300)
        left = sorted(p.name for p in disk.iterdir())
    finally:
        subprocess.run(["umount", str(disk)], check=False)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2, done.stderr[-2000:]
    assert len(lines) == 1 and "No space left on device" in lines[0], done.stderr
    assert "walk.npz" in lines[0] and "Traceback" not in done.stderr
    assert left == ["filler"]


def test_ctrl_c_during_export_leaves_no_folder(tmp_path: Path) -> None:
    run = trained_run()
    out = tmp_path / "ctl"
    command = [sys.executable, "-m", "humimic.cli.main", "export", str(run), "-o", str(out)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, preexec_fn=sigint_reaches_child)  # fmt: skip
    try:
        end = time.monotonic() + 120
        while not list(tmp_path.glob(".ctl.partial-*")) and time.monotonic() < end:
            time.sleep(0.02)
        assert list(tmp_path.glob(".ctl.partial-*")), "export never started its folder"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert "Traceback" not in err
    if proc.returncode == 0:  # the signal came after the final rename: a whole controller
        assert [p.name for p in tmp_path.iterdir()] == ["ctl"]
        assert (out / "controller.onnx").is_file()
        return
    # 130, or death by SIGINT (rare, when the interpreter itself stops on it): a shell
    # reports both as 130.
    assert proc.returncode in (130, -signal.SIGINT), err
    assert list(tmp_path.iterdir()) == []  # neither the folder nor its partial twin


def test_export_replaces_an_earlier_export_and_its_verdict(tmp_path: Path) -> None:
    """A controller folder that passed sim2sim gets a new controller only as a whole: the
    old verdict (metrics.json) goes with the old controller."""
    out = tmp_path / "ctl"
    shutil.copytree(exported(), out)
    (out / "metrics.json").write_text(json.dumps({"gate": {"passed": True}}))
    assert main(["export", str(trained_run()), "-o", str(out)]) == 0
    assert not (out / "metrics.json").exists()
    assert sorted(p.name for p in out.iterdir()) == sorted(
        p.name for p in exported().iterdir() if p.name != "metrics.json"
    )
    assert [p.name for p in tmp_path.iterdir()] == ["ctl"]  # no partial or old folder left
