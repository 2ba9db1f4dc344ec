"""Checkpoints: read without unpickling code, written atomically (issue 11, part 3)."""

from __future__ import annotations

import contextlib
import resource
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from humimic.cli.main import main
from humimic.config.store import compose
from humimic.config.train import TrainCfg
from humimic.errors import HumimicError, InputFileError
from humimic.motion.clip import save_clip
from humimic.testing.synthetic_clips import arm_wave_clip
from humimic.train.runner import build_runner, load_checkpoint, load_run_config, save_config

SMALL = [
    "sim.num_envs=4",
    "algo.actor_hidden_dims=[32,32]",
    "algo.critic_hidden_dims=[32,32]",
    "algo.num_steps_per_env=8",
    "algo.num_learning_epochs=1",
    "algo.num_mini_batches=1",
    "runner.progress=false",
]


class Payload:
    """Pickles as "call ``Path.touch(marker)``": what a crafted checkpoint would run."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (Path.touch, (self.marker,))


@pytest.fixture(scope="module")
def clip_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_clip(arm_wave_clip(seconds=1.0), tmp_path_factory.mktemp("clip") / "wave.npz")


def small_cfg(clip: Path, run_dir: Path, *more: str) -> TrainCfg:
    return compose(
        "train", [f"task.motion.files=[{clip}]", f"runner.run_dir={run_dir}", *SMALL, *more]
    )


def crafted_checkpoint(path: Path, marker: Path) -> Path:
    """A ``model_<k>.pt`` with rsl-rl's keys whose actor weights are a pickle payload."""
    evil = {"actor_state_dict": Payload(marker), "critic_state_dict": {}, "iter": 1}
    torch.save({**evil, "optimizer_state_dict": {}, "infos": {}}, path)
    return path


def test_the_crafted_payload_runs_under_plain_unpickling(tmp_path: Path) -> None:
    """Sanity: the crafted file really is an exploit (what rsl-rl's own load would do)."""
    marker = tmp_path / "ran"
    torch.load(crafted_checkpoint(tmp_path / "model_1.pt", marker), weights_only=False)
    assert marker.exists()


def test_load_checkpoint_refuses_code_in_one_line(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    path = crafted_checkpoint(tmp_path / "model_1.pt", marker)
    with pytest.raises(InputFileError, match=r"refused: the checkpoint asks to run code") as err:
        load_checkpoint(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)
    assert "(it names getattr)" in str(err.value)  # how pickle reaches Path.touch
    assert not marker.exists()


@pytest.mark.parametrize("command", ["resume", "eval", "export"])
def test_no_subcommand_runs_a_checkpoint_payload(
    command: str, clip_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``train --resume``, ``eval`` and ``export`` all refuse with exit 2 before any sim."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    save_config(small_cfg(clip_path, run_dir), run_dir)
    marker = tmp_path / "ran"
    ckpt = crafted_checkpoint(run_dir / "model_1.pt", marker)
    argv = {
        "resume": ["train", str(clip_path), *SMALL, "--resume", str(ckpt),
                   "--out", str(tmp_path / "run2")],
        "eval": ["eval", str(run_dir), "--no-video", "--out", str(tmp_path / "ev")],
        "export": ["export", str(run_dir), "-o", str(tmp_path / "ctl")],
    }[command]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(ckpt) in err and "refused" in err
    assert not marker.exists()
    assert not any(p.name in ("run2", "ev", "ctl") for p in tmp_path.iterdir())


def test_checkpoints_of_humimic_load_weights_only(clip_path: Path, tmp_path: Path) -> None:
    """What humimic writes is tensors and plain values only, and resumes exactly."""
    runner = build_runner(small_cfg(clip_path, tmp_path / "run"), None)
    try:
        runner.current_learning_iteration = 7
        runner.env.sigma.load_state_dict({"sigma": {"joint_pos": 0.123}, "ema": {"joint_pos": 0.2}})
        path = tmp_path / "model_7.pt"
        runner.save(str(path))
        rng = torch.get_rng_state()
    finally:
        runner.env.close()
    saved = torch.load(path, weights_only=True)  # raises on anything but plain data
    assert saved["iter"] == 7
    assert torch.equal(saved["infos"]["torch_rng"], rng)
    assert saved["infos"]["env"]["sigma"]["sigma"]["joint_pos"] == 0.123
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    cfg = small_cfg(clip_path, tmp_path / "run", f"runner.resume={path}")
    resumed = build_runner(cfg, None)
    try:
        assert resumed.current_learning_iteration == 7
        assert resumed.env.sigma.sigma["joint_pos"] == 0.123
        assert torch.equal(torch.get_rng_state(), rng)
    finally:
        resumed.env.close()


@pytest.mark.parametrize(
    ("content", "problem"),
    [(b"", "not a readable checkpoint"), (b"PK\x03\x04garbage", "not a readable checkpoint")],
)
def test_corrupt_checkpoints_are_one_line_errors(
    content: bytes, problem: str, tmp_path: Path
) -> None:
    path = tmp_path / "model_3.pt"
    path.write_bytes(content)
    with pytest.raises(InputFileError, match=problem) as err:
        load_checkpoint(path)
    assert "\n" not in str(err.value)


def test_a_plain_tensor_file_is_not_a_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "model_1.pt"
    torch.save({"weights": torch.zeros(3)}, path)
    with pytest.raises(InputFileError, match="not a humimic checkpoint"):
        load_checkpoint(path)


@contextlib.contextmanager
def file_size_limit(limit_bytes: int) -> Iterator[None]:
    """Files may not grow past ``limit_bytes`` meanwhile: the kernel refuses the write
    (EFBIG), as it would on a full disk (ENOSPC); the soft limit is restored after."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, handler)


def test_a_failing_checkpoint_write_leaves_no_truncated_file(
    clip_path: Path, tmp_path: Path
) -> None:
    """A real failed write: one line naming the checkpoint, no truncated ``model_1.pt``
    under its final name and no temporary file left in the run folder."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    runner = build_runner(small_cfg(clip_path, run_dir), None)
    try:
        path = run_dir / "model_1.pt"
        with file_size_limit(20_000), pytest.raises(HumimicError) as err:
            runner.save(str(path))
    finally:
        runner.env.close()
    assert str(err.value) == f"{path}: cannot write (File too large)"
    assert list(run_dir.iterdir()) == []


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "incomplete train config (no task, sim, algo, runner; truncated?)"),
        ("task:\n  action_scale: 0.25\n", "incomplete train config (no sim, algo, runner"),
        ("- a\n- b\n", "not a mapping of config keys"),
        ("task: [unclosed\n", "not a valid train config (while parsing"),
        ("task: {}\nsim: {num_envs: -3}\nalgo: {}\nrunner: {}\n", "sim.num_envs must be >= 1"),
    ],
)
def test_damaged_run_config_is_one_line_naming_it(
    tmp_path: Path, text: str, problem: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """An empty or truncated config.yaml used to become the defaults silently."""
    from humimic.cli.main import main

    (tmp_path / "config.yaml").write_text(text)
    with pytest.raises(InputFileError) as err:
        load_run_config(tmp_path)
    assert str(err.value).startswith(f"{tmp_path / 'config.yaml'}: {problem}")
    (tmp_path / "model_1.pt").write_bytes(b"")
    assert main(["export", str(tmp_path)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and problem in lines[0]
