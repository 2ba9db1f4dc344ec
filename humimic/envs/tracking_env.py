"""``TrackingEnv``: N robots tracking reference clips, as an rsl-rl ``VecEnv``.

The env owns the physics backend, the motion library, the observation/reward/termination
managers, the randomiser and the adaptive state (σ, curricula). Everything configurable
comes from :class:`~humimic.config.train.TaskCfg` and :class:`~humimic.config.train.SimCfg`.

Every buffer, the motion library, the managers, the randomiser, σ, the curricula, the
sampling statistics and the random generator live on ``sim.device`` (the backend's
device), so a CUDA run never copies state to the host while stepping. The log values in
``extras["log"]`` are 0-dim tensors that the logger reads once per iteration. The step
path reads the device only to learn which envs to reset (``torch.nonzero``, one small
copy) and, with pushes on, which worlds to push; with domain randomisation on, the new
physical parameters of reset worlds are computed on the host (``sim.params``) and
written into the backend's per-world arrays.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from tensordict import TensorDict
from torch import Tensor

from humimic.config.train import SimCfg, TaskCfg
from humimic.envs.adaptive import AdaptiveSigma, Curriculum
from humimic.envs.assist import Assist, assist_target
from humimic.envs.managers import (
    ObservationGroup,
    ObsSlice,
    RewardManager,
    TerminationManager,
)
from humimic.envs.motion_library import MotionLibrary, RefState, check_variant, load_clips
from humimic.envs.randomization import DomainRandomizer
from humimic.envs.registry import bind
from humimic.envs.robot_layout import resolve_layout
from humimic.envs.step_data import ContactState, StepData
from humimic.envs.terms.rewards import CONTACT_N
from humimic.motion.clip import RobotClip
from humimic.robot.model import build_model
from humimic.robot.spec import load_robot_spec
from humimic.sim.backend import make_backend, validate_device


def validate_task(task: TaskCfg) -> None:
    """Bind every term (names and params) without simulating; raises ConfigError."""
    for group, gcfg in task.observations.items():
        for key, term in gcfg.terms.items():
            bind(
                "observation", f"task.observations.{group}.terms.{key}", term.fn or key, term.params
            )
    RewardManager(task.rewards, AdaptiveSigma(task.sigma), 0.02, 1)
    TerminationManager(task.terminations)


class TrackingEnv:
    """Motion-tracking env (rsl-rl VecEnv contract: see :meth:`step`)."""

    def __init__(
        self, task: TaskCfg, sim: SimCfg, clips: list[RobotClip] | None = None, seed: int = 0
    ) -> None:
        """Validate the config, load clips, then build the model and the backend.

        Raises:
            ConfigError: Bad term, clip for another robot variant, bad sim settings.
        """
        device = validate_device(sim.backend, sim.device)
        validate_task(task)
        spec = load_robot_spec(task.robot)
        if clips is None:
            clips = load_clips(list(task.motion.files), spec.variant)
        check_variant(clips, spec.variant)
        self.cfg, self.sim_cfg, self.spec = task, sim, spec
        self.num_envs, self.device = sim.num_envs, device
        self.num_actions = spec.num_joints
        self.control_dt, self.decimation = sim.control_dt, sim.decimation
        self.gen = torch.Generator(device=device).manual_seed(seed)
        self.assist = Assist(task.assist)
        self._build_sim(clips)
        self.max_episode_length = int(torch.ceil(self.motion.duration_s.max() / self.control_dt))
        n, j = self.num_envs, self.num_actions
        self.episode_length_buf = torch.zeros(n, dtype=torch.long, device=device)
        self.clip_ids = torch.zeros(n, dtype=torch.long, device=device)
        self.start_s = torch.zeros(n, device=device)
        self.sigma = AdaptiveSigma(task.sigma, device)
        self.curriculum = Curriculum(task.curriculum, self.control_dt, device)
        self.dr = DomainRandomizer(
            task.randomization, self.backend, len(self.layout.body_names), j, self.control_dt,
            self.gen, effort_limits=self.layout.effort_limits,
        )  # fmt: skip
        self.recorder: Callable[[StepData], None] | None = None
        """Called every step after rewards, before resets (evaluation uses it)."""
        self._filt_prev = torch.zeros(n, 2, dtype=torch.bool, device=device)
        self.d = self._initial_step_data()
        self.rewards = RewardManager(task.rewards, self.sigma, self.control_dt, n, device)
        self.terminations = TerminationManager(task.terminations)
        self.obs_groups = {
            name: ObservationGroup(name, g, self.d, task.noise)
            for name, g in task.observations.items()
        }
        self.nan_resets = torch.zeros((), dtype=torch.long, device=device)
        """Diverged worlds so far (0-dim tensor)."""
        self._reset(torch.arange(n, device=device))
        self.obs = self._observe()

    def _build_sim(self, clips: list[RobotClip]) -> None:
        """Model, robot layout, motion library and physics backend."""
        spec, sim = self.spec, self.sim_cfg
        assist = self.cfg.assist if self.cfg.assist.enabled else None  # servos: training only
        self.model = build_model(spec, physics_dt=sim.physics_dt, assist=assist)
        self.layout = resolve_layout(spec, self.model).to(self.device)
        self.motion = MotionLibrary(
            clips,
            list(spec.joint_names),
            self.layout.body_names,
            self.device,
            self.cfg.motion.bin_s,
        )
        threaded = sim.backend == "mujoco" and sim.physics_threads > 0
        opts = {"num_threads": sim.physics_threads} if threaded else {}
        self.backend = make_backend(
            sim.backend, self.model, spec, self.num_envs, self.layout.body_names, sim.device,
            **opts,
        )  # fmt: skip

    def _initial_step_data(self) -> StepData:
        n, j, lay = self.num_envs, self.num_actions, self.layout
        times = torch.zeros(n, device=self.device)
        return StepData(
            robot=self.backend.state(),
            ref=self.motion.state(self.clip_ids, times),
            actions=torch.zeros(n, j, device=self.device),
            prev_actions=torch.zeros(n, j, device=self.device),
            default_joint_pos=lay.default_joint_pos,
            joint_pos_limits=lay.joint_pos_limits,
            joint_vel_limits=lay.joint_vel_limits,
            effort_limits=lay.effort_limits,
            groups=lay.groups,
            feet=ContactState.zeros(n, self.device),
            control_dt=self.control_dt,
            collision_force=self._collision_force(),
            dr_params=self.dr.params_vector(),
            terminated=torch.zeros(n, dtype=torch.bool, device=self.device),
            time_out=torch.zeros(n, dtype=torch.bool, device=self.device),
            far_distance_m=self.curriculum.far_distance_m,
            motion=self.motion,
            clip_ids=self.clip_ids,
            times_s=times,
            joint_names=tuple(self.spec.joint_names),
        )

    # ------------------------------------------------------------------ VecEnv API
    def get_observations(self) -> TensorDict:
        """Observation groups ``actor`` and ``critic``, each (N, dim)."""
        return self.obs

    def step(self, actions: Tensor) -> tuple[TensorDict, Tensor, Tensor, dict[str, Any]]:
        """Advance every env by one control step (``decimation`` physics steps).

        Step order: store actions → delay line (DR) → target = base + scale·action (base: the
        default pose, or the reference one control step ahead in ``residual`` mode) →
        joint torque bias (DR: fresh RFI sample + episode RAO, if active) →
        ``decimation`` physics steps → count diverged worlds → advance clip time, refresh
        reference/contacts/forces → terminations (failures, clip-end time-outs, NaN worlds)
        → rewards (σ updated) → recorder hook → curricula, adaptive-sampling statistics and
        reset of finished envs (RSI + DR) → pushes → observations (history pushed) →
        previous action ← action.

        Returns:
            obs TensorDict, rewards (N,), dones (N,) bool, extras with ``time_outs`` (N,)
            bool and ``log`` (scalars, keys start with "/").
        """
        d = self.d
        d.actions = actions.detach().clamp(-100.0, 100.0)
        applied = self.dr.delayed(d.actions)
        residual = self.cfg.action_mode == "residual"
        ahead = self._reference_ahead() if residual or self.assist.enabled else None
        target = self._action_base(ahead) + self.cfg.action_scale * applied
        if ahead is not None and self.assist.enabled:
            target_pose = assist_target(ahead.root_pos_w, ahead.root_quat_w)
            self.backend.set_assist(target_pose, self.assist.scale)
        if self.dr.torque_noise_active:
            self.backend.set_joint_torque_bias(self.dr.torque_bias())
        self.backend.step(target, self.decimation)
        nan = self.backend.nan_worlds()
        self.episode_length_buf += 1
        self._refresh()
        failed, time_out, done_log = self.terminations.compute(d)
        log: dict[str, Tensor | float] = {**done_log}
        failed = (failed | nan) & ~time_out
        d.terminated, d.time_out = failed, time_out
        reward = self.rewards.compute(d, self.curriculum.penalty_scale)
        progress = self._progress_scalars(reward, failed)  # before resets overwrite robot states
        if self.recorder is not None:
            self.recorder(d)
        done = failed | time_out
        ids = torch.nonzero(done).flatten()
        if ids.numel():
            log.update(self._end_episodes(ids, failed))
            self._reset(ids)
        self.dr.maybe_push(self.episode_length_buf * self.control_dt)
        self.nan_resets += nan.sum()
        log.update(self._scalars(nan))
        log.update(progress)
        self.obs = self._observe()
        d.prev_actions = d.actions
        return self.obs, reward, done, {"time_outs": time_out, "log": log}

    def describe(self) -> str:
        """A table of the active observation groups, reward and termination terms."""
        lines = [f"TrackingEnv: {self.num_envs} envs, {len(self.motion.num_frames)} clip(s)"]
        for name, group in self.obs_groups.items():
            terms = ", ".join(f"{k}({v})" for k, v in group.dims.items())
            lines.append(f"  obs {name} [{group.dim}]: {terms} + {group.cfg.history_length} hist")
        for key, cfg in self.rewards.cfgs.items():
            extra = f" sigma={cfg.sigma}" if cfg.sigma else ""
            extra += " (curriculum)" if cfg.curriculum else ""
            lines.append(f"  reward {key:<20} {cfg.fn or key:<20} w={cfg.weight:g}{extra}")
        for key, done in self.terminations.cfgs.items():
            timeout = " (time-out)" if done.time_out else ""
            lines.append(f"  done {key:<22} {done.fn or key}{timeout}")
        if self.assist.enabled:
            lines.append(f"  assist on the root, scale {self.assist.scale:g} (fading; not in eval)")
        return "\n".join(lines)

    def obs_layout(self) -> dict[str, list[ObsSlice]]:
        """Per group: (term, slice, scale, history index) of every block of the vector."""
        return {name: group.layout() for name, group in self.obs_groups.items()}

    # ------------------------------------------------------------------ internals
    def _reference_ahead(self) -> RefState:
        """The reference one control step ahead: where this step should end."""
        assert self.d.times_s is not None  # set by every reset
        return self.motion.state(self.clip_ids, self.d.times_s + self.control_dt)

    def _action_base(self, ahead: RefState | None = None) -> Tensor:
        """Joint targets of the zero action, (N, J), rad (see ``TaskCfg.action_mode``);
        ``ahead``: :meth:`_reference_ahead` if already computed this step."""
        if self.cfg.action_mode == "residual":
            return (ahead if ahead is not None else self._reference_ahead()).joint_pos
        return self.d.default_joint_pos

    def _refresh_ref(self) -> None:
        """Reference of every env at its current clip time."""
        d = self.d
        d.times_s = self._clip_times()
        d.ref = self.motion.state(self.clip_ids, d.times_s)
        d.far_distance_m = self.curriculum.far_distance_m

    def _clip_times(self) -> Tensor:
        """Shape (N,): each env's time in its clip, s."""
        return self.start_s + self.episode_length_buf * self.control_dt

    def _refresh(self) -> None:
        """Reference at the current clip time; foot contacts; collision forces."""
        d = self.d
        self._refresh_ref()
        contact = torch.linalg.vector_norm(d.robot.foot_contact_force_w, dim=-1) > CONTACT_N
        feet = d.feet
        feet.last_contact = feet.contact
        feet.contact = contact
        filt = contact | feet.last_contact
        air = feet.air_time * (~self._filt_prev).float()
        feet.first_contact = (air > 0) & filt
        feet.air_time = air + self.control_dt
        self._filt_prev = filt
        d.collision_force = self._collision_force()

    def _collision_force(self) -> Tensor | None:
        raw = getattr(self.backend, "raw", None)
        if raw is None or self.layout.collision_bodies.numel() == 0:
            return None
        force = raw.cfrc_ext.index_select(1, self.layout.collision_bodies)[..., 3:]
        return force.to(torch.float32)

    def _end_episodes(self, ids: Tensor, failed: Tensor) -> dict[str, Tensor]:
        """Logs (0-dim tensors), curricula and sampling statistics of the episodes ending now."""
        steps = self.episode_length_buf[ids].float()
        log = self.rewards.reset(ids, (steps * self.control_dt).clamp_min(self.control_dt))
        log["/Episode/length_steps"] = steps.mean()
        # Reached the clip end without a failure termination (from its random start).
        log["/Progress/success_rate"] = 1.0 - failed[ids].float().mean()
        self.curriculum.update(steps.mean(), int(ids.numel()))
        if self.assist.scale > 0.0:  # one read-back, only while the assist is on
            self.assist.update(int((~failed[ids]).sum()), int(ids.numel()))
        m = self.cfg.motion
        if m.adaptive_sampling:
            assert self.d.times_s is not None  # set by every reset
            self.motion.record_episodes(
                self.clip_ids[ids], self.d.times_s[ids], failed[ids], m.sampling_alpha
            )
        return log

    def _reset(self, ids: Tensor) -> None:
        """Start new episodes in ``ids``: RSI (or phase 0), DR draws, cleared buffers."""
        m, d = self.cfg.motion, self.d
        self.clip_ids[ids] = self.motion.sample_clips(len(ids), self.gen)
        if m.random_start:
            start = self.motion.sample_times(
                self.clip_ids[ids], m.adaptive_sampling, m.uniform_ratio, self.gen
            )
        else:
            start = torch.zeros(len(ids), device=self.device)
        self.start_s[ids] = start
        self.episode_length_buf[ids] = 0
        d.times_s = self._clip_times()
        # Only the restarted envs' reference changes; the others keep this step's.
        d.ref = d.ref.with_rows(ids, self.motion.state(self.clip_ids[ids], d.times_s[ids]))
        ref = d.ref
        r = self.cfg.randomization
        self.dr.reset(ids, randomize=r.enabled, delay_only=not r.enabled)
        self.dr.reset_push_timer(ids)
        self.backend.reset(
            ids, ref.root_pos_w[ids], ref.root_quat_w[ids], ref.root_lin_vel_w[ids],
            ref.root_ang_vel_w[ids], ref.joint_pos[ids], ref.joint_vel[ids],
        )  # fmt: skip
        d.dr_params = self.dr.params_vector()
        for group in getattr(self, "obs_groups", {}).values():
            group.reset(ids)
        d.actions = d.actions.clone()
        d.actions[ids] = 0.0
        d.feet.contact[ids] = True
        d.feet.air_time[ids] = 0.0
        self._filt_prev[ids] = True

    def _observe(self) -> TensorDict:
        cache: dict[tuple[str, str], Tensor] = {}
        groups = {k: g.compute(self.d, self.gen, cache) for k, g in self.obs_groups.items()}
        return TensorDict(groups, batch_size=[self.num_envs], device=self.device)

    def _progress_scalars(self, reward: Tensor, failed: Tensor) -> dict[str, Tensor]:
        """This step's batch means that show learning directly, unlike the σ EMAs (which
        relax from their initial values over ~40 iterations whatever the policy does).

        ``body_pos_error_m``: mean world-frame body distance (what the position rewards
        see, m); ``mpbpe_m``: the same after subtracting each side's root (PBHC's E_mpbpe per
        step); ``joint_pos_error_rad``: mean absolute joint error; ``falls_per_s``: failed
        episodes per robot and simulated second; ``reward_per_step``. 0-dim tensors.
        """
        d = self.d
        world = torch.linalg.vector_norm(d.robot.body_pos_w - d.ref.body_pos_w, dim=-1).mean()
        robot = d.robot.body_pos_w - d.robot.body_pos_w[:, :1]  # root first in body_names
        ref = d.ref.body_pos_w - d.ref.body_pos_w[:, :1]
        local = torch.linalg.vector_norm(robot - ref, dim=-1).mean()
        joint = (d.robot.joint_pos - d.ref.joint_pos).abs().mean()
        falls = failed.float().mean() / self.control_dt
        values = (reward.mean(), world, local, joint, falls)
        keys = ("/Progress/reward_per_step", "/Progress/body_pos_error_m", "/Progress/mpbpe_m",
                "/Progress/joint_pos_error_rad", "/Progress/falls_per_s")  # fmt: skip
        return dict(zip(keys, values, strict=True))

    def _scalars(self, nan: Tensor) -> dict[str, Tensor | float]:
        out: dict[str, Tensor | float] = {
            "/Sim/nan_worlds": nan.sum().float(),
            "/Sim/pushes_total": float(self.dr.pushes),  # a host count, no read-back
        }
        out.update(self.sigma.log())
        out.update(self.curriculum.log())
        out.update(self.assist.log())
        if self.cfg.motion.adaptive_sampling:
            out["/Motion/sampling_entropy"] = self.motion.sampling_entropy()
        return out

    # ------------------------------------------------------------------ checkpoint state
    def state_dict(self) -> dict[str, Any]:
        """Adaptive state that a checkpoint must carry (σ, curricula, sampling EMA)."""
        return {
            "sigma": self.sigma.state_dict(),
            "curriculum": self.curriculum.state_dict(),
            "failure_ema": self.motion.failure_ema.clone(),
            "assist": self.assist.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        self.sigma.load_state_dict(state["sigma"])
        self.curriculum.load_state_dict(state["curriculum"])
        if "assist" in state:  # checkpoints from before the assist existed have none
            self.assist.load_state_dict(state["assist"])
        if state["failure_ema"].shape == self.motion.failure_ema.shape:
            self.motion.failure_ema.copy_(state["failure_ema"])

    def close(self) -> None:
        """Release the backend."""
        self.backend.close()
