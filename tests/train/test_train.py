"""PPO training: a short run, checkpoint round trip, exact resume state, evaluation."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from humimic.config.store import compose
from humimic.config.train import TrainCfg
from humimic.errors import ConfigError, InputFileError
from humimic.eval.runner import evaluate, resolve_checkpoint
from humimic.motion.clip import save_clip
from humimic.testing.synthetic_clips import arm_wave_clip
from humimic.train.runner import build_runner, load_run_config, rsl_train_cfg, train

SMALL_NETS = [
    "algo.actor_hidden_dims=[32,32]",
    "algo.critic_hidden_dims=[32,32]",
    "algo.num_steps_per_env=8",
    "algo.num_learning_epochs=2",
    "algo.num_mini_batches=2",
]


@pytest.fixture(scope="module")
def clip_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("clips") / "wave.npz"
    return save_clip(arm_wave_clip(seconds=1.0), path)


def small_cfg(clip_path: Path, run_dir: Path, *overrides: str) -> TrainCfg:
    return compose(
        "train",
        [
            "sim.num_envs=8",
            f"task.motion.files=[{clip_path}]",
            f"runner.run_dir={run_dir}",
            "runner.progress=false",
            *SMALL_NETS,
            *overrides,
        ],
    )


def test_train_cfg_has_pbhc_ppo_defaults() -> None:
    cfg = compose("train")
    rsl = rsl_train_cfg(cfg.algo, 100)
    assert rsl["actor"]["hidden_dims"] == [512, 256, 128]
    assert rsl["critic"]["hidden_dims"] == [768, 512, 128]
    assert rsl["actor"]["distribution_cfg"]["init_std"] == 0.8
    # CPU-sized deviation from PBHC (adaptive KL 0.01 from 1e-3): a fixed actor rate;
    # PBHC's separate critic optimiser at 1e-3.
    alg = rsl["algorithm"]
    assert alg["class_name"] == "humimic.train.ppo:SplitRatePPO"
    assert alg["schedule"] == "fixed" and alg["learning_rate"] == 1e-4
    assert alg["critic_learning_rate"] == 1e-3 and alg["desired_kl"] == 0.01
    assert rsl["obs_groups"] == {"actor": ["actor"], "critic": ["critic"]}
    # The cpu preset's 25 Hz policy with the discount kept per second (0.99 at 50 Hz).
    assert cfg.sim.control_dt == pytest.approx(0.04)
    assert alg["gamma"] == pytest.approx(0.98) and alg["lam"] == pytest.approx(0.9025)
    pbhc = compose("train", ["preset=pbhc"])
    assert pbhc.sim.control_dt == pytest.approx(0.02) and pbhc.algo.gamma == 0.99


def test_two_iterations_checkpoint_and_exact_resume(clip_path: Path, tmp_path: Path) -> None:
    # Adaptive sigma on (the cpu preset holds it fixed) so its state must survive a resume.
    cfg = small_cfg(clip_path, tmp_path / "run", "runner.iterations=2", "task.sigma.enabled=true")
    run_dir = train(cfg)
    ckpt = run_dir / "model_2.pt"
    assert ckpt.is_file() and list(run_dir.glob("events.out.tfevents*"))
    assert (run_dir / "training_curves.png").read_bytes()[:4] == b"\x89PNG"
    saved = torch.load(ckpt, weights_only=False)
    assert saved["iter"] == 2
    sigma = saved["infos"]["env"]["sigma"]["sigma"]
    assert sigma["joint_pos"] < 0.3  # σ adapted and stored
    cfg = load_run_config(run_dir)
    assert cfg.task.motion.files == [str(clip_path)] and cfg.runner.iterations == 2

    resumed = build_runner(replace(cfg, runner=replace(cfg.runner, resume=str(ckpt))), None)
    try:
        assert resumed.current_learning_iteration == 2
        assert resumed.env.sigma.sigma == sigma
        assert resumed.env.curriculum.state_dict() == saved["infos"]["env"]["curriculum"]
        actor = resumed.alg.get_policy().state_dict()
        for key, value in saved["actor_state_dict"].items():
            assert torch.equal(actor[key], value), key
        for part in ("actor", "critic"):  # the two Adam optimisers
            opt = resumed.alg.optimizer.state_dict()[part]["state"]
            saved_opt = saved["optimizer_state_dict"][part]["state"]
            assert saved_opt
            assert all(torch.equal(opt[k]["exp_avg"], saved_opt[k]["exp_avg"]) for k in saved_opt)
    finally:
        resumed.env.close()
    # Continue the same run for one more iteration: numbering continues.
    more = replace(cfg, runner=replace(cfg.runner, resume=str(ckpt), iterations=1))
    assert train(more) == run_dir
    assert (run_dir / "model_3.pt").is_file()
    assert torch.load(run_dir / "model_3.pt", weights_only=False)["iter"] == 3

    metrics_path = evaluate(run_dir, episodes=2, video=False)
    metrics = json.loads(metrics_path.read_text())
    assert metrics["checkpoint"].endswith("model_3.pt")
    for key in ("E_g_mpbpe", "E_mpbpe", "E_mpjpe", "success_rate", "episode_length_ratio"):
        assert key in metrics
    assert metrics["E_mpbpe"]["mean"] >= 0.0
    assert 0.0 <= metrics["ELR_0.7m"]["mean"] <= 1.0
    assert (metrics_path.parent / "tracking_errors_over_time.png").is_file()


def test_resume_from_missing_checkpoint_fails_early(clip_path: Path, tmp_path: Path) -> None:
    cfg = small_cfg(clip_path, tmp_path / "run", f"runner.resume={tmp_path / 'none.pt'}")
    with pytest.raises(ConfigError, match=r"runner.resume"):
        build_runner(cfg, None)
    with pytest.raises(InputFileError, match=r"no model_"):
        resolve_checkpoint(tmp_path)


def test_elr_counts_frames_before_the_first_far_body() -> None:
    from humimic.eval.runner import _elr

    robot = np.zeros((2, 10, 3, 3))
    ref = np.zeros((2, 10, 3, 3))
    robot[0, 4:, 1, 2] = 0.8  # episode 0 is 0.8 m off from frame 4 on
    assert _elr(robot, ref) == pytest.approx({"mean": (0.4 + 1.0) / 2, "std": 0.3})


def test_cli_train_reports_config_errors_with_exit_2(
    clip_path: Path, tmp_path: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    from humimic.cli.main import main

    assert main(["train", str(clip_path), "task.rewards.feet_pos.fn=nope"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("humimic train: error: task.rewards.feet_pos: unknown reward term")
    assert main(["eval", str(clip_path.parent / "no_run")]) == 2
    out = tmp_path / "cli_run"
    flags = ["--num-envs", "4", "--iterations", "1", "--out", str(out), "--no-progress"]
    assert main(["train", str(clip_path), *SMALL_NETS, *flags]) == 0
    assert (out / "model_1.pt").is_file() and (out / "config.yaml").is_file()


def test_ctrl_c_saves_a_checkpoint(clip_path: Path, tmp_path: Path) -> None:
    cfg = small_cfg(clip_path, tmp_path / "run", "runner.iterations=5")
    runner = build_runner(cfg, tmp_path / "run")
    real_step, calls = runner.env.step, []

    def step(actions: torch.Tensor):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) == 8 * 2 + 3:  # during the third iteration
            raise KeyboardInterrupt
        return real_step(actions)

    runner.env.step = step  # type: ignore[method-assign]
    try:
        with pytest.raises(KeyboardInterrupt):
            runner.learn(5, progress=False)
    finally:
        runner.env.close()
    saved = torch.load(tmp_path / "run" / "model_2.pt", weights_only=False)
    assert saved["iter"] == 2 and "sigma" in saved["infos"]["env"]


def test_resume_with_other_observation_size_fails_naming_resume(
    clip_path: Path, tmp_path: Path
) -> None:
    run_dir = train(small_cfg(clip_path, tmp_path / "run", "runner.iterations=1"))
    cfg = small_cfg(
        clip_path,
        tmp_path / "run2",
        f"runner.resume={run_dir / 'model_1.pt'}",
        "task.observations.actor.history_length=2",  # 228 dims instead of 380
    )
    with pytest.raises(ConfigError, match=r"runner.resume: .* does not fit this config"):
        build_runner(cfg, None)
