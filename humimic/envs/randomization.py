"""Domain randomisation: physical parameters per episode, control delay, velocity pushes.

Parameters go to the backend through ``set_params`` at reset (friction, body mass scale,
root CoM offset, kp/kd scale). The privileged vector seen by the critic is
``[com_offset (3), mass_scale (B), kp_scale (J), kd_scale (J), friction (1), delay (1)]``.
Pushes add ``U(±v)`` to the root's horizontal velocity every ``U(interval)`` seconds by
re-setting the world's state.

Torque noise (PBHC's RFI and RAO) reaches the backend as a joint torque bias
(``SimBackend.set_joint_torque_bias``) that the env sets before every policy step:
``bias = U(±1)·torque_noise_scale·s·τ_max + rao``, with ``s ~ U(torque_noise_episode_scale)``
and ``rao ~ U(±torque_offset_scale)·τ_max`` drawn per joint at each episode start and
``τ_max`` the joint's effort limit. The backend clips the *total* joint torque (PD plus
bias) to the effort limit, as PBHC does. Deliberate simplification: the RFI sample is
drawn once per policy step and held for its ``decimation`` physics steps, whereas PBHC
draws it every physics step (its torques are computed per physics step). The RFI scale and
the RAO offsets are not part of :meth:`DomainRandomizer.params_vector`.
"""

from __future__ import annotations

import torch
from torch import Tensor

from humimic.config.train import RandomizationCfg
from humimic.sim.backend import SimBackend


def delay_steps(cfg: RandomizationCfg, control_dt: float) -> tuple[int, int]:
    """The action delay range in whole policy steps of ``control_dt`` seconds.

    ``control_delay_steps`` when set; otherwise ``control_delay_s`` rounded to the nearest
    step (0-40 ms: 0-2 steps at 50 Hz, 0-1 at 25 Hz).
    """
    if cfg.control_delay_steps is not None:
        low, high = cfg.control_delay_steps
        return int(low), int(high)
    low_s, high_s = cfg.control_delay_s
    return round(low_s / control_dt), round(high_s / control_dt)


class DomainRandomizer:
    """Per-world parameter draws and the action delay line."""

    def __init__(
        self,
        cfg: RandomizationCfg,
        backend: SimBackend,
        num_bodies: int,
        num_joints: int,
        control_dt: float,
        generator: torch.Generator,
        effort_limits: Tensor | None = None,
    ) -> None:
        """Nominal parameters everywhere; delay 0; no torque noise; first push times drawn.

        Args:
            effort_limits: Shape (J,) N·m, the τ_max of the torque noise; ``None`` turns
                torque noise off.
        """
        self.cfg, self.backend, self.gen = cfg, backend, generator
        n, dev = backend.num_worlds, backend.device
        self.device = dev
        self.dt = control_dt
        self.com = torch.zeros(n, 3, device=dev)
        self.mass = torch.ones(n, num_bodies, device=dev)
        self.kp = torch.ones(n, num_joints, device=dev)
        self.kd = torch.ones(n, num_joints, device=dev)
        self.friction = torch.ones(n, 1, device=dev)
        self.delay = torch.zeros(n, dtype=torch.long, device=dev)
        self.delay_steps = delay_steps(cfg, control_dt)
        max_delay = self.delay_steps[1]
        self.action_buffer = torch.zeros(n, max_delay + 1, num_joints, device=dev)
        self._rows = torch.arange(n, device=dev)
        self._com_half = torch.tensor(cfg.com_offset_m, device=dev)
        self.next_push_s = self._push_interval(n)
        self.pushes = 0
        if effort_limits is None:
            self.effort = torch.zeros(num_joints, device=dev)
        else:
            self.effort = effort_limits.float().to(dev)
        self._any_effort = bool((self.effort > 0).any())  # read once, not per step
        self.rfi_scale = torch.zeros(n, num_joints, device=dev)
        """Per-episode RFI scale s per joint, (N, J); 0 while not randomised."""
        self.rao = torch.zeros(n, num_joints, device=dev)
        """Per-episode actuation offset per joint, (N, J) N·m."""
        self.rfi = torch.zeros(n, num_joints, device=dev)
        """RFI sample of the last :meth:`torque_bias` call, (N, J) N·m."""

    def params_vector(self) -> Tensor:
        """Privileged DR parameters, (N, 3 + B + 2J + 2)."""
        return torch.cat(
            (self.com, self.mass, self.kp, self.kd, self.friction, self.delay[:, None].float()),
            dim=1,
        )

    @property
    def torque_noise_active(self) -> bool:
        """Whether :meth:`torque_bias` can be non-zero (the env then sets it every step)."""
        c = self.cfg
        scales = c.torque_noise_scale > 0 or c.torque_offset_scale > 0
        return c.enabled and scales and self._any_effort

    def torque_bias(self) -> Tensor:
        """Draw a fresh RFI sample and return RFI + RAO, (N, J) N·m.

        Called once per policy step; the backend holds the value over the ``decimation``
        physics steps (see the module docstring).
        """
        scale = self.cfg.torque_noise_scale
        if scale > 0:
            u = 2 * torch.rand(self.rfi.shape, generator=self.gen, device=self.device) - 1
            self.rfi = u * scale * self.rfi_scale * self.effort
        return self.rfi + self.rao

    def _uniform(self, shape: tuple[int, ...], low: float, high: float) -> Tensor:
        return low + (high - low) * torch.rand(shape, generator=self.gen, device=self.device)

    def _push_interval(self, n: int) -> Tensor:
        low, high = self.cfg.push_interval_s
        return self._uniform((n,), low, high)

    def reset(self, env_ids: Tensor, randomize: bool, delay_only: bool = False) -> None:
        """Draw new parameters for ``env_ids`` (or nominal ones) and clear their delay line."""
        m, c = len(env_ids), self.cfg
        self.action_buffer[env_ids] = 0.0
        if randomize or delay_only:
            lo, hi = self.delay_steps
            self.delay[env_ids] = torch.randint(
                lo, hi + 1, (m,), generator=self.gen, device=self.device
            )
        self.rfi_scale[env_ids] = 0.0
        self.rao[env_ids] = 0.0
        self.rfi[env_ids] = 0.0
        if not randomize:
            return
        nb, nj = self.mass.shape[1], self.kp.shape[1]
        self.friction[env_ids] = self._uniform((m, 1), *c.friction)
        self.mass[env_ids] = self._uniform((m, nb), *c.body_mass_scale)
        u = torch.rand((m, 3), generator=self.gen, device=self.device)
        self.com[env_ids] = (2 * u - 1) * self._com_half
        self.kp[env_ids] = self._uniform((m, nj), *c.kp_scale)
        self.kd[env_ids] = self._uniform((m, nj), *c.kd_scale)
        self._draw_torque_noise(env_ids)
        self.backend.set_params(
            env_ids,
            friction=self.friction[env_ids, 0],
            body_mass_scale=self.mass[env_ids],
            com_offset_b=self.com[env_ids],
            kp_scale=self.kp[env_ids],
            kd_scale=self.kd[env_ids],
        )

    def _draw_torque_noise(self, env_ids: Tensor) -> None:
        """Per-episode RFI scale and RAO offset of ``env_ids`` (draws skipped at scale 0)."""
        c, m, nj = self.cfg, len(env_ids), self.rao.shape[1]
        if c.torque_noise_scale > 0:
            self.rfi_scale[env_ids] = self._uniform((m, nj), *c.torque_noise_episode_scale)
        if c.torque_offset_scale > 0:
            u = 2 * torch.rand((m, nj), generator=self.gen, device=self.device) - 1
            self.rao[env_ids] = u * c.torque_offset_scale * self.effort

    def delayed(self, actions: Tensor) -> Tensor:
        """Push ``actions`` (N, J) into the delay line; return each world's delayed action."""
        self.action_buffer = torch.roll(self.action_buffer, 1, dims=1)
        self.action_buffer[:, 0] = actions
        if self.action_buffer.shape[1] == 1:
            return actions
        return self.action_buffer[self._rows, self.delay]

    def maybe_push(self, episode_s: Tensor) -> None:
        """Add a random horizontal root velocity to worlds whose push time has come."""
        if not self.cfg.pushes:
            return
        due = torch.nonzero(episode_s >= self.next_push_s).flatten()
        if due.numel() == 0:
            return
        s = self.backend.state()
        v = self.cfg.push_velocity_mps
        lin = s.root_lin_vel_w[due].clone()
        u = torch.rand((len(due), 2), generator=self.gen, device=self.device)
        lin[:, :2] += (2 * u - 1) * v
        self.backend.reset(
            due,
            root_pos_w=s.root_pos_w[due].clone(),
            root_quat_w=s.root_quat_w[due].clone(),
            root_lin_vel_w=lin,
            root_ang_vel_w=s.root_ang_vel_w[due].clone(),
            joint_pos=s.joint_pos[due].clone(),
            joint_vel=s.joint_vel[due].clone(),
        )
        self.next_push_s[due] = episode_s[due] + self._push_interval(len(due))
        self.pushes += int(due.numel())

    def reset_push_timer(self, env_ids: Tensor) -> None:
        """Restart the push clock of new episodes."""
        self.next_push_s[env_ids] = self._push_interval(len(env_ids))
