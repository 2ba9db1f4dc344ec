"""The simulation backend contract: batched worlds in, env-major torch state out.

A backend steps ``N`` independent copies ("worlds") of one MuJoCo scene. Everything above
it (environments, rewards, observations) sees only :class:`SimState` and the
:class:`SimBackend` methods, never MuJoCo arrays. The MuJoCo trap (a free joint's
``qvel[3:6]`` is the angular velocity in the *body* frame) is resolved here: the state
carries both ``root_ang_vel_w`` and ``root_ang_vel_b`` and :meth:`SimBackend.reset` takes
the world-frame value.

Implementations: ``mujoco`` (C MuJoCo, a thread pool over CPU cores,
:mod:`humimic.sim.mujoco_cpu`) and ``mujoco_warp`` (MuJoCo Warp on a CUDA GPU or Warp's
CPU device, :mod:`humimic.sim.mujoco_warp`, needs the ``gpu`` extra).
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import torch
from torch import Tensor

from humimic.errors import ConfigError

if TYPE_CHECKING:
    import mujoco

    from humimic.robot.spec import RobotSpec

BACKENDS = ("mujoco", "mujoco_warp")
"""Names accepted by :func:`make_backend`."""


@dataclass
class SimState:
    """Batched robot state, float32 tensors on the backend's device, env-major.

    The tensors are views into buffers the backend refreshes in place after every
    :meth:`SimBackend.step` and :meth:`SimBackend.reset`; clone what must outlive a step.
    Quaternions are wxyz with ``w >= 0``. Body quantities refer to the body frame origin
    (MuJoCo ``xpos``/``xquat``), for the bodies named at construction, in that order.
    """

    root_pos_w: Tensor
    """Root (free-joint body) position in world. Shape (N, 3), m."""
    root_quat_w: Tensor
    """Root orientation, body to world. Shape (N, 4), wxyz."""
    root_lin_vel_w: Tensor
    """Root linear velocity in world. Shape (N, 3), m/s."""
    root_ang_vel_w: Tensor
    """Root angular velocity in world. Shape (N, 3), rad/s."""
    root_ang_vel_b: Tensor
    """Root angular velocity in the root body frame. Shape (N, 3), rad/s."""
    joint_pos: Tensor
    """Actuated joint positions in robot spec order. Shape (N, J), rad."""
    joint_vel: Tensor
    """Actuated joint velocities in robot spec order. Shape (N, J), rad/s."""
    body_pos_w: Tensor
    """Body frame origins in world. Shape (N, B, 3), m."""
    body_quat_w: Tensor
    """Body orientations, body to world. Shape (N, B, 4), wxyz."""
    body_lin_vel_w: Tensor
    """Linear velocity of each body frame origin in world. Shape (N, B, 3), m/s."""
    body_ang_vel_w: Tensor
    """Body angular velocities in world. Shape (N, B, 3), rad/s."""
    foot_contact_force_w: Tensor
    """Net contact force on each foot's geoms (left, right) during the last physics step.
    Shape (N, 2, 3), N; zero right after a reset."""
    applied_torque: Tensor
    """Joint torque of the last physics step: actuator force plus the joint torque bias
    (:meth:`SimBackend.set_joint_torque_bias`), clipped to the effort limits, spec order.
    Shape (N, J), N·m; zero right after a reset."""

    @classmethod
    def zeros(
        cls, num_worlds: int, num_joints: int, num_bodies: int, device: str | torch.device
    ) -> SimState:
        """Allocate a zero state; quaternions start as identity."""
        n, j, b = num_worlds, num_joints, num_bodies
        shapes = {
            "root_pos_w": (n, 3),
            "root_quat_w": (n, 4),
            "root_lin_vel_w": (n, 3),
            "root_ang_vel_w": (n, 3),
            "root_ang_vel_b": (n, 3),
            "joint_pos": (n, j),
            "joint_vel": (n, j),
            "body_pos_w": (n, b, 3),
            "body_quat_w": (n, b, 4),
            "body_lin_vel_w": (n, b, 3),
            "body_ang_vel_w": (n, b, 3),
            "foot_contact_force_w": (n, 2, 3),
            "applied_torque": (n, j),
        }
        state = cls(**{k: torch.zeros(s, device=device) for k, s in shapes.items()})
        state.root_quat_w[:, 0] = 1.0
        state.body_quat_w[..., 0] = 1.0
        return state

    def clone(self) -> SimState:
        """Deep copy that the backend will not overwrite."""
        return SimState(**{f.name: getattr(self, f.name).clone() for f in fields(self)})


@runtime_checkable
class SimBackend(Protocol):
    """N independent worlds of one robot scene with position-controlled actuators."""

    num_worlds: int
    """Number N of worlds."""
    device: torch.device
    """Device of every tensor the backend returns and accepts."""
    physics_dt: float
    """Physics timestep, s."""

    def step(self, joint_pos_target: Tensor, decimation: int) -> None:
        """Hold actuator position targets for ``decimation`` physics steps in every world.

        Args:
            joint_pos_target: Shape (N, J), rad, robot spec joint order.
            decimation: Number of physics steps (>= 1).
        """
        ...

    def state(self) -> SimState:
        """The state after the last step or reset (views refreshed in place)."""
        ...

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
        """Put the selected worlds into a given state; solver state is cleared.

        Args:
            world_ids: Shape (M,) int, worlds to reset.
            root_pos_w: Shape (M, 3), m.
            root_quat_w: Shape (M, 4), wxyz.
            root_lin_vel_w: Shape (M, 3), m/s.
            root_ang_vel_w: Shape (M, 3), rad/s, world frame.
            joint_pos: Shape (M, J), rad, spec order.
            joint_vel: Shape (M, J), rad/s, spec order.
        """
        ...

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
        """Set per-world physical parameters (domain randomisation), relative to nominal.

        See :class:`humimic.sim.params.WorldParams` for shapes and meaning; ``None``
        leaves a parameter as it is.
        """
        ...

    def set_joint_torque_bias(self, bias: Tensor) -> None:
        """Add a generalized force to each actuated joint, on top of the PD actuator.

        The bias (MuJoCo ``qfrc_applied`` at each joint's dof) is held for every physics
        step of the following :meth:`step` calls until set again; :meth:`reset` clears it
        for the reset worlds. The total joint torque, actuator force plus bias, is clipped
        to the joint's effort limit (the actuator's force range is shifted by ``-bias``),
        as PBHC clips its noisy torque.

        Args:
            bias: Shape (N, J), N·m, robot spec joint order.
        """
        ...

    def set_assist(self, target: Tensor, scale: float) -> None:
        """Targets and strength of the training assist servos on the root.

        Only for a model built with the assist (``build_model(..., assist=...)``, see
        :mod:`humimic.robot.assist`). Held for every physics step of the following
        :meth:`step` calls until set again.

        Args:
            target: Shape (N, 6): root position in world (m), then the root orientation's
                rotation vector relative to the world (rad).
            scale: Factor on the servos' nominal stiffness and damping, in [0, 1]; 0 exerts
                no force at all.
        """
        ...

    def nan_worlds(self) -> Tensor:
        """Shape (N,) bool: worlds whose physics diverged (non-finite or absurd state)
        in the last step. With ``auto_reset_nan`` they were already reset to the default
        pose; the caller should end their episodes."""
        ...

    def close(self) -> None:
        """Release threads and device memory."""
        ...


RESET_NAMES = (
    "root_pos_w",
    "root_quat_w",
    "root_lin_vel_w",
    "root_ang_vel_w",
    "joint_pos",
    "joint_vel",
)
"""The state arrays a backend's ``reset`` takes, in argument order."""


def default_reset_state(spec: RobotSpec, num: int, device: torch.device) -> dict[str, Tensor]:
    """Keyword arguments of :meth:`SimBackend.reset` for the default standing pose.

    Root at ``(0, 0, default_root_height)``, identity orientation, default joint
    positions, zero velocities; each tensor has a leading dimension ``num``.
    """
    joint_pos = torch.as_tensor(spec.default_joint_pos, dtype=torch.float32, device=device)
    root_pos = torch.zeros(num, 3, device=device)
    root_pos[:, 2] = float(spec.default_root_height)
    root_quat = torch.zeros(num, 4, device=device)
    root_quat[:, 0] = 1.0
    return {
        "root_pos_w": root_pos,
        "root_quat_w": root_quat,
        "root_lin_vel_w": torch.zeros(num, 3, device=device),
        "root_ang_vel_w": torch.zeros(num, 3, device=device),
        "joint_pos": joint_pos.expand(num, -1).clone(),
        "joint_vel": torch.zeros(num, len(spec.joint_names), device=device),
    }


def reset_nan_worlds(backend: SimBackend, spec: RobotSpec) -> Tensor:
    """Reset diverged worlds of ``backend`` to the default pose.

    Returns:
        Shape (M,) int64 ids of the worlds that were reset (possibly empty).
    """
    ids = torch.nonzero(backend.nan_worlds()).flatten()
    if ids.numel():
        backend.reset(ids, **default_reset_state(spec, int(ids.numel()), backend.device))
    return ids


def validate_device(backend: str, device: str) -> torch.device:
    """Check ``sim.device`` for ``backend`` before anything is built or written.

    Accepted: ``cpu``, ``cuda`` and ``cuda:k``. CUDA needs a visible GPU (``k`` below the
    device count) and the ``mujoco_warp`` backend; C MuJoCo (``mujoco``) runs on the CPU
    only.

    Returns:
        The torch device.

    Raises:
        ConfigError: One line naming ``sim.device`` and what is wrong.
    """
    text = str(device).strip()
    match = re.fullmatch(r"cpu|cuda(?::(\d+))?", text)
    if match is None:
        raise ConfigError(f"sim.device: must be cpu, cuda or cuda:K, got {device!r}")
    if text == "cpu":
        return torch.device("cpu")
    if backend == "mujoco":
        raise ConfigError(
            f"sim.device={text}: the mujoco backend (C MuJoCo) runs on the CPU only; "
            "use sim.backend=mujoco_warp (--backend mujoco_warp) for a GPU"
        )
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if count == 0:
        raise ConfigError(f"sim.device={text}: CUDA is not available on this machine")
    index = int(match.group(1) or 0)
    if index >= count:
        raise ConfigError(f"sim.device={text}: only {count} CUDA device(s), cuda:0..{count - 1}")
    return torch.device("cuda", index)


def make_backend(
    name: str,
    model: mujoco.MjModel,
    spec: RobotSpec,
    num_worlds: int,
    body_names: list[str],
    device: str = "cpu",
    **opts: Any,
) -> SimBackend:
    """Create a backend by name.

    Args:
        name: ``"mujoco"`` or ``"mujoco_warp"``.
        model: Compiled scene (floor + robot, one position actuator per spec joint); the
            backend keeps its own copy.
        spec: Robot variant spec (joint order, foot geoms, default pose).
        num_worlds: Number N of worlds.
        body_names: Bodies reported in the ``body_*`` state fields, in this order.
        device: Torch/Warp device: ``"cpu"`` or ``"cuda[:k]"`` (``mujoco`` is CPU only).
        **opts: Backend options, see each backend's constructor.

    Raises:
        ConfigError: Unknown backend name, invalid option or device.
    """
    cls: type
    if name == "mujoco":
        from humimic.sim.mujoco_cpu import MujocoCpuBackend

        cls = MujocoCpuBackend
    elif name == "mujoco_warp":
        from humimic.sim.mujoco_warp import MujocoWarpBackend

        cls = MujocoWarpBackend
    else:
        raise ConfigError(f"sim backend {name!r} is unknown; valid: {', '.join(BACKENDS)}")
    validate_device(name, device)
    known = set(inspect.signature(cls).parameters) - {"model", "spec", "num_worlds", "body_names"}
    unknown = sorted(set(opts) - known)
    if unknown:
        raise ConfigError(f"sim backend {name}: unknown options {unknown}; valid: {sorted(known)}")
    return cls(model, spec, num_worlds, body_names, device=device, **opts)
