"""``runner.init_from``: a new run starts from another run's networks, nothing else."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from humimic.config.store import compose
from humimic.errors import ConfigError, InputFileError
from humimic.motion.clip import save_clip
from humimic.paths import MOTIONS_DIR
from humimic.testing.synthetic_clips import arm_wave_clip
from humimic.train.checkpoint import load_checkpoint
from humimic.train.prior import BUILTIN_PRIOR_FILE, resolve_init_from, write_prior
from humimic.train.runner import build_runner, train
from tests.train.test_train import SMALL_NETS, small_cfg


@pytest.fixture(scope="module")
def prior(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A 2-iteration run on a 1 s wave (its checkpoint), and a second, other clip."""
    folder = tmp_path_factory.mktemp("warm")
    clip = save_clip(arm_wave_clip(seconds=1.0), folder / "wave.npz")
    other = save_clip(arm_wave_clip(seconds=1.5, amplitude_rad=0.6), folder / "wave2.npz")
    run_dir = train(small_cfg(clip, folder / "prior", "runner.iterations=2"))
    return run_dir / "model_2.pt", other


def assert_networks_equal(own: dict[str, dict[str, torch.Tensor]], saved: dict[str, Any]) -> None:
    """Every actor and critic entry of the checkpoint ``saved`` equals ``own[part]``'s."""
    for part in ("actor", "critic"):
        for key, value in saved[f"{part}_state_dict"].items():
            assert torch.equal(own[part][key], value), (part, key)


def networks(runner: Any) -> dict[str, dict[str, torch.Tensor]]:
    """The runner's actor and critic state dicts."""
    return {part: getattr(runner.alg, part).state_dict() for part in ("actor", "critic")}


def test_warm_start_copies_the_networks_and_nothing_else(
    prior: tuple[Path, Path], tmp_path: Path
) -> None:
    checkpoint, other_clip = prior
    saved = torch.load(checkpoint, weights_only=False)
    cfg = small_cfg(other_clip, tmp_path / "run", f"runner.init_from={checkpoint}")
    runner = build_runner(cfg, None)
    try:
        assert runner.current_learning_iteration == 0  # a new run, not a resume
        assert_networks_equal(networks(runner), saved)
        # The actor's observation normaliser came along (it was fitted to the prior's data).
        norm = [k for k in saved["actor_state_dict"] if "normalizer" in k and "count" in k]
        assert norm and saved["actor_state_dict"][norm[0]].item() > 0
        # The optimiser starts empty: no Adam moments from the prior run.
        assert runner.alg.optimizer.state_dict()["actor"]["state"] == {}
    finally:
        runner.env.close()


def test_warm_start_errors_are_one_line_config_errors(
    prior: tuple[Path, Path], tmp_path: Path
) -> None:
    checkpoint, other_clip = prior
    wider = small_cfg(
        other_clip, tmp_path / "a", f"runner.init_from={checkpoint}",
        "algo.actor_hidden_dims=[64,32]",
    )  # fmt: skip
    with pytest.raises(ConfigError, match=r"^runner.init_from: .* does not fit this config \("):
        build_runner(wider, None)
    missing = small_cfg(other_clip, tmp_path / "b", f"runner.init_from={tmp_path / 'no.pt'}")
    with pytest.raises(InputFileError, match=r"checkpoint not found"):
        build_runner(missing, None)


def test_cli_init_from_trains_a_new_run_that_resumes_and_evaluates_on_its_own(
    prior: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from humimic.cli.main import main

    checkpoint, other_clip = prior
    out = tmp_path / "cli"
    flags = ["--num-envs", "4", "--iterations", "1", "--out", str(out), "--no-progress"]
    warm = ["--init-from", str(checkpoint)]
    assert main(["train", str(other_clip), *SMALL_NETS, *flags, *warm]) == 0
    assert torch.load(out / "model_1.pt", weights_only=False)["iter"] == 1
    # The run's config names the prior; resuming and evaluating use the run's own
    # checkpoint, even once the prior file is gone.
    moved = checkpoint.with_name("moved.pt")
    checkpoint.rename(moved)
    try:
        resumed = ["--resume", str(out / "model_1.pt"), "--iterations", "1", "--no-progress"]
        assert main(["train", str(other_clip), *SMALL_NETS, "--num-envs", "4", *resumed]) == 0
        assert torch.load(out / "model_2.pt", weights_only=False)["iter"] == 2
        assert main(["eval", str(out), "--episodes", "1", "--no-video"]) == 0
    finally:
        moved.rename(checkpoint)
    fresh = [
        "--num-envs",
        "4",
        "--iterations",
        "1",
        "--out",
        str(tmp_path / "new"),
        "--no-progress",
    ]
    assert main(["train", str(other_clip), *fresh, "--init-from", str(tmp_path / "x.pt")]) == 2
    assert "x.pt: checkpoint not found" in capsys.readouterr().err


def test_init_from_names_a_file_the_builtin_prior_or_nothing() -> None:
    assert resolve_init_from("") is None and resolve_init_from("none") is None
    assert resolve_init_from("builtin") == BUILTIN_PRIOR_FILE
    assert resolve_init_from("runs/a/model_5.pt") == Path("runs/a/model_5.pt")
    assert compose("train").runner.init_from == "builtin"  # the cpu preset's default
    assert compose("train", ["preset=pbhc"]).runner.init_from == ""  # PBHC trains from scratch


def test_builtin_prior_fits_the_default_config(tmp_path: Path) -> None:
    """The shipped prior loads into the default networks (a change to the cpu preset's
    observations or layers that breaks it fails here, not silently for users)."""
    prior = load_checkpoint(BUILTIN_PRIOR_FILE)
    assert prior["optimizer_state_dict"] == {}
    assert "cmu_07_05_walk.npz" in prior["infos"]["prior"]["clips"]
    walk = MOTIONS_DIR / "cmu_02_01_walk.npz"
    cfg = compose(
        "train", ["sim.num_envs=2", f"task.motion.files=[{walk}]", "runner.progress=false"]
    )
    runner = build_runner(cfg, None)
    try:
        assert_networks_equal(networks(runner), prior)
    finally:
        runner.env.close()


def test_builtin_prior_is_skipped_with_a_note_when_the_networks_differ(
    prior: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, clip = prior
    torch.manual_seed(0)
    cfg = small_cfg(clip, tmp_path / "a", "runner.init_from=builtin")
    runner = build_runner(cfg, None)
    try:
        err = capsys.readouterr().err
        assert "note: the built-in prior does not fit this config (actor: " in err
        assert "training from scratch" in err
        # Nothing of the prior was copied: the normaliser has seen no data, the std is the
        # configured initial one (a partly matching state dict would have set both).
        actor = runner.alg.actor.state_dict()
        counts = [v for k, v in actor.items() if "normalizer" in k and "count" in k]
        assert counts and all(c.item() == 0 for c in counts)
        std = next(v for k, v in actor.items() if "std" in k and "normalizer" not in k)
        assert torch.allclose(std, torch.full_like(std, cfg.algo.init_std))
    finally:
        runner.env.close()


def test_write_prior_keeps_the_networks_and_the_clip_names(
    prior: tuple[Path, Path], tmp_path: Path
) -> None:
    checkpoint, clip = prior
    out = write_prior(checkpoint, tmp_path / "p.pt", ["wave.npz"])
    stripped, saved = load_checkpoint(out), load_checkpoint(checkpoint)
    assert stripped["optimizer_state_dict"] == {} and stripped["iter"] == 0
    assert stripped["infos"]["prior"] == {"iterations": 2, "clips": ["wave.npz"]}
    assert_networks_equal({p: stripped[f"{p}_state_dict"] for p in ("actor", "critic")}, saved)
    runner = build_runner(small_cfg(clip, tmp_path / "run", f"runner.init_from={out}"), None)
    runner.env.close()
