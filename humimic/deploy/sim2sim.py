"""Sim-to-sim gate: run an exported controller in an independent MuJoCo setup and score it.

The setup differs from training on purpose (g1_deploy.md §3):

* **Torque control at the physics rate.** The robot model from
  :func:`humimic.robot.model.build_model` is compiled at ``physics_hz`` (1 kHz by default)
  and its position actuators are turned into plain motors (gain 1, bias 0, ``ctrl`` = joint
  torque). Every physics step computes ``τ = kp·(q* − q) − kd·q̇`` in Python from the
  manifest's gains, clipped to the manifest's effort limits; training used MuJoCo position
  actuators at 200 Hz.
* **Command delay.** Each new 50 Hz target takes effect after a random 0..``max_delay_ms``
  (whole physics steps); the previous target is held until then.
* **Sensor noise** (Gaussian): joint positions, joint velocities, IMU gyro and IMU
  orientation (a random small rotation), see :class:`Sim2SimConfig`.
* **IMU from the site.** Orientation and gyro are read at the manifest's IMU site (site
  frame, ``mj_objectVelocity`` local), not from the free joint as training does.

The robot starts at the clip's first frame (pose and velocities), the controller at phase 0,
and each episode runs to the clip end or a fall. Metrics are
:func:`humimic.eval.metrics.compute_metrics` on the tracked physical bodies (forward
kinematics, by name) against the clip interpolated at the control times. The gate passes
when no episode falls (pelvis above ``min_pelvis_height_m``, tilt below ``max_tilt_rad`` at
every control step), every episode succeeds by ``humimic eval``'s definition (the metrics'
``per_episode.success``: the whole clip with no body beyond :func:`eval_fail_distance_m` of
its reference) and the mean ``E_mpbpe`` is below ``max_mpbpe_mm``. The verdict shows these
thresholds and the sha256 of the ``controller.onnx`` and ``controller.json`` bytes it ran,
which deploy requires to match (:mod:`humimic.deploy.gate`).

Numpy, MuJoCo and onnxruntime only (no torch).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import mujoco
import numpy as np

from humimic.deploy.controller import Controller, RobotState
from humimic.deploy.gate import GATE_FILE
from humimic.deploy.sim2sim_report import EpisodeOutcome, Sim2SimReport, gate
from humimic.errors import ConfigError
from humimic.eval.metrics import FALL_HEIGHT_M
from humimic.export.manifest import ControllerManifest
from humimic.geometry import quat_np
from humimic.json_contract import write_report
from humimic.motion.clip import RobotClip
from humimic.robot.lookup import joint_ids


@dataclass(frozen=True)
class Sim2SimConfig:
    """Physics, perturbations and gate thresholds of a sim-to-sim run."""

    physics_hz: int = 1000
    max_delay_ms: float = 20.0
    sensor_noise: bool = True
    joint_pos_noise_rad: float = 0.005
    joint_vel_noise_rad_s: float = 0.1
    gyro_noise_rad_s: float = 0.05
    orientation_noise_rad: float = 0.01
    min_pelvis_height_m: float = FALL_HEIGHT_M
    max_tilt_rad: float = 1.0
    max_mpbpe_mm: float = 120.0

    def __post_init__(self) -> None:
        """Check ranges."""
        if self.physics_hz < 50 or self.max_delay_ms < 0 or self.max_mpbpe_mm <= 0:
            raise ConfigError(
                "sim2sim: physics_hz must be >= 50, max_delay_ms >= 0, max_mpbpe_mm > 0"
            )


def torque_model(spec: Any, physics_dt: float) -> mujoco.MjModel:
    """The robot scene with its position actuators turned into torque motors (±effort)."""
    from humimic.robot.model import build_model

    model = build_model(spec, physics_dt=physics_dt)
    model.actuator_gainprm[:] = 0.0
    model.actuator_gainprm[:, 0] = 1.0
    model.actuator_biasprm[:] = 0.0
    effort = np.asarray(spec.effort_limit, float)
    model.actuator_ctrllimited[:] = 1
    model.actuator_ctrlrange[:] = np.stack((-effort, effort), axis=1)
    return model


class TorqueSim:
    """One MuJoCo world driven by PD torques at the physics rate."""

    def __init__(self, spec: Any, manifest: ControllerManifest, cfg: Sim2SimConfig) -> None:
        self.cfg, self.m = cfg, manifest
        self.model = torque_model(spec, 1.0 / cfg.physics_hz)
        self.data = mujoco.MjData(self.model)
        model = self.model
        jids = joint_ids(model, manifest.joint_names)
        self.qadr, self.dadr = model.jnt_qposadr[jids], model.jnt_dofadr[jids]
        free = int(np.flatnonzero(model.jnt_type == mujoco.mjtJoint.mjJNT_FREE)[0])
        self.root = int(model.jnt_qposadr[free])
        self.pelvis = int(model.jnt_bodyid[free])
        self.imu = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, manifest.imu_site)
        if self.imu < 0:
            raise ConfigError(f"sim2sim: IMU site {manifest.imu_site!r} not in the robot model")
        self.kp, self.kd = np.asarray(manifest.kp), np.asarray(manifest.kd)
        self.effort = np.asarray(manifest.effort_limit)
        self.decimation = round(manifest.control_dt * cfg.physics_hz)

    def reset(self, clip: RobotClip, frame: int = 0) -> None:
        """Put the robot at a clip frame: root pose, joints and velocities."""
        d, col = self.data, [clip.joint_index(n) for n in self.m.joint_names]
        mujoco.mj_resetData(self.model, d)
        d.qpos[self.root : self.root + 3] = clip.root_pos_w[frame]
        d.qpos[self.root + 3 : self.root + 7] = quat_np.normalize(clip.root_quat_w[frame])
        d.qpos[self.qadr] = clip.joint_pos[frame, col]
        b = clip.body_index(self.model.body(self.pelvis).name)
        q = clip.root_quat_w[frame]
        d.qvel[0:3] = clip.body_lin_vel_w[frame, b]
        d.qvel[3:6] = quat_np.rotate(quat_np.conjugate(q), clip.body_ang_vel_w[frame, b])
        d.qvel[self.dadr] = clip.joint_vel[frame, col]
        mujoco.mj_forward(self.model, d)

    def sense(self, rng: np.random.Generator | None) -> RobotState:
        """Joint and IMU readings (with noise when ``rng`` is given)."""
        d, c = self.data, self.cfg
        quat, vel6 = np.zeros(4), np.zeros(6)
        mujoco.mju_mat2Quat(quat, d.site_xmat[self.imu])
        mujoco.mj_objectVelocity(self.model, d, mujoco.mjtObj.mjOBJ_SITE, self.imu, vel6, 1)
        q, dq, gyro = d.qpos[self.qadr].copy(), d.qvel[self.dadr].copy(), vel6[:3].copy()
        if rng is not None:
            q += rng.normal(0.0, c.joint_pos_noise_rad, q.shape)
            dq += rng.normal(0.0, c.joint_vel_noise_rad_s, dq.shape)
            gyro += rng.normal(0.0, c.gyro_noise_rad_s, 3)
            quat = quat_np.multiply(
                quat, quat_np.from_rotvec(rng.normal(0, c.orientation_noise_rad, 3))
            )
        return RobotState(joint_pos=q, joint_vel=dq, quat_wxyz=quat_np.normalize(quat), gyro_b=gyro)

    def advance(self, previous: np.ndarray, target: np.ndarray, delay_steps: int) -> None:
        """One control period: ``delay_steps`` physics steps on ``previous``, then ``target``."""
        d = self.data
        for i in range(self.decimation):
            goal = previous if i < delay_steps else target
            tau = self.kp * (goal - d.qpos[self.qadr]) - self.kd * d.qvel[self.dadr]
            d.ctrl[:] = np.clip(tau, -self.effort, self.effort)
            mujoco.mj_step(self.model, d)
        # mj_step leaves positions/velocities of bodies and sites one step stale: refresh
        # them so sensors and recorded bodies match the current state.
        mujoco.mj_forward(self.model, d)

    def pelvis_height_tilt(self) -> tuple[float, float]:
        """Pelvis height (m) and tilt from upright (rad)."""
        z_axis_z = float(self.data.xmat[self.pelvis][8])
        return float(self.data.xpos[self.pelvis][2]), float(np.arccos(np.clip(z_axis_z, -1, 1)))


def reference_at(clip: RobotClip, times_s: np.ndarray, body_rows: list[int],
                 joint_cols: list[int]) -> dict[str, np.ndarray]:  # fmt: skip
    """Clip sampled at ``times_s`` (linear; slerp for the root): bodies, joints, root."""
    f = np.clip(np.asarray(times_s) * clip.fps, 0, clip.num_frames - 1)
    i0 = np.minimum(np.floor(f).astype(int), clip.num_frames - 2)
    w = (f - i0)[:, None]

    def lerp(a: np.ndarray) -> np.ndarray:
        flat = a.reshape(a.shape[0], -1)
        return ((1 - w) * flat[i0] + w * flat[i0 + 1]).reshape((len(f), *a.shape[1:]))

    quat = quat_np.slerp(clip.root_quat_w[i0], clip.root_quat_w[i0 + 1], w[:, 0])
    return {
        "body_pos_w": lerp(clip.body_pos_w[:, body_rows]),
        "joint_pos": lerp(clip.joint_pos[:, joint_cols]),
        "root": np.concatenate((lerp(clip.root_pos_w), quat_np.normalize(quat)), axis=1),
    }


def tracked_bodies(spec: Any, model: mujoco.MjModel, clip: RobotClip) -> list[str]:
    """Tracked physical bodies (massless markers excluded), pelvis first, all in the clip."""
    names = [
        n for n in spec.body_groups.get("tracked", [])
        if model.body_mass[mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, n)] > 0
    ]  # fmt: skip
    missing = [n for n in names if n not in clip.body_names]
    if missing or not names:
        raise ConfigError(f"sim2sim: reference clip lacks tracked bodies {missing}")
    return names


def eval_fail_distance_m() -> float:
    """Body deviation (m) that fails an episode in ``humimic eval`` and here."""
    from humimic.eval.metrics import FAIL_DISTANCE_M

    return FAIL_DISTANCE_M


def settings_dict(cfg: Sim2SimConfig, episodes: int, seed: int) -> dict[str, float | int | bool]:
    """The run settings as recorded in ``metrics.json``."""
    return {**asdict(cfg), "episodes": episodes, "seed": seed}


def run_episode(sim: TorqueSim, controller: Controller, clip: RobotClip, steps: int,
                rng: np.random.Generator, bodies: list[int]) -> dict[str, Any]:  # fmt: skip
    """One episode from clip frame 0; arrays of T = steps + 1 frames (padded after a fall)."""
    cfg, d = sim.cfg, sim.data
    sim.reset(clip, 0)
    noise = rng if cfg.sensor_noise else None
    max_delay = round(cfg.max_delay_ms * cfg.physics_hz / 1000.0)
    controller.reset(sim.sense(noise))
    previous = d.qpos[sim.qadr].copy()
    rec: dict[str, list[np.ndarray]] = {"body": [], "joint": [], "qpos": []}
    fall, length = "", 1

    def record() -> None:
        rec["body"].append(d.xpos[bodies].copy())
        rec["joint"].append(d.qpos[sim.qadr].copy())
        rec["qpos"].append(d.qpos.copy())

    record()
    for k in range(steps):
        target = controller.step(sim.sense(noise))
        if target is None:
            break
        sim.advance(previous, np.asarray(target, float), int(rng.integers(0, max_delay + 1)))
        previous = np.asarray(target, float)
        record()
        length = k + 2
        height, tilt = sim.pelvis_height_tilt()
        if height < cfg.min_pelvis_height_m or tilt > cfg.max_tilt_rad or not np.isfinite(height):
            t = (k + 1) * sim.m.control_dt
            fall = f"fell at t = {t:.2f} s (pelvis {height:.2f} m, tilt {tilt:.2f} rad)"
            break
    arrays = {k: np.stack(v) for k, v in rec.items()}
    pad = steps + 1 - len(rec["body"])
    arrays = {k: np.concatenate((v, np.repeat(v[-1:], pad, axis=0))) for k, v in arrays.items()}
    return {**arrays, "length": length, "fall": fall}


def simulate(
    controller: Controller,
    manifest: ControllerManifest,
    clip: RobotClip,
    cfg: Sim2SimConfig,
    episodes: int = 1,
    seed: int = 0,
    hashes: dict[str, str | None] | None = None,
) -> tuple[Sim2SimReport, dict[str, np.ndarray], TorqueSim]:
    """Run ``episodes`` episodes of any controller; returns (report with gate, recording, sim).

    The recording holds episode 0's robot ``qpos`` (T, nq) and reference ``ghost_qpos``;
    ``hashes`` go into the verdict (see :func:`gate`).
    """
    from humimic.eval.metrics import compute_metrics
    from humimic.robot.spec import load_robot_spec

    if episodes < 1:
        raise ConfigError(f"sim2sim: episodes must be >= 1, got {episodes}")
    spec = load_robot_spec(manifest.variant)
    sim = TorqueSim(spec, manifest, cfg)
    names = tracked_bodies(spec, sim.model, clip)
    body_ids = [mujoco.mj_name2id(sim.model, mujoco.mjtObj.mjOBJ_BODY, n) for n in names]
    steps = round(clip.duration_s / manifest.control_dt)
    times = np.arange(steps + 1) * manifest.control_dt
    ref = reference_at(clip, times, [clip.body_index(n) for n in names],
                       [clip.joint_index(n) for n in manifest.joint_names])  # fmt: skip
    runs = [
        run_episode(sim, controller, clip, steps, np.random.default_rng([seed, e]), body_ids)
        for e in range(episodes)
    ]
    metrics = compute_metrics(
        np.stack([r["body"] for r in runs]), np.repeat(ref["body_pos_w"][None], episodes, 0),
        np.stack([r["joint"] for r in runs]), np.repeat(ref["joint_pos"][None], episodes, 0),
        1.0 / manifest.control_dt, joint_names=list(manifest.joint_names), pelvis_index=0,
        lengths=[r["length"] for r in runs], clip_frames=steps + 1,
    )  # fmt: skip
    outcomes = tuple(EpisodeOutcome(e, r["fall"], r["length"]) for e, r in enumerate(runs))
    verdict = gate(metrics.E_mpbpe.mean, metrics.per_episode.success, outcomes, cfg, hashes)
    report = Sim2SimReport(metrics, outcomes, tuple(names), verdict)
    ghost = np.tile(sim.model.qpos0, (steps + 1, 1))
    ghost[:, sim.root : sim.root + 7] = ref["root"]
    ghost[:, sim.qadr] = ref["joint_pos"]
    return report, {"qpos": runs[0]["qpos"], "ghost_qpos": ghost}, sim


def run_sim2sim(
    controller_dir: Path,
    *,
    episodes: int = 1,
    seed: int = 0,
    physics_hz: int | None = None,
    max_delay_ms: float | None = None,
    sensor_noise: bool | None = None,
    video: Path | None = None,
    out: Path | None = None,
    config: Sim2SimConfig | None = None,
    controller: Controller | None = None,
) -> Sim2SimReport:
    """Sim-to-sim of an exported controller; writes ``metrics.json``, plots and a video.

    Args:
        controller_dir: Exported controller folder (``humimic export``).
        episodes: Episodes (different noise and delays).
        seed: Seed of noise and delays.
        physics_hz, max_delay_ms, sensor_noise: Override the same fields of ``config``
            when given (defaults 1000 Hz, 20 ms, on).
        video: MP4 path of episode 0 with the reference ghost (None: no video).
        out: Output folder (default: the controller folder).
        config: Noise levels and gate thresholds (default :class:`Sim2SimConfig`).
        controller: Run this controller instead of the folder's ONNX policy (the folder
            still gives the manifest and the reference clip), e.g. a hold-default baseline.
            Its verdict carries no hashes, so deploy never accepts it for the folder.

    Returns:
        The report as written (its ``gate`` is the verdict deploy reads).
    """
    from humimic.deploy.policy import OnnxController, load_manifest
    from humimic.eval.plots import plot_errors
    from humimic.motion.clip import load_clip

    controller_dir = Path(controller_dir)
    manifest = load_manifest(controller_dir)
    cfg = config or Sim2SimConfig()
    cfg = replace(
        cfg,
        physics_hz=cfg.physics_hz if physics_hz is None else physics_hz,
        max_delay_ms=cfg.max_delay_ms if max_delay_ms is None else max_delay_ms,
        sensor_noise=cfg.sensor_noise if sensor_noise is None else sensor_noise,
    )
    hashes: dict[str, str | None] | None = None
    if controller is None:
        onnx = OnnxController(controller_dir, manifest.variant)
        controller, manifest = onnx, onnx.manifest  # the manifest whose bytes were hashed
        hashes = {"controller_sha256": onnx.onnx_sha256, "manifest_sha256": onnx.manifest_sha256}
    clip = load_clip(controller_dir / manifest.reference.arrays_file)
    report, rec, sim = simulate(controller, manifest, clip, cfg, episodes, seed, hashes)
    out = Path(out) if out is not None else controller_dir
    plots = plot_errors(report.metrics.to_json(), out, stem="sim2sim")
    rendered = None
    if video is not None:
        rendered = _video(sim.model, rec, 1.0 / manifest.control_dt, Path(video))
    report = replace(report, controller=str(controller_dir), plots=tuple(p.name for p in plots),
                     settings=settings_dict(cfg, episodes, seed), video=rendered)  # fmt: skip
    write_report(out / GATE_FILE, report)
    return report


def _video(model: mujoco.MjModel, rec: dict[str, np.ndarray], fps: float, path: Path) -> str:
    """Render episode 0 with its reference ghost; the file name, or why it was not made."""
    from humimic.errors import HumimicError
    from humimic.viz.ghost import render_with_ghost

    try:
        render_with_ghost(model, rec["qpos"], rec["ghost_qpos"], fps, path)
    except (HumimicError, RuntimeError, mujoco.FatalError) as err:  # e.g. no GL context
        return f"not rendered: {str(err).splitlines()[0]}"
    return str(path)
