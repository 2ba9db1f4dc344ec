"""Synthetic reference clips from joint trajectories (tests, benchmarks, the shipped wave clip).

Body poses and velocities come from MuJoCo forward kinematics of the robot model, so a
synthetic clip is exactly consistent with the simulated robot. The default is an "easy"
clip: the robot stands in its default pose, root fixed, and waves its arms.
"""

from __future__ import annotations

import mujoco
import numpy as np

from humimic.motion.clip import RobotClip
from humimic.robot.model import build_model
from humimic.robot.spec import load_robot_spec


def arm_wave_clip(
    variant: str = "g1_23dof_lock_wrist",
    seconds: float = 2.0,
    fps: float = 50.0,
    amplitude_rad: float = 0.4,
    period_s: float = 2.0,
) -> RobotClip:
    """Standing in the default pose while both shoulders pitch sinusoidally.

    Args:
        variant: Robot variant.
        seconds: Clip length, s.
        fps: Frame rate, Hz.
        amplitude_rad: Shoulder-pitch amplitude, rad (0 gives a still standing clip).
        period_s: Wave period, s.
    """
    spec = load_robot_spec(variant)
    t = np.arange(round(seconds * fps) + 1) / fps
    joint_pos = np.tile(np.asarray(spec.default_joint_pos, float), (len(t), 1))
    for j, name in enumerate(spec.joint_names):
        if "shoulder_pitch" in name:
            joint_pos[:, j] += amplitude_rad * np.sin(2 * np.pi * t / period_s)
    root_pos = np.tile([0.0, 0.0, float(spec.default_root_height)], (len(t), 1))
    root_quat = np.tile([1.0, 0.0, 0.0, 0.0], (len(t), 1))
    return clip_from_joint_trajectory(variant, fps, root_pos, root_quat, joint_pos)


def clip_from_joint_trajectory(
    variant: str,
    fps: float,
    root_pos_w: np.ndarray,
    root_quat_w: np.ndarray,
    joint_pos: np.ndarray,
) -> RobotClip:
    """A full clip (all bodies, velocities) from root and joint trajectories by FK.

    Args:
        variant: Robot variant; joints in its spec order.
        fps: Frame rate, Hz.
        root_pos_w: (T, 3) m. root_quat_w: (T, 4) wxyz. joint_pos: (T, J) rad.
    """
    spec = load_robot_spec(variant)
    model = build_model(spec, with_floor=False)
    free = int(np.flatnonzero(model.jnt_type == mujoco.mjtJoint.mjJNT_FREE)[0])
    root = int(model.jnt_qposadr[free])
    jids = [mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, n) for n in spec.joint_names]
    adr = model.jnt_qposadr[jids]
    qpos = np.tile(model.qpos0, (len(joint_pos), 1))
    qpos[:, root : root + 3], qpos[:, root + 3 : root + 7] = root_pos_w, root_quat_w
    qpos[:, adr] = joint_pos
    joint_vel = np.gradient(joint_pos, 1.0 / fps, axis=0)
    names = [model.body(b).name for b in range(1, model.nbody)]
    pos, quat, lin, ang = _body_states(model, qpos, fps)
    quat = np.where(quat[..., :1] < 0, -quat, quat)
    return RobotClip(
        robot=spec.robot, variant=variant, fps=float(fps),
        joint_names=list(spec.joint_names), body_names=names,
        root_pos_w=np.asarray(root_pos_w, float), root_quat_w=np.asarray(root_quat_w, float),
        joint_pos=joint_pos, joint_vel=joint_vel, body_pos_w=pos, body_quat_w=quat,
        body_lin_vel_w=lin, body_ang_vel_w=ang, contact_mask=np.ones((len(qpos), 2)),
        report={"verdict": "pass", "source": "synthetic"},
    )  # fmt: skip


def _body_states(
    model: mujoco.MjModel, qpos: np.ndarray, fps: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """World pose and velocity (central differences of qpos) of every body but the world.

    Returns:
        pos (T, B, 3) m, quat (T, B, 4) wxyz, lin (T, B, 3) m/s, ang (T, B, 3) rad/s.
    """
    data = mujoco.MjData(model)
    n, nb = len(qpos), model.nbody - 1
    pos, quat = np.zeros((n, nb, 3)), np.zeros((n, nb, 4))
    lin, ang = np.zeros((n, nb, 3)), np.zeros((n, nb, 3))
    vel6 = np.zeros(6)
    for k in range(n):
        data.qpos[:] = qpos[k]
        lo, hi = max(k - 1, 0), min(k + 1, n - 1)
        mujoco.mj_differentiatePos(model, data.qvel, max(hi - lo, 1) / fps, qpos[lo], qpos[hi])
        mujoco.mj_kinematics(model, data)
        mujoco.mj_comPos(model, data)
        mujoco.mj_comVel(model, data)
        for i in range(nb):
            pos[k, i], quat[k, i] = data.xpos[i + 1], data.xquat[i + 1]
            mujoco.mj_objectVelocity(model, data, mujoco.mjtObj.mjOBJ_BODY, i + 1, vel6, 0)
            ang[k, i], lin[k, i] = vel6[:3], vel6[3:]
    return pos, quat, lin, ang
