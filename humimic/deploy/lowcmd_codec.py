"""Translation between the G1's DDS messages and the deploy controller types.

:class:`MotorCodec` reads a (CRC-checked) ``LowState_`` into a :class:`RobotState` in
policy joint order, checks a :class:`JointCommand` before it may be written, and encodes
it as a ``LowCmd_``: policy joints through ``motor_index``, targets clamped to the SDK
joint limits, the locked motors driven as the command says, CRC set.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from humimic.deploy.controller import JointCommand, RobotState
from humimic.deploy.dds.crc import set_crc
from humimic.deploy.dds.messages import LowCmd_, LowState_, zero_lowcmd
from humimic.deploy.dds.motor_map import MODE_PR, MOTOR_ENABLE, SDK_POS_LIMITS
from humimic.deploy.watchdogs import SafetyConfig


class MotorCodec:
    """LowState_ → RobotState and JointCommand → LowCmd_ for one robot spec.

    Args:
        slots: (J,) motor slot of each policy joint (the spec's ``motor_index``).
        mode_machine: the value every LowCmd_ carries (the variant's).
        kp: (J,) spec stiffness (N·m/rad); a command's kp must be 0 or this.
        kd: (J,) spec damping (N·m·s/rad); a command's kd must be 0, this or ``damping_kd``.
        locked_motors: the spec's locked motors (motor_index, pos, kp, kd).
        cfg: safety thresholds (``damping_kd``), read at every call.
    """

    def __init__(
        self,
        slots: np.ndarray,
        mode_machine: int,
        kp: np.ndarray,
        kd: np.ndarray,
        locked_motors: Sequence[Any],
        cfg: SafetyConfig,
    ) -> None:
        self.slots = slots
        self.mode_machine = mode_machine
        self._kp_spec, self._kd_spec = kp, kd
        self._locked = locked_motors
        self.cfg = cfg
        lo, hi = SDK_POS_LIMITS[slots].T
        self.q_lo, self.q_hi = lo, hi

    def robot_state(
        self, msg: LowState_, buttons: frozenset[str], age_s: float, time_s: float
    ) -> RobotState:
        """The policy joints, IMU and tick of ``msg`` (not validated here: the watchdogs do)."""
        motors = msg.motor_state
        return RobotState(
            joint_pos=np.array([motors[i].q for i in self.slots]),
            joint_vel=np.array([motors[i].dq for i in self.slots]),
            quat_wxyz=np.array(msg.imu_state.quaternion, dtype=np.float64),
            gyro_b=np.array(msg.imu_state.gyroscope, dtype=np.float64),
            buttons=buttons,
            tick=int(msg.tick),
            age_s=age_s,
            time_s=time_s,
        )

    def command_problem(self, cmd: JointCommand) -> str:
        """Why ``cmd`` must not be written ("" when it may): shapes, finite values, and gains
        that are the spec's (kp 0 or spec kp; kd 0, spec kd or damping kd) joint by joint."""
        n = len(self.slots)
        arrays = {"q": cmd.q, "kp": cmd.kp, "kd": cmd.kd}
        for name, value in arrays.items():
            value = np.asarray(value, dtype=np.float64)
            if value.shape != (n,):
                return f"command {name} has shape {value.shape}, expected ({n},)"
            if not np.isfinite(value).all():
                j = int(np.argmax(~np.isfinite(value)))
                return f"non-finite command: {name}[{j}] = {value[j]}"
        kp_ok = (cmd.kp == 0.0) | (cmd.kp == self._kp_spec)
        kd_ok = (cmd.kd == 0.0) | (cmd.kd == self._kd_spec) | (cmd.kd == self.cfg.damping_kd)
        if not (kp_ok & kd_ok).all():
            j = int(np.argmax(~(kp_ok & kd_ok)))
            return f"command gains of joint {j} (kp {cmd.kp[j]}, kd {cmd.kd[j]}) are not the spec's"
        if cmd.locked not in ("off", "damp", "hold"):
            return f"command locked mode {cmd.locked!r} unknown"
        return ""

    def lowcmd(self, cmd: JointCommand) -> LowCmd_:
        """The LowCmd_ for a JointCommand: policy joints via motor_index, locked motors held.

        Raises:
            ValueError: the command fails :meth:`command_problem` (never written).
        """
        problem = self.command_problem(cmd)
        if problem:
            raise ValueError(problem)
        msg = zero_lowcmd()
        msg.mode_pr, msg.mode_machine = MODE_PR, self.mode_machine
        q = np.clip(cmd.q, self.q_lo, self.q_hi)
        for j, slot in enumerate(self.slots):
            m = msg.motor_cmd[slot]
            m.mode, m.q, m.kp, m.kd = MOTOR_ENABLE, float(q[j]), float(cmd.kp[j]), float(cmd.kd[j])
        for lm in self._locked:
            m = msg.motor_cmd[lm.motor_index]
            m.mode, m.q = MOTOR_ENABLE, float(lm.pos)
            if cmd.locked == "hold":
                m.kp, m.kd = float(lm.kp), float(lm.kd)
            elif cmd.locked == "damp":
                m.kd = float(self.cfg.damping_kd)
        set_crc(msg)
        return msg
