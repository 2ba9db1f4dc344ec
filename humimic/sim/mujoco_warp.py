"""MuJoCo Warp backend: all worlds in one batched ``mujoco_warp`` Data, on a CUDA GPU or on
Warp's CPU device (correct but slow; used to test this code path without a GPU).

State is shared with torch through ``wp.to_torch`` views (no copies on either device);
joint targets are written into ``ctrl`` through such a view. Every field of
:class:`~humimic.sim.params.WorldParams` is per world: the model is created with those
fields batched (``put_model(..., batch_sizes=...)``) and randomisation writes the rows of
the randomised worlds into them in place, so a captured graph stays valid.
The joint torque bias goes into the data's ``qfrc_applied`` and shifts the batched
``actuator_forcerange`` (same semantics as the C backend, see
:meth:`MujocoWarpBackend.set_joint_torque_bias`).

One :meth:`MujocoWarpBackend.step` is: targets into ``ctrl`` (torch), then in Warp the
``decimation`` physics steps, the contact forces of the last one, a divergence check per
world (non-finite or absurd ``qpos``/``qvel``, or a contact/constraint buffer overflow),
a reset of the diverged worlds to the default pose (``reset_data`` with a world mask), and
the kinematics at the new state; then one torch pass assembles the state. On CUDA the
Warp part is captured once per decimation value as a CUDA graph and replayed (on a side
stream, event-ordered with torch's stream); nothing in a step waits for the GPU. Buffer
overflows are also accumulated and read back every ``overflow_check_every`` steps, which
raises :class:`~humimic.errors.ConfigError` naming the buffer (``nconmax``/``njmax``).

Contact buffers are sized from the model (:mod:`humimic.sim.warp_capacity`); graph capture
and replay is :mod:`humimic.sim.warp_graph`, the extra kernels :mod:`humimic.sim.warp_kernels`.

The first use compiles Warp kernels (about 30 s on a CPU); they are cached in
``~/.cache/warp`` (or ``$WARP_CACHE_PATH``). Needs the ``gpu`` extra (``mujoco-warp``,
``warp-lang``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import mujoco
import torch
from torch import Tensor

from humimic.errors import ConfigError
from humimic.geometry import quat_torch
from humimic.robot.spec import RobotSpec
from humimic.sim.backend import SimState, default_reset_state
from humimic.sim.layout import DIVERGED_ABS, ModelLayout, RawArrays, StateAssembler
from humimic.sim.params import FIELDS, WorldParams, check_assist
from humimic.sim.warp_capacity import contact_capacity, overflow_bits, overflowed_buffers
from humimic.sim.warp_graph import StepGraphs
from humimic.sim.warp_inputs import device_world_ids, reset_tensors
from humimic.sim.warp_kernels import import_warp, kernels

_RAW_FIELDS = ("qpos", "qvel", "xpos", "xquat", "cvel", "subtree_com", "cfrc_ext")


class MujocoWarpBackend:
    """N worlds in one MuJoCo Warp batch; see the module docstring."""

    def __init__(
        self,
        model: mujoco.MjModel,
        spec: RobotSpec,
        num_worlds: int,
        body_names: list[str],
        device: str = "cpu",
        nconmax: int | None = None,
        njmax: int | None = None,
        cuda_graph: bool = True,
        auto_reset_nan: bool = True,
        overflow_check_every: int | None = None,
    ) -> None:
        """Upload the model and ``num_worlds`` worlds, all reset to the default pose.

        Args:
            model: Compiled scene (not modified).
            spec: Robot variant spec.
            num_worlds: Number N of worlds (>= 1).
            body_names: Bodies reported in the ``body_*`` state fields.
            device: ``"cpu"`` (Warp's CPU device) or ``"cuda[:k]"``.
            nconmax: Contacts allocated per world (all worlds share ``N·nconmax``);
                ``None``: :func:`contact_capacity`.
            njmax: Constraint rows allocated per world (no world may exceed it);
                ``None``: :func:`contact_capacity`.
            cuda_graph: Capture the stepping as a CUDA graph (CUDA devices only).
            auto_reset_nan: Reset diverged worlds to the default pose inside :meth:`step`.
            overflow_check_every: Read the overflow flags back every this many steps
                (``None``: every step on the CPU, every 50 on CUDA).

        Raises:
            ConfigError: Missing extra, bad device, counts or names.
        """
        wp, mjw = import_warp()
        if num_worlds < 1:
            raise ConfigError(f"sim: num_worlds must be >= 1, got {num_worlds}")
        try:
            self._wp_device = wp.get_device(device)
        except (ValueError, RuntimeError) as err:
            raise ConfigError(f"sim backend mujoco_warp: device {device!r}: {err}") from None
        self._wp, self._mjw = wp, mjw
        self.num_worlds = num_worlds
        self.device = torch.device(wp.device_to_torch(self._wp_device))
        self.physics_dt = float(model.opt.timestep)
        self.layout = ModelLayout.from_model(
            model, list(spec.joint_names), list(body_names), spec.foot_geoms
        )
        self._spec = spec
        self._auto_reset = auto_reset_nan
        self.cuda_graph = cuda_graph
        """Replay the Warp part of a step as a CUDA graph (on CUDA; may be switched)."""
        self._graphs = StepGraphs(wp, self._wp_device, self._physics)
        self._graph_on_cpu = False  # tests: replay Warp's CPU graphs through the same path
        self._params = WorldParams(model, self.layout, num_worlds)
        capacity = contact_capacity(model)
        self.nconmax = capacity[0] if nconmax is None else int(nconmax)
        self.njmax = capacity[1] if njmax is None else int(njmax)
        self._check_every = overflow_check_every or (50 if self._wp_device.is_cuda else 1)
        self._steps = 0
        self._upload(model)
        self._assist_scale = 1.0  # the compiled gains
        if self.layout.assist.size:  # no assist force until the env sets one
            self._scale_assist(0.0)
        self._state = SimState.zeros(
            num_worlds, len(spec.joint_names), len(body_names), self.device
        )
        self._assembler = StateAssembler(self.layout, self.device)
        self._bad = torch.zeros(num_worlds, dtype=torch.bool, device=self.device)
        self._seen = torch.zeros(1, dtype=torch.int32, device=self.device)
        self._bad_wp, self._seen_wp = wp.from_torch(self._bad), wp.from_torch(self._seen)
        self._nan = torch.zeros(num_worlds, dtype=torch.bool, device=self.device)
        self._bias = torch.zeros(num_worlds, len(spec.joint_names), device=self.device)
        all_ids = torch.arange(num_worlds, device=self.device)
        self.reset(all_ids, **default_reset_state(spec, num_worlds, self.device))
        # The default pose as one qpos row: what a diverged world is reset to.
        self._qpos_default = self.raw.qpos[0].clone()
        self._qpos_default_wp = wp.from_torch(self._qpos_default)

    def _upload(self, model: mujoco.MjModel) -> None:
        """Put model and data on the device and create the torch views."""
        data = mujoco.MjData(model)
        lay = self.layout
        data.qpos[lay.root_qpos + 2] = float(self._spec.default_root_height)
        data.qpos[lay.joint_qpos] = self._spec.default_joint_pos
        mujoco.mj_forward(model, data)
        batch = dict.fromkeys(FIELDS, self.num_worlds)
        with self._scope():
            self._m = self._mjw.put_model(model, batch_sizes=batch)
            try:
                self._d = self._mjw.put_data(
                    model, data, nworld=self.num_worlds, nconmax=self.nconmax, njmax=self.njmax
                )
            except ValueError as err:  # the default pose itself does not fit
                raise ConfigError(f"sim backend mujoco_warp: {err}") from None
        view = self._wp.to_torch
        self.raw = RawArrays(
            **{f: view(getattr(self._d, f)) for f in _RAW_FIELDS},
            actuator_force=view(self._d.actuator_force),
        )
        self._ctrl = view(self._d.ctrl)
        self._qfrc_applied = view(self._d.qfrc_applied)
        self._model_views = {f: view(getattr(self._m, f)) for f in FIELDS}
        self._idx = {
            name: torch.as_tensor(getattr(lay, name), dtype=torch.long, device=self.device)
            for name in ("joint_qpos", "joint_dof", "actuator", "assist")
        }
        # Nominal force range as stored on the device (float32), (J, 2).
        self._force_range0 = self._model_views["actuator_forcerange"][0, self._idx["actuator"]]
        self._force_range0 = self._force_range0.clone()
        self._overflow_bits = overflow_bits(self._mjw.OverflowType)

    @contextlib.contextmanager
    def _scope(self) -> Iterator[None]:
        """Warp device scope; on CUDA also Warp on torch's current stream (ordering)."""
        wp = self._wp
        with wp.ScopedDevice(self._wp_device):
            if self._wp_device.is_cuda:
                stream = wp.stream_from_torch(torch.cuda.current_stream(self.device))
                with wp.ScopedStream(stream):
                    yield
            else:
                yield

    # ------------------------------------------------------------------ stepping
    def step(self, joint_pos_target: Tensor, decimation: int) -> None:
        """Hold position targets (N, J) for ``decimation`` physics steps in every world.

        Raises:
            ConfigError: Bad shape or decimation; a contact/constraint buffer overflowed
                (checked every ``overflow_check_every`` steps).
        """
        if decimation < 1:
            raise ConfigError(f"sim: decimation must be >= 1, got {decimation}")
        shape = (self.num_worlds, len(self.layout.actuator))
        if tuple(joint_pos_target.shape) != shape:
            raise ConfigError(
                f"sim: joint_pos_target must be {shape}, got {tuple(joint_pos_target.shape)}"
            )
        target = joint_pos_target.detach().to(self.device, torch.float32)
        self._ctrl.index_copy_(1, self._idx["actuator"], target)
        with self._scope():
            if self.graph_active:
                self._graphs.launch(decimation)
            else:
                self._physics(decimation)
        if self._auto_reset:
            self._clear_reset_worlds(self._bad)
        self._fill()
        self._nan.copy_(self._bad)
        self._steps += 1
        if self._steps % self._check_every == 0:
            self.check_overflow()

    def _physics(self, decimation: int, capture: bool = False) -> None:
        """Physics steps, contact forces, divergence check and reset, kinematics (Warp only:
        this is what the CUDA graph holds; ``capture``: being recorded into one)."""
        wp, mjw, m, d = self._wp, self._mjw, self._m, self._d
        for _ in range(decimation):
            mjw.step(m, d)
        # Contact forces of the step just taken; then kinematics at the new qpos.
        mjw.rne_postconstraint(m, d)
        diverged, default_state = kernels()
        wp.launch(
            diverged, dim=self.num_worlds,
            inputs=[d.qpos, d.qvel, d.overflow, self._overflow_bits, DIVERGED_ABS],
            outputs=[self._bad_wp, self._seen_wp],
        )  # fmt: skip
        # On CUDA and in a graph always (no read-back); on the CPU the mask is host memory,
        # and skipping reset_data saves its launch overhead in the usual no-NaN step.
        always = capture or self._wp_device.is_cuda
        if self._auto_reset and (always or bool(self._bad.any())):
            mjw.reset_data(m, d, reset=self._bad_wp)
            wp.launch(
                default_state, dim=self.num_worlds,
                inputs=[self._bad_wp, self._qpos_default_wp], outputs=[d.qpos, d.qvel],
            )  # fmt: skip
        self._refresh_kinematics()

    def _clear_reset_worlds(self, mask: Tensor) -> None:
        """What ``reset_data`` leaves in worlds reset in the step: last step's forces, the
        torque bias and its shifted force range (masked writes, no read-back)."""
        rows = mask[:, None]
        self.raw.cfrc_ext.masked_fill_(mask[:, None, None], 0.0)
        self.raw.actuator_force.masked_fill_(rows, 0.0)
        self._bias.masked_fill_(rows, 0.0)
        force_range = self._model_views["actuator_forcerange"]
        act = self._idx["actuator"]
        force_range[:, act] = torch.where(
            mask[:, None, None], self._force_range0, force_range[:, act]
        )

    def _refresh_kinematics(self) -> None:
        mjw, m, d = self._mjw, self._m, self._d
        mjw.kinematics(m, d)
        mjw.com_pos(m, d)
        mjw.com_vel(m, d)

    @property
    def graph_active(self) -> bool:
        """Whether steps replay a CUDA graph (``cuda_graph`` on a CUDA device)."""
        return self.cuda_graph and (self._wp_device.is_cuda or self._graph_on_cpu)

    def check_overflow(self) -> None:
        """Raise if any contact or constraint buffer overflowed since the start (one read
        of the device).

        Raises:
            ConfigError: Names the buffers and the sizes to raise.
        """
        flags = int(self._seen[0])
        if not flags:
            return
        names = overflowed_buffers(self._mjw.OverflowType, flags)
        raise ConfigError(
            f"sim backend mujoco_warp: {', '.join(names)} overflowed with nconmax="
            f"{self.nconmax} contacts and njmax={self.njmax} rows per world "
            f"({self.num_worlds} worlds); pass larger nconmax/njmax backend options"
        )

    def _fill(self) -> Tensor:
        """Assemble the state; the applied torque includes the joint torque bias."""
        nan = self._assembler.fill(self.raw, self._state)
        self._state.applied_torque.add_(self._bias)
        return nan

    def state(self) -> SimState:
        """State after the last step/reset; tensors are refreshed in place."""
        return self._state

    def nan_worlds(self) -> Tensor:
        """Shape (N,) bool: worlds that diverged or overflowed MuJoCo Warp's contact or
        constraint buffers in the last step (their physics is wrong)."""
        return self._nan.clone()

    # ------------------------------------------------------------------ resets and params
    def reset(
        self,
        world_ids: Tensor,
        root_pos_w: Tensor,
        root_quat_w: Tensor,
        root_lin_vel_w: Tensor,
        root_ang_vel_w: Tensor,
        joint_pos: Tensor,
        joint_vel: Tensor,
    ) -> None:
        """Set the state of ``world_ids`` (shapes in :meth:`SimBackend.reset`)."""
        values = (root_pos_w, root_quat_w, root_lin_vel_w, root_ang_vel_w, joint_pos, joint_vel)
        ids = device_world_ids(world_ids, self.num_worlds, self.device)
        joints = len(self.layout.actuator)
        tensors = reset_tensors(int(ids.numel()), joints, values, self.device)
        pos, quat, lin, ang_w, jpos, jvel = tensors
        mask = torch.zeros(self.num_worlds, dtype=torch.bool, device=self.device)
        mask.index_fill_(0, ids, True)
        lay = self.layout
        with self._scope():
            self._mjw.reset_data(self._m, self._d, reset=self._wp.from_torch(mask))
        self._write_bias(ids, torch.zeros(len(ids), self._bias.shape[1], device=self.device))
        qpos = self.raw.qpos.index_select(0, ids)
        qpos[:, lay.root_qpos : lay.root_qpos + 7] = torch.cat((pos, quat), dim=1)
        qpos.index_copy_(1, self._idx["joint_qpos"], jpos)
        qvel = self.raw.qvel.index_select(0, ids)
        # MuJoCo's free joint takes the angular velocity in the body frame.
        ang_b = quat_torch.rotate_inverse(quat, ang_w)
        qvel[:, lay.root_dof : lay.root_dof + 6] = torch.cat((lin, ang_b), dim=1)
        qvel.index_copy_(1, self._idx["joint_dof"], jvel)
        self.raw.qpos.index_copy_(0, ids, qpos)
        self.raw.qvel.index_copy_(0, ids, qvel)
        with self._scope():
            self._refresh_kinematics()
        self.raw.cfrc_ext.index_fill_(0, ids, 0.0)
        self.raw.actuator_force.index_fill_(0, ids, 0.0)
        self._fill()
        self._nan.index_fill_(0, ids, False)

    def set_joint_torque_bias(self, bias: Tensor) -> None:
        """Add a generalized force to every actuated joint of every world (RFI/RAO noise).

        Written to ``qfrc_applied`` at each joint's dof and held for every physics step
        until set again; :meth:`reset` clears it for the reset worlds. Each world's
        actuator force range becomes ``nominal - bias``, so the total joint torque
        (actuator force plus bias) is clipped to the effort limits; the state's
        ``applied_torque`` reports that total.

        Args:
            bias: Shape (N, J) N·m, robot spec joint order.

        Raises:
            ConfigError: Wrong shape or (for a CPU tensor) non-finite values; a device
                tensor is not read back to check it.
        """
        shape = (self.num_worlds, len(self.layout.actuator))
        if tuple(bias.shape) != shape:
            raise ConfigError(
                f"sim: joint torque bias must have shape {shape}, got {tuple(bias.shape)}"
            )
        if bias.device.type == "cpu" and not bool(torch.isfinite(bias).all()):
            raise ConfigError("sim: joint torque bias must be finite")
        value = bias.detach().to(self.device, torch.float32)
        self._bias.copy_(value)
        self._qfrc_applied[:, self._idx["joint_dof"]] = value
        force_range = self._model_views["actuator_forcerange"]
        force_range[:, self._idx["actuator"]] = self._force_range0 - value[..., None]

    def set_assist(self, target: Tensor, scale: float) -> None:
        """Assist servo targets (N, 6) and gain factor (see :meth:`SimBackend.set_assist`).

        Raises:
            ConfigError: No assist servos, a bad shape or scale, or (for a CPU tensor)
                non-finite targets; a device tensor is not read back to check it.
        """
        host = target.detach().numpy() if target.device.type == "cpu" else None
        check_assist(self.layout.assist, tuple(target.shape), self.num_worlds, scale, host)
        self._ctrl[:, self._idx["assist"]] = target.detach().to(self.device, torch.float32)
        if scale != self._assist_scale:
            self._scale_assist(scale)

    def _scale_assist(self, scale: float) -> None:
        """Assist servo gains = ``scale`` x nominal in every world (batched model fields)."""
        gain, bias = self._params.scale_assist(self.layout.assist, scale)
        assist = self._idx["assist"]
        views = self._model_views
        views["actuator_gainprm"][:, assist] = torch.as_tensor(gain, device=self.device).float()
        views["actuator_biasprm"][:, assist] = torch.as_tensor(bias, device=self.device).float()
        self._assist_scale = scale

    def _write_bias(self, ids: Tensor, bias: Tensor) -> None:
        """Bias (M, J) of worlds ``ids`` into qfrc_applied and the shifted force range."""
        self._bias[ids] = bias
        rows = self._qfrc_applied.index_select(0, ids)
        rows.index_copy_(1, self._idx["joint_dof"], bias)
        self._qfrc_applied.index_copy_(0, ids, rows)
        force_range = self._model_views["actuator_forcerange"]
        force_range[ids[:, None], self._idx["actuator"]] = self._force_range0 - bias[..., None]

    def set_params(
        self,
        world_ids: Tensor,
        *,
        friction: Tensor | None = None,
        body_mass_scale: Tensor | None = None,
        com_offset_b: Tensor | None = None,
        kp_scale: Tensor | None = None,
        kd_scale: Tensor | None = None,
    ) -> None:
        """Per-world physical parameters (see :mod:`humimic.sim.params`); all fields are
        batched per world on this backend. Takes effect from the next step.

        The values are computed on the host (float64, from the nominal model) and only
        the rows of ``world_ids`` are written into the device arrays, in place.
        """
        ids_t = device_world_ids(world_ids, self.num_worlds, self.device)
        ids = ids_t.cpu().numpy()
        given = (friction, body_mass_scale, com_offset_b, kp_scale, kd_scale)
        args = [None if a is None else torch.as_tensor(a).double().cpu().numpy() for a in given]
        for field in self._params.apply(ids, *args):
            target = self._model_views[field]
            rows = torch.from_numpy(self._params.values[field][ids])
            target[ids_t] = rows.reshape(len(ids), *target.shape[1:]).to(self.device, target.dtype)

    def close(self) -> None:
        """Drop graphs and device arrays."""
        self._graphs.clear()
        self._m = self._d = None

    def __enter__(self) -> MujocoWarpBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
