"""C MuJoCo backend: N compact world states, a persistent thread pool over CPU cores.

Each thread owns a contiguous slice of worlds, a private MjModel copy and one scratch
MjData. A world lives between steps as a row of ``mjSTATE_FULLPHYSICS | mjSTATE_WARMSTART |
mjSTATE_CTRL | mjSTATE_QFRC_APPLIED`` (time, qpos, qvel, act, solver warm start, ctrl, applied
generalized forces: everything the next step depends on; targets and joint torque biases
are written into all rows at once), so stepping it is ``mj_setState``,
``mj_step(m, d, nstep=decimation)``, ``mj_getState`` on the thread's scratch data, which
stays in cache; the result is bit-identical to keeping one MjData per world. MuJoCo
releases the GIL inside ``mj_step``, so threads run in parallel.
After the physics steps each world is refreshed in C (contact forces per body with
``mj_rnePostConstraint``, then kinematics and body velocities at the *new* ``qpos``), its
raw arrays are copied into shared float64 buffers, and one vectorised torch pass
(:class:`~humimic.sim.layout.StateAssembler`) builds the float32 state.

Per-world parameters (:class:`~humimic.sim.params.WorldParams`) are all of
``geom_friction``, ``body_mass``, ``body_inertia``, ``body_ipos``, ``body_subtreemass``,
``actuator_gainprm``, ``actuator_biasprm`` and ``actuator_forcerange`` (shifted by the joint
torque bias, see :meth:`MujocoCpuBackend.set_joint_torque_bias`). Once any world is
randomised, a thread loads a world's rows into its model copy before stepping that world
(a few microseconds), which keeps memory at one model per thread instead of one per world.

``mujoco.rollout.Rollout`` was measured as an alternative (``tools/bench_sim.py``): its C
thread pool, free of the GIL, steps *bare* physics faster, but it returns only states
(no body poses, velocities or the last step's contact forces). Recovering those would
take another ``mj_forward`` per world, about as costly as a physics step, so this pool is
used.
"""

from __future__ import annotations

import copy
import os
from concurrent import futures

import mujoco
import numpy as np
import torch
from torch import Tensor

from humimic.errors import ConfigError
from humimic.geometry import quat_torch
from humimic.robot.spec import RobotSpec
from humimic.sim.backend import RESET_NAMES, SimState, default_reset_state
from humimic.sim.layout import ModelLayout, RawArrays, StateAssembler
from humimic.sim.params import FIELDS, WorldParams, check_assist

_GATHERED = ("xpos", "xquat", "cvel", "subtree_com", "cfrc_ext", "actuator_force")
"""MjData arrays copied out per world; qpos and qvel are read from the state rows."""
_STATE = (
    mujoco.mjtState.mjSTATE_FULLPHYSICS
    | mujoco.mjtState.mjSTATE_WARMSTART
    | mujoco.mjtState.mjSTATE_CTRL
    | mujoco.mjtState.mjSTATE_QFRC_APPLIED
)
"""What a world keeps between steps: time, qpos, qvel, act, warm start, ctrl, applied
generalized forces (the joint torque bias), plugin state."""


class MujocoCpuBackend:
    """N worlds of C MuJoCo stepped by a thread pool; see the module docstring."""

    def __init__(
        self,
        model: mujoco.MjModel,
        spec: RobotSpec,
        num_worlds: int,
        body_names: list[str],
        device: str = "cpu",
        num_threads: int | None = None,
        auto_reset_nan: bool = True,
    ) -> None:
        """Create ``num_worlds`` worlds, all reset to the spec's default pose.

        Args:
            model: Compiled scene; copied, the caller's model is not modified.
            spec: Robot variant spec.
            num_worlds: Number N of worlds (>= 1).
            body_names: Bodies reported in the ``body_*`` state fields.
            device: Must be ``"cpu"``.
            num_threads: Worker threads; default one per usable CPU core.
            auto_reset_nan: Reset diverged worlds to the default pose inside :meth:`step`.

        Raises:
            ConfigError: Bad device, counts or names.
        """
        if torch.device(device).type != "cpu":
            raise ConfigError(f"sim backend mujoco runs on the CPU only, got device {device!r}")
        if num_worlds < 1:
            raise ConfigError(f"sim: num_worlds must be >= 1, got {num_worlds}")
        threads = num_threads if num_threads is not None else len(os.sched_getaffinity(0))
        if threads < 1:
            raise ConfigError(f"sim: num_threads must be >= 1, got {threads}")
        self.num_worlds = num_worlds
        self.device = torch.device("cpu")
        self.physics_dt = float(model.opt.timestep)
        self.layout = ModelLayout.from_model(
            model, list(spec.joint_names), list(body_names), spec.foot_geoms
        )
        self._spec = spec
        self._auto_reset = auto_reset_nan
        threads = min(threads, num_worlds)
        self._models = [copy.deepcopy(model) for _ in range(threads)]
        for m in self._models:
            # A diverged world must stay diverged so that it is detected, not silently
            # restarted by MuJoCo at qpos0.
            m.opt.disableflags |= mujoco.mjtDisableBit.mjDSBL_AUTORESET
        self._model_views = [{f: getattr(m, f) for f in FIELDS} for m in self._models]
        self._params = WorldParams(model, self.layout, num_worlds)
        self._scratch = [mujoco.MjData(m) for m in self._models]
        self._world_state = np.zeros((num_worlds, mujoco.mj_stateSize(model, _STATE)))
        self._slices = [s for s in np.array_split(np.arange(num_worlds), threads) if s.size]
        self._pool = futures.ThreadPoolExecutor(threads, "humimic-sim") if threads > 1 else None
        self._init_buffers()
        self._assist_scale = 1.0  # the compiled gains
        if self.layout.assist.size:  # no assist force until the env sets one
            self._scale_assist(0.0)
        self._state = SimState.zeros(num_worlds, len(spec.joint_names), len(body_names), "cpu")
        self._assembler = StateAssembler(self.layout, self.device)
        self._nan = torch.zeros(num_worlds, dtype=torch.bool)
        self._bias = torch.zeros(num_worlds, len(spec.joint_names))
        all_ids = torch.arange(num_worlds)
        self.reset(all_ids, **default_reset_state(spec, num_worlds, self.device))

    def _init_buffers(self) -> None:
        """Shared float64 buffers (numpy + torch views) and per-thread/per-world rows."""
        n, d0, m0 = self.num_worlds, self._scratch[0], self._models[0]
        gathered = {f: np.zeros((n, *getattr(d0, f).shape)) for f in _GATHERED}
        qpos = _state_columns(m0, mujoco.mjtState.mjSTATE_QPOS, m0.nq)
        qvel = _state_columns(m0, mujoco.mjtState.mjSTATE_QVEL, m0.nv)
        ctrl = _state_columns(m0, mujoco.mjtState.mjSTATE_CTRL, m0.nu)
        self._ctrl_columns = np.arange(ctrl.start, ctrl.stop)[self.layout.actuator]
        qfrc = _state_columns(m0, mujoco.mjtState.mjSTATE_QFRC_APPLIED, m0.nv)
        self._bias_columns = np.arange(qfrc.start, qfrc.stop)[self.layout.joint_dof]
        self._assist_columns = np.arange(ctrl.start, ctrl.stop)[self.layout.assist]
        self.raw = RawArrays(
            qpos=torch.from_numpy(self._world_state[:, qpos]),
            qvel=torch.from_numpy(self._world_state[:, qvel]),
            **{f: torch.from_numpy(a) for f, a in gathered.items()},
        )
        """Raw MuJoCo arrays of every world after the last step/reset, float64, (N, ...)."""
        self._raw_rows = [[gathered[f][i] for f in _GATHERED] for i in range(n)]
        self._scratch_views = [[getattr(d, f) for f in _GATHERED] for d in self._scratch]

    # ------------------------------------------------------------------ stepping
    def step(self, joint_pos_target: Tensor, decimation: int) -> None:
        """Hold position targets (N, J) for ``decimation`` physics steps in every world."""
        if decimation < 1:
            raise ConfigError(f"sim: decimation must be >= 1, got {decimation}")
        target = joint_pos_target.detach().to("cpu", torch.float64).numpy()
        shape = (self.num_worlds, self._ctrl_columns.size)
        if target.shape != shape:
            raise ConfigError(f"sim: joint_pos_target must be {shape}, got {target.shape}")
        self._world_state[:, self._ctrl_columns] = target
        threads = range(len(self._slices))
        if self._pool is None:  # one thread, or after close()
            for thread in threads:
                self._step_slice(thread, decimation)
        else:
            jobs = [self._pool.submit(self._step_slice, t, decimation) for t in threads]
            futures.wait(jobs)
            for job in jobs:
                job.result()  # re-raise a worker's error
        self._nan = self._fill()
        if self._auto_reset and bool(self._nan.any()):
            ids = torch.nonzero(self._nan).flatten()
            self._reset(ids, **default_reset_state(self._spec, int(ids.numel()), self.device))

    def _step_slice(self, thread: int, decimation: int) -> None:
        """Worker: step, refresh and gather the worlds of one slice (GIL released in C)."""
        m, d = self._models[thread], self._scratch[thread]
        randomised = self._params.changed
        for i in self._slices[thread]:
            if randomised:
                self._load_params(thread, i)
            mujoco.mj_setState(m, d, self._world_state[i], _STATE)  # incl. ctrl
            mujoco.mj_step(m, d, decimation)
            mujoco.mj_getState(m, d, self._world_state[i], _STATE)
            # Contact forces of the step just taken; then kinematics at the new qpos.
            mujoco.mj_rnePostConstraint(m, d)
            _refresh_kinematics(m, d)
            self._gather(thread, i)

    def _load_params(self, thread: int, world: int) -> None:
        views, values = self._model_views[thread], self._params.values
        for name in self._params.changed:
            np.copyto(views[name], values[name][world])

    def _gather(self, thread: int, world: int) -> None:
        for dst, src in zip(self._raw_rows[world], self._scratch_views[thread]):
            np.copyto(dst, src)

    def _fill(self) -> Tensor:
        """Assemble the state; the applied torque includes the joint torque bias."""
        nan = self._assembler.fill(self.raw, self._state)
        self._state.applied_torque.add_(self._bias)
        return nan

    def state(self) -> SimState:
        """State after the last step/reset; tensors are refreshed in place."""
        return self._state

    def nan_worlds(self) -> Tensor:
        """Shape (N,) bool, worlds that diverged in the last step (see SimBackend)."""
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
        self._nan[ids] = False

    def _reset(
        self,
        world_ids: Tensor,
        root_pos_w: Tensor,
        root_quat_w: Tensor,
        root_lin_vel_w: Tensor,
        root_ang_vel_w: Tensor,
        joint_pos: Tensor,
        joint_vel: Tensor,
    ) -> np.ndarray:
        values = (root_pos_w, root_quat_w, root_lin_vel_w, root_ang_vel_w, joint_pos, joint_vel)
        ids = _world_ids(world_ids, self.num_worlds)
        pos, quat, lin, ang_w, jpos, jvel = _reset_arrays(
            ids.size, len(self.layout.actuator), values
        )
        # MuJoCo's free joint takes the angular velocity in the body frame.
        ang_b = quat_torch.rotate_inverse(torch.from_numpy(quat), torch.from_numpy(ang_w)).numpy()
        self._clear_bias(ids)
        lay, m, d = self.layout, self._models[0], self._scratch[0]
        for k, i in enumerate(ids):
            if self._params.changed:
                self._load_params(0, i)
            mujoco.mj_resetData(m, d)
            d.qpos[lay.root_qpos : lay.root_qpos + 7] = np.concatenate((pos[k], quat[k]))
            d.qvel[lay.root_dof : lay.root_dof + 6] = np.concatenate((lin[k], ang_b[k]))
            d.qpos[lay.joint_qpos] = jpos[k]
            d.qvel[lay.joint_dof] = jvel[k]
            mujoco.mj_getState(m, d, self._world_state[i], _STATE)  # qfrc_applied = 0
            _refresh_kinematics(m, d)
            self._gather(0, i)
        self._fill()
        return ids

    def _clear_bias(self, ids: np.ndarray) -> None:
        self._bias[torch.from_numpy(ids)] = 0.0
        if "actuator_forcerange" in self._params.changed:
            self._params.shift_force_range(ids, np.zeros((ids.size, self._bias.shape[1])))

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
        per world on this backend. Takes effect from the next step."""
        ids = _world_ids(world_ids, self.num_worlds)
        args = [friction, body_mass_scale, com_offset_b, kp_scale, kd_scale]
        self._params.apply(ids, *[None if a is None else _numpy(a) for a in args])

    def set_joint_torque_bias(self, bias: Tensor) -> None:
        """Add a generalized force to every actuated joint of every world (RFI/RAO noise).

        The bias is written to ``qfrc_applied`` at each joint's dof and held for every
        physics step until it is set again; :meth:`reset` clears it for the reset worlds.
        Each world's actuator force range is shifted by ``-bias``
        (:meth:`~humimic.sim.params.WorldParams.shift_force_range`), so the total joint
        torque, actuator force plus bias, is clipped to the effort limits. The state's
        ``applied_torque`` reports that total.

        Args:
            bias: Shape (N, J) N·m, robot spec joint order.

        Raises:
            ConfigError: Wrong shape or non-finite values.
        """
        value = _check_bias(_numpy(bias), (self.num_worlds, len(self.layout.actuator)))
        self._world_state[:, self._bias_columns] = value
        self._bias.copy_(torch.from_numpy(value))
        self._params.shift_force_range(np.arange(self.num_worlds), value)

    def set_assist(self, target: Tensor, scale: float) -> None:
        """Assist servo targets (N, 6) and gain factor (see :meth:`SimBackend.set_assist`).

        Raises:
            ConfigError: The model has no assist servos, or a bad shape, value or scale.
        """
        value = _numpy(target)
        check_assist(self.layout.assist, value.shape, self.num_worlds, scale, value)
        self._world_state[:, self._assist_columns] = value
        if scale != self._assist_scale:
            self._scale_assist(scale)

    def _scale_assist(self, scale: float) -> None:
        """Assist servo gains = ``scale`` x nominal, in every thread's model and world."""
        gain, bias = self._params.scale_assist(self.layout.assist, scale)
        for m in self._models:
            m.actuator_gainprm[self.layout.assist] = gain
            m.actuator_biasprm[self.layout.assist] = bias
        self._assist_scale = scale

    def close(self) -> None:
        """Stop the worker threads."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def __enter__(self) -> MujocoCpuBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _state_columns(model: mujoco.MjModel, element: mujoco.mjtState, size: int) -> slice:
    """Columns of one state element in a ``_STATE`` row (elements are in bit order)."""
    start = mujoco.mj_stateSize(model, _STATE & (element - 1))
    return slice(start, start + size)


def _refresh_kinematics(m: mujoco.MjModel, d: mujoco.MjData) -> None:
    """Body poses, subtree centres of mass and body velocities at the current qpos/qvel."""
    mujoco.mj_kinematics(m, d)
    mujoco.mj_comPos(m, d)
    mujoco.mj_comVel(m, d)


def _numpy(value: Tensor | np.ndarray) -> np.ndarray:
    if isinstance(value, Tensor):
        return value.detach().to("cpu", torch.float64).numpy()
    return np.asarray(value, dtype=np.float64)


def _world_ids(world_ids: Tensor | np.ndarray, num_worlds: int) -> np.ndarray:
    """Validated int64 world ids, shape (M,)."""
    ids = (
        _numpy(world_ids).astype(np.int64)
        if not isinstance(world_ids, Tensor)
        else (world_ids.detach().to("cpu", torch.int64).numpy())
    )
    if ids.ndim != 1 or (ids.size and (ids.min() < 0 or ids.max() >= num_worlds)):
        raise ConfigError(f"sim: world_ids must be a 1-D array of ids in [0, {num_worlds})")
    return ids


def _check_bias(value: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The joint torque bias if it has ``shape`` and finite entries."""
    if value.shape != shape:
        raise ConfigError(f"sim: joint torque bias must have shape {shape}, got {value.shape}")
    if not np.isfinite(value).all():
        raise ConfigError("sim: joint torque bias must be finite")
    return value


def _reset_arrays(m: int, joints: int, values: tuple[Tensor, ...]) -> list[np.ndarray]:
    """Reset inputs as float64 numpy arrays with checked shapes."""
    shapes = ((m, 3), (m, 4), (m, 3), (m, 3), (m, joints), (m, joints))
    arrays = [_numpy(v) for v in values]
    for name, shape, array in zip(RESET_NAMES, shapes, arrays):
        if array.shape != shape:
            raise ConfigError(f"sim reset: {name} must have shape {shape}, got {array.shape}")
    return arrays
