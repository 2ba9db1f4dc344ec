"""Evaluate a trained tracking policy (PBHC protocol) and write metrics, plots and a video.

Protocol: every episode starts at phase 0 and runs to the clip end; observation noise,
pushes and physical randomisation are off but the control delay keeps its trained range;
every termination except the clip end is off. The robot and reference states of the
tracked *physical* bodies (massless marker bodies excluded) and joints are recorded at the
control rate and scored with :func:`humimic.eval.metrics.compute_metrics`.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import mujoco
import numpy as np
import torch

from humimic.config.train import TrainCfg
from humimic.errors import ConfigError, HumimicError
from humimic.eval.report import METRICS_FILE, EvalReport, Summary, TrackingMetrics
from humimic.json_contract import write_report
from humimic.runs import RunDir, resolve_run


def resolve_checkpoint(run_or_checkpoint: str | Path) -> tuple[Path, Path]:
    """(run folder, checkpoint): a ``.pt`` file, or a run folder's latest ``model_<k>.pt``
    (the layout of :mod:`humimic.runs`)."""
    run, ckpt = resolve_run(run_or_checkpoint)
    return run.root, ckpt


def eval_config(
    cfg: TrainCfg,
    motion: str | Path | None,
    episodes: int,
    noise: bool = False,
    randomize: bool = False,
) -> TrainCfg:
    """The training config turned into the evaluation protocol (module docstring);
    ``noise`` keeps the training observation noise on (the robot's sensors are noisy too),
    ``randomize`` the training domain randomisation and pushes."""
    if episodes < 1:
        raise ConfigError(f"--episodes must be >= 1, got {episodes}")
    task = cfg.task
    files = [str(motion)] if motion is not None else list(task.motion.files[:1])
    terms = {k: t for k, t in task.terminations.items() if t.time_out}
    if not terms:
        raise ConfigError("task.terminations has no time-out term: episodes would not end")
    task = replace(
        task,
        motion=replace(task.motion, files=files, random_start=False, adaptive_sampling=False),
        noise=noise,
        terminations=terms,
        randomization=task.randomization
        if randomize
        else replace(task.randomization, enabled=False, pushes=False),
        assist=replace(task.assist, enabled=False),  # the real task: no hand on the robot
    )
    return replace(cfg, task=task, sim=replace(cfg.sim, num_envs=episodes))


def evaluate(
    run_or_checkpoint: str | Path,
    motion: str | Path | None = None,
    episodes: int = 4,
    video: bool = True,
    out_dir: str | Path | None = None,
    noise: bool = False,
    randomize: bool = False,
) -> Path:
    """Roll out the policy deterministically and write ``metrics.json`` (+ PNGs, MP4).

    Args:
        run_or_checkpoint: Run folder (latest checkpoint) or a ``model_<k>.pt``.
        motion: Clip to track (default: the run's first training clip).
        episodes: Parallel episodes (they differ only by the drawn control delay).
        video: Also render ``tracking.mp4`` of episode 0 with the reference as a ghost.
        out_dir: Output folder (default ``<run>/eval_<checkpoint stem>``).
        noise: Observation noise of training on (default off, PBHC's protocol).
        randomize: Domain randomisation and pushes of training on (default off).

    Returns:
        Path of ``metrics.json``.
    """
    from humimic.eval.plots import plot_errors

    r = policy_rollout(run_or_checkpoint, motion, episodes, noise, randomize)
    env, cfg, ckpt, rec = r.env, r.cfg, r.checkpoint, r.record
    out = Path(out_dir) if out_dir is not None else r.run.eval_dir(ckpt)
    metrics, elr = _score(env, rec)
    plots = plot_errors(metrics.to_json(), out, stem="tracking")
    video_name = None
    if video:
        fps = 1.0 / env.control_dt
        video_name = _video(env.model, env.spec.joint_names, rec, fps, out / "tracking.mp4")
    report = EvalReport(
        metrics, elr, checkpoint=str(ckpt), motion=str(cfg.task.motion.files[0]),
        sigma=dict(env.sigma.sigma), observation_noise=noise, domain_randomization=randomize,
        plots=tuple(p.name for p in plots), video=video_name,
    )  # fmt: skip
    return write_report(out / METRICS_FILE, report)


@dataclass(frozen=True)
class PolicyRollout:
    """One evaluation-protocol rollout of a checkpoint (the env is closed)."""

    env: Any
    """The closed tracking env (model, spec, layout, sigma and control_dt stay readable)."""
    cfg: TrainCfg
    """The run's config turned into the evaluation protocol."""
    run: RunDir
    checkpoint: Path
    record: dict[str, np.ndarray]
    """Arrays (E, T, ...) of :func:`_rollout`."""


def policy_rollout(
    run_or_checkpoint: str | Path,
    motion: str | Path | None,
    episodes: int,
    noise: bool = False,
    randomize: bool = False,
) -> PolicyRollout:
    """Roll a checkpoint out once from phase 0 under the evaluation protocol (arguments as
    :func:`evaluate`)."""
    from humimic.train.runner import build_runner, load_run_config

    run, ckpt = resolve_run(run_or_checkpoint)
    cfg = eval_config(load_run_config(run.root), motion, episodes, noise, randomize)
    cfg = replace(cfg, runner=replace(cfg.runner, resume=str(ckpt)))
    runner = build_runner(cfg, None)
    env = runner.env
    with contextlib.redirect_stdout(io.StringIO()):
        policy = runner.get_inference_policy()
    try:
        rec = _rollout(env, policy)
    finally:
        env.close()
    return PolicyRollout(env, cfg, run, ckpt, rec)


def score_policy(
    cfg: TrainCfg, policy: Callable[[Any], torch.Tensor]
) -> tuple[TrackingMetrics, Summary]:
    """Roll any policy out under an evaluation-protocol config (:func:`eval_config`) and
    score it as :func:`evaluate` does: (metrics, ELR at 0.7 m).

    ``policy`` maps the env's observation TensorDict to actions (E, num_actions), for a
    learner other than the run's own (e.g. ``tools/bench_sac.py``)."""
    from humimic.envs.tracking_env import TrackingEnv

    env = TrackingEnv(cfg.task, cfg.sim, seed=cfg.runner.seed)
    try:
        rec = _rollout(env, policy)
    finally:
        env.close()
    return _score(env, rec)


def _rollout(env: Any, policy: Any) -> dict[str, np.ndarray]:
    """Run one clip length from phase 0; arrays (E, T, ...) with T = steps + 1 frames."""
    frames: list[dict[str, torch.Tensor]] = []

    def record(d: Any) -> None:
        frames.append(_snapshot(d))

    frames.append(_snapshot(env.d))
    steps = round(float(env.motion.duration_s[0]) / env.control_dt)
    env.recorder = record
    obs = env.get_observations()
    with torch.inference_mode():
        for _ in range(steps):
            obs, _, _, _ = env.step(policy(obs))
    env.recorder = None
    return {k: torch.stack([f[k] for f in frames], dim=1).cpu().numpy() for k in frames[0]}


def _score(env: Any, rec: dict[str, np.ndarray]) -> tuple[TrackingMetrics, Summary]:
    """PBHC metrics of the recording on the physical tracked bodies, and ELR at 0.7 m."""
    from humimic.eval.metrics import compute_metrics

    physical = (~env.layout.virtual).cpu().numpy()
    robot, ref = rec["robot_body"][:, :, physical], rec["ref_body"][:, :, physical]
    metrics = compute_metrics(
        robot, ref, rec["robot_joint"], rec["ref_joint"], 1.0 / env.control_dt,
        joint_names=list(env.spec.joint_names), pelvis_index=0,
        clip_frames=rec["robot_joint"].shape[1],
    )  # fmt: skip
    return metrics, Summary(**_elr(robot, ref))


def _elr(robot: np.ndarray, ref: np.ndarray, far_m: float = 0.7) -> dict[str, float]:
    """PBHC's episode length ratio: frames before any body is ``far_m`` from its reference,
    over all frames, as mean/std over episodes (arrays (E, T, B, 3))."""
    from humimic.eval.metrics import body_pos_error_global

    far = np.any(body_pos_error_global(robot, ref) > far_m, axis=-1)  # (E, T)
    first = np.where(far.any(axis=1), far.argmax(axis=1), far.shape[1])
    ratio = first / far.shape[1]
    return {"mean": float(ratio.mean()), "std": float(ratio.std())}


def _snapshot(d: Any) -> dict[str, torch.Tensor]:
    r, ref = d.robot, d.ref
    return {
        "robot_body": r.body_pos_w.clone(),
        "ref_body": ref.body_pos_w.clone(),
        "robot_joint": r.joint_pos.clone(),
        "ref_joint": ref.joint_pos.clone(),
        "robot_root": torch.cat((r.root_pos_w, r.root_quat_w), dim=1).clone(),
        "ref_root": torch.cat((ref.root_pos_w, ref.root_quat_w), dim=1).clone(),
    }


def _video(model: mujoco.MjModel, joints: list[str], rec: dict[str, np.ndarray], fps: float,
           path: Path) -> str:  # fmt: skip
    """Render episode 0 with its reference ghost; returns the file name or the problem."""
    from humimic.viz.ghost import render_with_ghost

    adr = [
        model.jnt_qposadr[mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, n)] for n in joints
    ]
    free = int(np.flatnonzero(model.jnt_type == mujoco.mjtJoint.mjJNT_FREE)[0])
    root = int(model.jnt_qposadr[free])

    def qpos(root_qpos: np.ndarray, joint: np.ndarray) -> np.ndarray:
        q = np.tile(model.qpos0, (root_qpos.shape[0], 1))
        q[:, root : root + 7] = root_qpos
        q[:, adr] = joint
        return q

    robot = qpos(rec["robot_root"][0], rec["robot_joint"][0])
    ghost = qpos(rec["ref_root"][0], rec["ref_joint"][0])
    try:
        render_with_ghost(model, robot, ghost, fps, path)
    except (HumimicError, RuntimeError, mujoco.FatalError) as err:  # no GL context here
        return f"not rendered: {str(err).splitlines()[0]}"
    return path.name
