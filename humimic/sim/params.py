"""Per-world physical parameters for domain randomisation, as MuJoCo model arrays.

:class:`WorldParams` keeps, for every world, its own copy of the model fields that
randomisation touches, always computed from the nominal model (calls do not compound):

=================  ==================  ==============================================
argument           shape               effect
=================  ==================  ==============================================
``friction``       (M,)                sliding friction of every geom (floor and robot),
                                       so every contact uses this coefficient
``body_mass_scale``  (M,) or (M, B)    scales mass and inertia of all robot bodies, or
                                       of the backend's ``body_names``; subtree masses
                                       follow
``com_offset_b``   (M, 3) or (M, B, 3) added to the centre of mass of the root body, or
                                       of each of ``body_names``, in that body's frame, m
``kp_scale``       (M,) or (M, J)      scales position-actuator stiffness
``kd_scale``       (M,) or (M, J)      scales position-actuator damping
=================  ==================  ==============================================

:meth:`WorldParams.shift_force_range` moves each world's actuator force range by a joint
torque bias (see ``set_joint_torque_bias`` of the backends), so that actuator force plus
bias is clipped to the nominal effort limits.

Derived constants that MuJoCo computes once at compile time from masses (``invweight0``
used for constraint regularisation, ``actuator_acc0``) stay nominal, identically in both
backends.
"""

from __future__ import annotations

import mujoco
import numpy as np

from humimic.errors import ConfigError
from humimic.sim.layout import ModelLayout

FIELDS = (
    "geom_friction",
    "body_mass",
    "body_inertia",
    "body_ipos",
    "body_subtreemass",
    "actuator_gainprm",
    "actuator_biasprm",
    "actuator_forcerange",
)
"""Model fields that hold per-world values."""


class WorldParams:
    """Per-world copies of :data:`FIELDS`, float64, shape (N, *field shape)."""

    def __init__(self, model: mujoco.MjModel, layout: ModelLayout, num_worlds: int) -> None:
        """Start every world at the nominal values of ``model``."""
        self._layout = layout
        self.nominal = {f: np.array(getattr(model, f), dtype=np.float64) for f in FIELDS}
        self.values = {f: np.repeat(a[None], num_worlds, axis=0) for f, a in self.nominal.items()}
        self._parent = model.body_parentid.copy()
        self._robot_bodies = np.arange(1, model.nbody)
        self._position_servo = (model.actuator_biastype == mujoco.mjtBias.mjBIAS_AFFINE)[
            layout.actuator
        ]
        self.changed: list[str] = []
        """Fields set at least once (backends then load these per world, in FIELDS order)."""

    def apply(
        self,
        world_ids: np.ndarray,
        friction: np.ndarray | None = None,
        body_mass_scale: np.ndarray | None = None,
        com_offset_b: np.ndarray | None = None,
        kp_scale: np.ndarray | None = None,
        kd_scale: np.ndarray | None = None,
    ) -> list[str]:
        """Set parameters of ``world_ids`` (shape (M,)); see the module table for shapes.

        Returns:
            Names of the fields whose values changed.

        Raises:
            ConfigError: Wrong shape, non-finite, or non-positive scale/friction.
        """
        m = len(world_ids)
        touched: list[str] = []
        if friction is not None:
            value = _check(friction, "friction", [(m,)], positive=True)
            self.values["geom_friction"][world_ids, :, 0] = value[:, None]
            touched.append("geom_friction")
        if body_mass_scale is not None:
            self._scale_mass(world_ids, _check(body_mass_scale, "body_mass_scale", self._bm(m)))
            touched += ["body_mass", "body_inertia", "body_subtreemass"]
        if com_offset_b is not None:
            self._offset_com(world_ids, _check(com_offset_b, "com_offset_b", self._co(m)))
            touched.append("body_ipos")
        if kp_scale is not None or kd_scale is not None:
            self._scale_gains(world_ids, kp_scale, kd_scale)
            touched += ["actuator_gainprm", "actuator_biasprm"]
        self.changed = [f for f in FIELDS if f in touched or f in self.changed]
        return touched

    def shift_force_range(self, world_ids: np.ndarray, bias: np.ndarray) -> None:
        """Set the force range of each joint's actuator to ``nominal - bias``.

        MuJoCo clips the actuator force ``f`` to ``[lo, hi]``; with a generalized force
        ``b`` applied on the same joint, ``clip(f, lo - b, hi - b) + b`` equals
        ``clip(f + b, lo, hi)``: the *total* joint torque respects the nominal limits
        (exactly, for any ``b``). Actuators without force limits ignore the range.

        Args:
            world_ids: Shape (M,) int.
            bias: Shape (M, J) N·m, robot spec joint order (checked by the caller).
        """
        act = self._layout.actuator
        nominal = self.nominal["actuator_forcerange"][act]  # (J, 2)
        self.values["actuator_forcerange"][world_ids[:, None], act] = nominal - bias[..., None]
        if "actuator_forcerange" not in self.changed:
            self.changed = [f for f in FIELDS if f in self.changed or f == "actuator_forcerange"]

    def scale_assist(self, assist: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
        """Set the assist servos' gains to ``scale`` x nominal in every world.

        Kept here with the other per-world values, so that a later :meth:`apply` (which
        rewrites whole gain fields of reset worlds) keeps the current assist strength.

        Args:
            assist: Shape (6,), the servos' actuator ids.
            scale: Factor on stiffness and damping.

        Returns:
            The new ``actuator_gainprm`` and ``actuator_biasprm`` rows, (6, 10) each.
        """
        gain = self.nominal["actuator_gainprm"][assist] * scale
        bias = self.nominal["actuator_biasprm"][assist] * scale
        self.values["actuator_gainprm"][:, assist] = gain
        self.values["actuator_biasprm"][:, assist] = bias
        return gain, bias

    def _bm(self, m: int) -> list[tuple[int, ...]]:
        return [(m,), (m, len(self._layout.bodies))]

    def _co(self, m: int) -> list[tuple[int, ...]]:
        return [(m, 3), (m, len(self._layout.bodies), 3)]

    def _scale_mass(self, ids: np.ndarray, scale: np.ndarray) -> None:
        bodies = self._robot_bodies if scale.ndim == 1 else self._layout.bodies
        full = np.ones((len(ids), len(self._parent)))
        full[:, bodies] = scale[:, None] if scale.ndim == 1 else scale
        mass = self.nominal["body_mass"][None] * full
        self.values["body_mass"][ids] = mass
        self.values["body_inertia"][ids] = self.nominal["body_inertia"][None] * full[..., None]
        # Subtree mass: children have larger ids than parents, so one reverse sweep.
        subtree = mass.copy()
        for body in range(len(self._parent) - 1, 0, -1):
            subtree[:, self._parent[body]] += subtree[:, body]
        self.values["body_subtreemass"][ids] = subtree

    def _offset_com(self, ids: np.ndarray, offset: np.ndarray) -> None:
        ipos = np.repeat(self.nominal["body_ipos"][None], len(ids), axis=0)
        if offset.ndim == 2:
            ipos[:, self._layout.root_body] += offset
        else:
            ipos[:, self._layout.bodies] += offset
        self.values["body_ipos"][ids] = ipos

    def _scale_gains(
        self, ids: np.ndarray, kp_scale: np.ndarray | None, kd_scale: np.ndarray | None
    ) -> None:
        if not self._position_servo.all():
            raise ConfigError("set_params: kp_scale/kd_scale need position actuators")
        joints = len(self._layout.actuator)
        shapes = [(len(ids),), (len(ids), joints)]
        act = self._layout.actuator
        gain, bias = self.values["actuator_gainprm"], self.values["actuator_biasprm"]
        if kp_scale is not None:
            kp = _check(kp_scale, "kp_scale", shapes, positive=True)
            kp = np.broadcast_to(kp[:, None] if kp.ndim == 1 else kp, (len(ids), joints))
            gain[ids[:, None], act, 0] = self.nominal["actuator_gainprm"][act, 0] * kp
            bias[ids[:, None], act, 1] = self.nominal["actuator_biasprm"][act, 1] * kp
        if kd_scale is not None:
            kd = _check(kd_scale, "kd_scale", shapes, positive=True)
            kd = np.broadcast_to(kd[:, None] if kd.ndim == 1 else kd, (len(ids), joints))
            bias[ids[:, None], act, 2] = self.nominal["actuator_biasprm"][act, 2] * kd


def check_assist(
    assist: np.ndarray,
    shape: tuple[int, ...],
    num_worlds: int,
    scale: float,
    values: np.ndarray | None = None,
) -> None:
    """Check an assist request: the model has the servos, target shape (N, 6), scale in
    [0, 1], and ``values`` (the target, when on the host) finite.

    Raises:
        ConfigError: Naming what is wrong.
    """
    if assist.size == 0:
        raise ConfigError("sim: the model has no assist servos (build it with assist gains)")
    if tuple(shape) != (num_worlds, 6):
        raise ConfigError(f"sim: assist target must have shape {(num_worlds, 6)}, got {shape}")
    if not 0.0 <= scale <= 1.0:
        raise ConfigError(f"sim: assist scale must be in [0, 1], got {scale}")
    if values is not None and not np.isfinite(values).all():
        raise ConfigError("sim: assist target must be finite")


def _check(
    value: np.ndarray, name: str, shapes: list[tuple[int, ...]], positive: bool = False
) -> np.ndarray:
    array = np.asarray(value, dtype=np.float64)
    if array.shape not in shapes:
        raise ConfigError(f"set_params: {name} must have shape one of {shapes}, got {array.shape}")
    if not np.isfinite(array).all() or (positive and (array <= 0).any()):
        kind = "positive finite" if positive else "finite"
        raise ConfigError(f"set_params: {name} must be {kind} numbers")
    return array
