"""The training assist in the scene: six servos between the world and the robot's root.

A tracking policy trained from scratch must first learn to balance: with PD on the
reference joint angles alone, every shipped walk falls within 0.5-0.8 s
(``docs/training.md``). Early in training a virtual "hand" on the pelvis (a curriculum
that Yu, Turk and Liu, SIGGRAPH 2018, used for locomotion) keeps the robot near the
reference root pose so that the policy can learn the motion first; the env fades it to
zero as the policy succeeds (:mod:`humimic.envs.assist`). The exported controller never
sees it: evaluation, export and deployment build the scene without these actuators.

The servos are MuJoCo position actuators with a *site* transmission relative to a
world-fixed reference site at the origin: the actuator lengths are the root site's world
position (x, y, z) and its rotation vector relative to the world (rx, ry, rz), so a control
value is a target in those coordinates and the force follows ``kp·(ctrl - length) -
kv·velocity``. MuJoCo evaluates them every physics step, and ``implicitfast`` integrates
their damping implicitly: stiff support stays stable at a 25 Hz policy rate.
"""

from __future__ import annotations

import mujoco
import numpy as np

from humimic.config.task import AssistCfg

ASSIST_ACTUATORS = ("assist_x", "assist_y", "assist_z", "assist_rx", "assist_ry", "assist_rz")
"""Actuator names, in the order of a target vector: position (m), rotation vector (rad)."""
ASSIST_ROOT_SITE = "assist_root"
ASSIST_ANCHOR_SITE = "assist_anchor"


def add_assist_actuators(scene: mujoco.MjSpec, gains: AssistCfg) -> None:
    """Add the anchor site, the root site and the six assist servos to ``scene``, with the
    stiffness, damping and force limits of ``gains`` (``task.assist``).

    The root is the first body under the world (the free-joint body); the servos come after
    the joint actuators, so actuator ids of the joints are unchanged.
    """
    root = scene.worldbody.first_body()
    scene.worldbody.add_site(name=ASSIST_ANCHOR_SITE, pos=[0.0, 0.0, 0.0], group=5)
    root.add_site(name=ASSIST_ROOT_SITE, pos=[0.0, 0.0, 0.0], group=5)
    for axis, name in enumerate(ASSIST_ACTUATORS):
        rotational = axis >= 3
        gear = np.zeros(6)
        gear[axis] = 1.0
        actuator = scene.add_actuator(name=name, target=ASSIST_ROOT_SITE)
        actuator.trntype = mujoco.mjtTrn.mjTRN_SITE
        actuator.refsite = ASSIST_ANCHOR_SITE
        actuator.gear = gear.tolist()
        kp = gains.kp_rot if rotational else gains.kp_pos
        kv = gains.kv_rot if rotational else gains.kv_pos
        actuator.set_to_position(kp=float(kp), kv=float(kv))
        actuator.forcelimited = mujoco.mjtLimited.mjLIMITED_TRUE
        limit = gains.max_torque if rotational else gains.max_force
        actuator.forcerange = [-float(limit), float(limit)]


def assist_actuator_ids(model: mujoco.MjModel) -> np.ndarray:
    """Ids of the assist servos in :data:`ASSIST_ACTUATORS` order; empty when absent.

    Raises:
        ValueError: Only some of the servos are present.
    """
    ids = [mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_ACTUATOR, n) for n in ASSIST_ACTUATORS]
    found = [i for i in ids if i >= 0]
    if found and len(found) != len(ids):
        raise ValueError(f"model has only some assist actuators: {sorted(found)}")
    return np.asarray(found, dtype=np.int64)
