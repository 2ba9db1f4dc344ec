"""MuJoCo Warp backend: all worlds in one batched ``mujoco_warp`` Data, on a CUDA GPU or on
Warp's CPU device (correct but slow; used to test this code path without a GPU).

State is shared with torch through ``wp.to_torch`` views (no copies on either device);
joint targets are written into ``ctrl`` through such a view. Every field of
:class:`~humimic.sim.params.WorldParams` is per world: the model is created with those
fields batched (``put_model(..., batch_sizes=...)``) and randomisation writes into them.
The joint torque bias goes into the data's ``qfrc_applied`` and shifts the batched
``actuator_forcerange`` (same semantics as the C backend, see
:meth:`MujocoWarpBackend.set_joint_torque_bias`).
On CUDA the ``decimation`` physics steps plus the state refresh are captured once per
decimation value as a CUDA graph.

The first use compiles Warp kernels (about 30 s on a CPU); they are cached in
``~/.cache/warp``. Needs the ``gpu`` extra (``mujoco-warp``, ``warp-lang``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import mujoco
import numpy as np
import torch
from torch import Tensor

from humimic.errors import ConfigError
from humimic.geometry import quat_torch
from humimic.robot.spec import RobotSpec
from humimic.sim.backend import SimState, default_reset_state
from humimic.sim.layout import ModelLayout, RawArrays, StateAssembler
from humimic.sim.params import FIELDS, WorldParams

_RAW_FIELDS = ("qpos", "qvel", "xpos", "xquat", "cvel", "subtree_com", "cfrc_ext")


def _import_warp() -> tuple[Any, Any]:
    try:
        import mujoco_warp
        import warp
    except ImportError as err:
        raise ConfigError(
            f"sim backend mujoco_warp needs the 'gpu' extra (pip install 'humimic[gpu]'): {err}"
        ) from None
    return warp, mujoco_warp


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
        njmax: int | None = 256,
        cuda_graph: bool = True,
        auto_reset_nan: bool = True,
    ) -> None:
        """Upload the model and ``num_worlds`` worlds, all reset to the default pose.

        Args:
            model: Compiled scene (not modified).
            spec: Robot variant spec.
            num_worlds: Number N of worlds (>= 1).
            body_names: Bodies reported in the ``body_*`` state fields.
            device: ``"cpu"`` (Warp's CPU device) or ``"cuda[:k]"``.
            nconmax: Contacts allocated *per world*; ``None`` takes MuJoCo Warp's estimate.
            njmax: Constraint rows allocated per world (256 covers ~48 pyramidal contacts
                plus joint limits); ``None`` takes MuJoCo Warp's estimate.
            cuda_graph: Capture the stepping as a CUDA graph (CUDA devices only).
            auto_reset_nan: Reset diverged worlds to the default pose inside :meth:`step`.

        Raises:
            ConfigError: Missing extra, bad device, counts or names.
        """
        wp, mjw = _import_warp()
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
        self._use_graph = cuda_graph and self._wp_device.is_cuda
        self._graphs: dict[int, Any] = {}
        self._params = WorldParams(model, self.layout, num_worlds)
        self._upload(model, nconmax, njmax)
        self._state = SimState.zeros(
            num_worlds, len(spec.joint_names), len(body_names), self.device
        )
        self._assembler = StateAssembler(self.layout, self.device)
        self._nan = torch.zeros(num_worlds, dtype=torch.bool, device=self.device)
        self._bias = torch.zeros(num_worlds, len(spec.joint_names), device=self.device)
        all_ids = torch.arange(num_worlds, device=self.device)
        self.reset(all_ids, **default_reset_state(spec, num_worlds, self.device))

    def _upload(self, model: mujoco.MjModel, nconmax: int | None, njmax: int | None) -> None:
        """Put model and data on the device and create the torch views."""
        data = mujoco.MjData(model)
        lay = self.layout
        data.qpos[lay.root_qpos + 2] = float(self._spec.default_root_height)
        data.qpos[lay.joint_qpos] = self._spec.default_joint_pos
        mujoco.mj_forward(model, data)
        batch = dict.fromkeys(FIELDS, self.num_worlds)
        with self._scope():
            self._m = self._mjw.put_model(model, batch_sizes=batch)
            self._d = self._mjw.put_data(
                model, data, nworld=self.num_worlds, nconmax=nconmax, njmax=njmax
            )
        view = self._wp.to_torch
        self.raw = RawArrays(
            **{f: view(getattr(self._d, f)) for f in _RAW_FIELDS},
            actuator_force=view(self._d.actuator_force),
        )
        self._ctrl = view(self._d.ctrl)
        self._qfrc_applied = view(self._d.qfrc_applied)
        self._overflow = view(self._d.overflow)
        self._model_views = {f: view(getattr(self._m, f)) for f in FIELDS}
        self._idx = {
            name: torch.as_tensor(getattr(lay, name), dtype=torch.long, device=self.device)
            for name in ("joint_qpos", "joint_dof", "actuator")
        }
        # Nominal force range as stored on the device (float32), (J, 2).
        self._force_range0 = self._model_views["actuator_forcerange"][0, self._idx["actuator"]]
        self._force_range0 = self._force_range0.clone()

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
        """Hold position targets (N, J) for ``decimation`` physics steps in every world."""
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
            if self._use_graph:
                self._launch_graph(decimation)
            else:
                self._physics(decimation)
        self._nan = self._fill() | (self._overflow != 0)
        if self._auto_reset and bool(self._nan.any()):
            ids = torch.nonzero(self._nan).flatten()
            self._reset(ids, **default_reset_state(self._spec, int(ids.numel()), self.device))

    def _physics(self, decimation: int) -> None:
        mjw, m, d = self._mjw, self._m, self._d
        for _ in range(decimation):
            mjw.step(m, d)
        # Contact forces of the step just taken; then kinematics at the new qpos.
        mjw.rne_postconstraint(m, d)
        self._refresh_kinematics()

    def _refresh_kinematics(self) -> None:
        mjw, m, d = self._mjw, self._m, self._d
        mjw.kinematics(m, d)
        mjw.com_pos(m, d)
        mjw.com_vel(m, d)

    def _launch_graph(self, decimation: int) -> None:
        graph = self._graphs.get(decimation)
        if graph is None:
            with self._wp.ScopedCapture() as capture:
                self._physics(decimation)
            graph = self._graphs[decimation] = capture.graph
        self._wp.capture_launch(graph)

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
        ids = self._reset(
            world_ids, root_pos_w, root_quat_w, root_lin_vel_w, root_ang_vel_w, joint_pos, joint_vel
        )
        self._nan.index_fill_(0, ids, False)

    def _reset(
        self,
        world_ids: Tensor,
        root_pos_w: Tensor,
        root_quat_w: Tensor,
        root_lin_vel_w: Tensor,
        root_ang_vel_w: Tensor,
        joint_pos: Tensor,
        joint_vel: Tensor,
    ) -> Tensor:
        values = (root_pos_w, root_quat_w, root_lin_vel_w, root_ang_vel_w, joint_pos, joint_vel)
        ids = self._world_ids(world_ids)
        pos, quat, lin, ang_w, jpos, jvel = self._reset_tensors(int(ids.numel()), values)
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
        return ids

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
            ConfigError: Wrong shape or non-finite values.
        """
        shape = (self.num_worlds, len(self.layout.actuator))
        if tuple(bias.shape) != shape:
            raise ConfigError(
                f"sim: joint torque bias must have shape {shape}, got {tuple(bias.shape)}"
            )
        value = bias.detach().to(self.device, torch.float32)
        if not bool(torch.isfinite(value).all()):
            raise ConfigError("sim: joint torque bias must be finite")
        self._write_bias(torch.arange(self.num_worlds, device=self.device), value)

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
        batched per world on this backend. Takes effect from the next step."""
        ids = self._world_ids(world_ids).cpu().numpy()
        args = [friction, body_mass_scale, com_offset_b, kp_scale, kd_scale]
        args = [None if a is None else torch.as_tensor(a).double().cpu().numpy() for a in args]
        for field in self._params.apply(ids, *args):
            values = torch.from_numpy(self._params.values[field])
            self._model_views[field].copy_(values.reshape(self._model_views[field].shape))

    def close(self) -> None:
        """Drop graphs and device arrays."""
        self._graphs.clear()
        self._m = self._d = None

    def __enter__(self) -> MujocoWarpBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _world_ids(self, world_ids: Tensor | np.ndarray) -> Tensor:
        ids = torch.as_tensor(world_ids, device=self.device).long().flatten()
        if torch.as_tensor(world_ids).ndim != 1 or (
            ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= self.num_worlds)
        ):
            raise ConfigError(
                f"sim: world_ids must be a 1-D array of ids in [0, {self.num_worlds})"
            )
        return ids

    def _reset_tensors(self, m: int, values: tuple[Tensor, ...]) -> list[Tensor]:
        joints = len(self.layout.actuator)
        names = (
            "root_pos_w",
            "root_quat_w",
            "root_lin_vel_w",
            "root_ang_vel_w",
            "joint_pos",
            "joint_vel",
        )
        shapes = ((m, 3), (m, 4), (m, 3), (m, 3), (m, joints), (m, joints))
        tensors = [torch.as_tensor(v).to(self.device, torch.float32) for v in values]
        for name, shape, tensor in zip(names, shapes, tensors):
            if tuple(tensor.shape) != shape:
                raise ConfigError(
                    f"sim reset: {name} must have shape {shape}, got {tuple(tensor.shape)}"
                )
        return tensors
