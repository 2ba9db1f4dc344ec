"""Contact and constraint buffer sizes of the MuJoCo Warp backend, and its overflow flags.

MuJoCo Warp allocates fixed per-world buffers for contacts (``nconmax``) and constraint
rows (``njmax``); a world that needs more sets an overflow flag and its physics is wrong.
:func:`contact_capacity` sizes both from the model; :func:`overflow_bits` and
:func:`overflowed_buffers` turn MuJoCo Warp's flag enum into a mask and a message.
"""

from __future__ import annotations

from typing import Any

import mujoco
import numpy as np

BUFFER_OVERFLOWS = {
    "NEFC": "constraint rows (njmax)",
    "NJMAX_NNZ": "constraint Jacobian non-zeros (njmax)",
    "BROADPHASE": "collision candidates (nconmax)",
    "NARROWPHASE": "contacts (nconmax)",
    "CCD": "convex-collision contacts (nconmax)",
    "NVMAX": "active degrees of freedom",
}
"""MuJoCo Warp overflow flags that mean a buffer was too small (the physics of that world
is wrong); solver iteration limits are not among them."""
SELF_CONTACTS = 16
"""Contacts per world allowed for self-collisions on top of the floor contacts."""
_CONTACTS_ON_PLANE = {
    mujoco.mjtGeom.mjGEOM_SPHERE: 1,
    mujoco.mjtGeom.mjGEOM_ELLIPSOID: 1,
    mujoco.mjtGeom.mjGEOM_CAPSULE: 2,
}
"""Most contacts MuJoCo makes between a plane and a geom of this type (others: 4)."""


def contact_capacity(model: mujoco.MjModel) -> tuple[int, int]:
    """Per-world contact and constraint-row capacity for ``model`` (floor + robot).

    Contacts: for every colliding geom not on the world body, the most contacts it can
    make with a plane, plus :data:`SELF_CONTACTS`. Rows: each contact takes its friction
    cone's rows (pyramidal ``2·(condim−1)``, elliptic ``condim``, 1 for frictionless),
    plus one per limited joint and six per equality constraint.

    Returns:
        (nconmax, njmax) per world.
    """
    colliding = (model.geom_contype | model.geom_conaffinity) > 0
    robot = np.flatnonzero(colliding & (model.geom_bodyid > 0))
    contacts = sum(_CONTACTS_ON_PLANE.get(int(model.geom_type[g]), 4) for g in robot)
    contacts += SELF_CONTACTS
    condim = int(model.geom_condim[robot].max()) if robot.size else 1
    elliptic = model.opt.cone == mujoco.mjtCone.mjCONE_ELLIPTIC
    rows = condim if elliptic or condim == 1 else 2 * (condim - 1)
    limited = int(np.count_nonzero(model.jnt_limited))
    return contacts, contacts * rows + limited + 6 * int(model.neq)


def overflow_bits(flags: Any) -> int:
    """Bit mask of the :data:`BUFFER_OVERFLOWS` flags this MuJoCo Warp knows.

    Args:
        flags: ``mujoco_warp.OverflowType`` (an enum; older releases lack some names).
    """
    return sum(int(flags[name]) for name in BUFFER_OVERFLOWS if name in flags.__members__)


def overflowed_buffers(flags: Any, seen: int) -> list[str]:
    """The buffers (as in :data:`BUFFER_OVERFLOWS`) whose bits are set in ``seen``."""
    return [
        what for name, what in BUFFER_OVERFLOWS.items()
        if name in flags.__members__ and seen & int(flags[name])
    ]  # fmt: skip
