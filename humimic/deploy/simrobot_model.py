"""The simulated G1's MuJoCo model: torque motors and a virtual gantry.

The model is built with :func:`humimic.robot.model.build_model`'s scene (one position
actuator per joint) and its actuators are then turned into direct torque motors by setting
gain 1 and bias 0, so ``ctrl`` is the joint torque and MuJoCo still clips it to
``forcerange`` (the effort limit). A mocap body welded to the pelvis (equality 0) is the
gantry; it is active only when asked for.
"""

from __future__ import annotations

import mujoco
import numpy as np

from humimic.robot.spec import RobotSpec


def torque_controlled_g1(
    spec: RobotSpec, physics_dt: float, gantry: bool, lift: float
) -> tuple[mujoco.MjModel, mujoco.MjData]:
    """Model with torque motors and data at the default pose (on the gantry if asked).

    Args:
        spec: robot variant spec.
        physics_dt: physics step (s).
        gantry: hold the pelvis fixed in the air (the weld is active).
        lift: how far above the standing height the gantry holds the pelvis (m).
    """
    from humimic.robot.model import default_qpos

    model = _build_model_with_gantry(spec, physics_dt)
    model.actuator_gainprm[:, :] = 0.0
    model.actuator_gainprm[:, 0] = 1.0  # ctrl is the joint torque (N·m)
    model.actuator_biasprm[:, :] = 0.0
    data = mujoco.MjData(model)
    data.qpos[:] = default_qpos(model, spec)
    if gantry:
        data.qpos[2] += lift
    data.mocap_pos[0] = data.qpos[:3]
    data.mocap_quat[0] = data.qpos[3:7]
    data.eq_active[0] = gantry
    mujoco.mj_forward(model, data)
    return model, data


def _build_model_with_gantry(spec: RobotSpec, physics_dt: float) -> mujoco.MjModel:
    """The project's G1 scene plus a mocap "gantry" body welded to the pelvis (equality 0)."""
    from humimic.robot.model import build_scene_spec, check_model_matches_spec

    scene = build_scene_spec(spec, physics_dt=physics_dt)
    scene.worldbody.add_body(name="gantry", mocap=True)
    weld = scene.add_equality(name="gantry", type=mujoco.mjtEq.mjEQ_WELD)
    weld.objtype = mujoco.mjtObj.mjOBJ_BODY
    weld.name1, weld.name2 = "gantry", "pelvis"
    weld.data[:11] = [0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1]  # pelvis frame = gantry frame
    model = scene.compile()
    check_model_matches_spec(model, spec)
    return model


def rpy(quat: np.ndarray) -> np.ndarray:
    """Roll, pitch, yaw (rad, extrinsic x-y-z) of a wxyz quaternion."""
    w, x, y, z = quat
    roll = np.arctan2(2 * (w * x + y * z), 1 - 2 * (x * x + y * y))
    pitch = np.arcsin(np.clip(2 * (w * y - z * x), -1.0, 1.0))
    yaw = np.arctan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))
    return np.array([roll, pitch, yaw])
