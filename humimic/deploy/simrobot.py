"""A simulated G1 that speaks the robot's DDS topics, for sim2sim and tests without hardware.

MuJoCo physics of the project's G1 model; publishes ``rt/lowstate`` (500 Hz) and obeys
``rt/lowcmd`` the way the robot does: frames with a bad CRC are dropped and counted, frames
whose ``mode_machine`` differs from the variant's are ignored, and every physics step applies
the motor-level PD ``τ = tau + kp·(q − q_meas) + kd·(dq − dq_meas)`` of enabled motors (mode 1),
clipped to the effort limits. Disabled motors (mode 0) produce no torque.

Torque control: the model is built with :func:`humimic.robot.model.build_model` (one position
actuator per joint) and its actuators are then turned into direct torque motors by setting
gain 1 and bias 0, so ``ctrl`` is the joint torque and MuJoCo still clips it to ``forcerange``
(the effort limit). Slots without a model joint (locked wrists, unused slots) report q = 0.

``gantry=True`` welds the pelvis to a mocap body in the air (a virtual gantry, MuJoCo weld
equality), which is how a first deploy starts; ``inject_tilt`` turns that mocap body. Without
the gantry the robot starts standing on the floor at the default pose.

Fault injection (:meth:`SimulatedG1.inject`, ``--fault KIND[@SECONDS]``): from the moment a
fault starts it lasts until the robot stops, as a broken sensor or link would
(:data:`FAULTS` says what each does). The robot checks every LowCmd it receives (before its
own CRC and mode filters) and counts those with a non-finite field or an enabled motor's
target outside its joint limits (:attr:`SimulatedG1.bad_command_count`); it also notes when
the commands turn into damping (every enabled motor kp 0, kd > 0), which gives the time from
each fault to damping as the robot saw it (:meth:`SimulatedG1.report`).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterable
from typing import Any

import mujoco
import numpy as np

from humimic.deploy.dds.channel import TOPIC_LOWCMD, TOPIC_LOWSTATE, DdsNode
from humimic.deploy.dds.crc import check_crc, set_crc
from humimic.deploy.dds.messages import (
    NUM_MOTOR_SLOTS,
    REMOTE_BYTES,
    LowCmd_,
    LowState_,
    zero_lowstate,
)
from humimic.deploy.dds.motor_map import MODE_PR, SDK_POS_LIMITS, expected_mode_machine
from humimic.deploy.remote import encode_remote
from humimic.deploy.simrobot_model import rpy, torque_controlled_g1
from humimic.errors import ConfigError
from humimic.geometry import quat_np

GRAVITY = 9.81

FAULTS = {
    "stale": "stop publishing rt/lowstate (physics keeps running)",
    "nan-state": "report NaN for the IMU gyroscope y value",
    "bad-quat": "report a zero IMU quaternion (it reads as upright if taken at face value)",
    "tilt": "turn the pelvis 1.3 rad about world x (the gantry holds it there)",
    "bad-crc": "publish every LowState with a wrong CRC",
    "joint-jump": "report the left knee 1.0 rad further than it is (an encoder slip)",
    "frozen-tick": "keep publishing, but with the tick frozen at its current value",
    "mode-change": "report (and obey only) another mode_machine",
}
"""Fault kinds of :meth:`SimulatedG1.inject` and what each does from its start on."""

TILT_FAULT_RAD = 1.3
JUMP_FAULT_RAD = 1.0
JUMP_FAULT_JOINT = "left_knee_joint"


class SimulatedG1:
    """MuJoCo G1 behind DDS topics ``rt/lowstate`` / ``rt/lowcmd``.

    Args:
        variant: robot variant, e.g. "g1_23dof_lock_wrist".
        interface: network interface for DDS ("lo").
        domain_id: DDS domain.
        physics_dt: physics step (s).
        state_dt: LowState period (s); 0.002 is the robot's 500 Hz.
        gantry: hold the pelvis fixed in the air.
        gantry_lift: how far above the standing height the gantry holds the pelvis (m).
    """

    def __init__(
        self,
        variant: str,
        interface: str = "lo",
        domain_id: int = 1,
        physics_dt: float = 0.001,
        state_dt: float = 0.002,
        gantry: bool = False,
        gantry_lift: float = 0.15,
    ) -> None:
        from humimic.robot.spec import load_robot_spec

        self.spec = load_robot_spec(variant)
        self.mode_machine = expected_mode_machine(variant)
        self.model, self.data = torque_controlled_g1(self.spec, physics_dt, gantry, gantry_lift)
        self.gantry = gantry
        self.physics_dt = physics_dt
        self.state_every = max(1, round(state_dt / physics_dt))

        jids = [self.model.joint(n).id for n in self.spec.joint_names]
        self._qadr = self.model.jnt_qposadr[jids]
        self._vadr = self.model.jnt_dofadr[jids]
        self._slots = np.asarray(self.spec.motor_index, dtype=np.int64)
        self._effort = np.asarray(self.spec.effort_limit, dtype=np.float64)

        self._lock = threading.Lock()
        self._cmd = np.zeros((6, NUM_MOTOR_SLOTS))  # mode, q, dq, tau, kp, kd per slot
        self._remote = bytes(REMOTE_BYTES)
        self._remote_release_at: float | None = None
        self._stall_until = 0.0
        self._corrupt_states = 0
        self.tau = np.zeros(len(jids))
        self.bad_crc_count = 0
        self.mode_mismatch_count = 0
        self.accepted_count = 0
        self.last_command: LowCmd_ | None = None
        self.state_times: list[float] = []
        self.received_count = 0
        self.bad_command_count = 0
        self.bad_command_examples: list[str] = []
        self.fault_timeline: list[tuple[float, str]] = []  # (seconds since start, kind)
        self.damping_changes: list[tuple[float, bool]] = []  # (seconds since start, damping?)
        self._active: set[str] = set()
        self._frozen_tick: int | None = None
        self._jump_joint = self.spec.joint_index(JUMP_FAULT_JOINT)
        self._t0 = time.monotonic()

        self.node = DdsNode(domain_id, interface)
        self._writer = self.node.publisher(TOPIC_LOWSTATE, LowState_)
        self._cmd_sub = self.node.subscriber(TOPIC_LOWCMD, LowCmd_, callback=self._on_cmd)
        self._thread: threading.Thread | None = None
        self._running = threading.Event()
        self.overruns = 0

    # ---- commands -----------------------------------------------------------------------
    def _on_cmd(self, msg: LowCmd_) -> None:
        m = msg.motor_cmd
        fields = np.array([[c.mode, c.q, c.dq, c.tau, c.kp, c.kd] for c in m], dtype=np.float64)
        self._audit(fields)
        if not check_crc(msg):
            with self._lock:
                self.bad_crc_count += 1
            return
        if msg.mode_machine != self.mode_machine or msg.mode_pr != MODE_PR:
            with self._lock:
                self.mode_mismatch_count += 1
            return
        with self._lock:
            self._cmd = fields.T
            self.accepted_count += 1
            self.last_command = msg

    def _audit(self, fields: np.ndarray) -> None:
        """Count a command with a non-finite field or an out-of-limit target; note damping.

        Args:
            fields: (35, 6) mode, q, dq, tau, kp, kd of every motor slot of one LowCmd.
        """
        mode, q, kp, kd = fields[:, 0], fields[:, 1], fields[:, 4], fields[:, 5]
        used = len(SDK_POS_LIMITS)
        enabled = mode[:used] == 1
        lo, hi = SDK_POS_LIMITS.T
        tol = 1e-6  # LowCmd q is float32: a target clamped to a limit may round 1 ulp past it
        outside = enabled & ((q[:used] < lo - tol) | (q[:used] > hi + tol))
        problem = ""
        if not np.isfinite(fields).all():
            slot, col = np.argwhere(~np.isfinite(fields))[0]
            problem = f"slot {slot} {('mode', 'q', 'dq', 'tau', 'kp', 'kd')[col]} non-finite"
        elif outside.any():
            slot = int(np.argmax(outside))
            problem = f"slot {slot} target {q[slot]:.3f} rad outside [{lo[slot]}, {hi[slot]}]"
        on = mode == 1
        damping = bool(on.any() and (kp[on] == 0).all() and (kd[on] > 0).all())
        now = time.monotonic() - self._t0
        with self._lock:
            self.received_count += 1
            if problem:
                self.bad_command_count += 1
                if len(self.bad_command_examples) < 5:
                    self.bad_command_examples.append(problem)
            if not self.damping_changes or self.damping_changes[-1][1] != damping:
                self.damping_changes.append((now, damping))

    def motor_torque(self) -> np.ndarray:
        """(J,) motor PD torque for the current command and state, clipped (N·m)."""
        with self._lock:
            mode, q, dq, tau, kp, kd = self._cmd[:, self._slots]
        q_meas = self.data.qpos[self._qadr]
        dq_meas = self.data.qvel[self._vadr]
        t = tau + kp * (q - q_meas) + kd * (dq - dq_meas)
        return np.where(mode == 1, np.clip(t, -self._effort, self._effort), 0.0)

    # ---- state --------------------------------------------------------------------------
    def lowstate(self) -> LowState_:
        """The LowState_ of the current physics state (CRC set)."""
        d, msg = self.data, zero_lowstate()
        msg.mode_pr, msg.mode_machine = MODE_PR, self.mode_machine
        msg.tick = round(d.time * 1000.0) & 0xFFFFFFFF
        active = self._active
        quat = d.qpos[3:7] / np.linalg.norm(d.qpos[3:7])
        imu = msg.imu_state
        imu.quaternion = quat.tolist()
        imu.gyroscope = d.qvel[3:6].tolist()  # free-joint angular velocity is in the body frame
        imu.accelerometer = quat_np.rotate(quat_np.conjugate(quat), [0, 0, GRAVITY]).tolist()
        imu.rpy = rpy(quat).tolist()
        q, dq, ddq = d.qpos[self._qadr], d.qvel[self._vadr], d.qacc[self._vadr]
        for j, slot in enumerate(self._slots):
            ms = msg.motor_state[slot]
            ms.mode, ms.q, ms.dq, ms.ddq, ms.tau_est = 1, q[j], dq[j], ddq[j], self.tau[j]
            ms.temperature, ms.vol = [30, 30], 24.0
        with self._lock:
            msg.wireless_remote = self._remote
        if "nan-state" in active:
            imu.gyroscope = [imu.gyroscope[0], math.nan, imu.gyroscope[2]]
        if "bad-quat" in active:
            imu.quaternion = [0.0, 0.0, 0.0, 0.0]
        if "joint-jump" in active:
            msg.motor_state[self._slots[self._jump_joint]].q += JUMP_FAULT_RAD
        if "frozen-tick" in active and self._frozen_tick is not None:
            msg.tick = self._frozen_tick
        set_crc(msg)
        return msg

    # ---- fault injection ----------------------------------------------------------------
    def inject(self, kind: str) -> None:
        """Start fault ``kind`` (a key of :data:`FAULTS`) now; it lasts until the robot stops.

        Raises:
            ConfigError: unknown kind.
        """
        if kind not in FAULTS:
            raise ConfigError(f"--fault {kind!r}: unknown (known: {', '.join(FAULTS)})")
        if kind == "tilt":
            self.inject_tilt(TILT_FAULT_RAD)
        elif kind == "frozen-tick":
            self._frozen_tick = round(self.data.time * 1000.0) & 0xFFFFFFFF
        elif kind == "mode-change":
            self.mode_machine += 1  # reports it, and drops commands for the old value
        self._active = self._active | {kind}
        with self._lock:
            self.fault_timeline.append((time.monotonic() - self._t0, kind))

    def time_to_damping(self, since_s: float) -> float | None:
        """Seconds from ``since_s`` (since start) until commands turned into damping, or None.

        Damping already in force at ``since_s`` counts as 0.
        """
        with self._lock:
            changes = list(self.damping_changes)
        before = [d for t, d in changes if t <= since_s]
        if before and before[-1]:
            return 0.0
        after = [t for t, d in changes if t > since_s and d]
        return after[0] - since_s if after else None

    def report(self) -> dict[str, Any]:
        """Commands received, bad ones, and each fault with the time until damping."""
        timeline = [
            {"t_s": round(t, 4), "fault": k, "damping_after_s": _round(self.time_to_damping(t))}
            for t, k in self.fault_timeline
        ]
        return {"commands_received": self.received_count, "commands_accepted": self.accepted_count,
                "bad_commands": self.bad_command_count, "bad_examples": self.bad_command_examples,
                "faults": timeline}  # fmt: skip

    # ---- test hooks ---------------------------------------------------------------------
    def set_remote(self, remote: bytes) -> None:
        """Set the 40 ``wireless_remote`` bytes reported from now on."""
        with self._lock:
            self._remote, self._remote_release_at = bytes(remote), None

    def press(self, buttons: Iterable[str], hold_s: float = 0.3) -> None:
        """Hold remote ``buttons`` for ``hold_s`` seconds (wall clock), then release them."""
        with self._lock:
            self._remote = encode_remote(buttons)
            self._remote_release_at = time.monotonic() + hold_s

    def stall_state(self, seconds: float) -> None:
        """Stop publishing LowState for ``seconds`` (physics keeps running)."""
        self._stall_until = time.monotonic() + seconds

    def corrupt_state_crc(self, count: int) -> None:
        """Publish the next ``count`` LowStates with a wrong CRC."""
        self._corrupt_states = count

    def inject_tilt(self, rad: float) -> None:
        """Rotate the pelvis by ``rad`` about the world x axis (the gantry holds it there)."""
        rot = quat_np.from_axis_angle([1.0, 0.0, 0.0], rad)
        with self._lock:
            self.data.qpos[3:7] = quat_np.multiply(rot, self.data.qpos[3:7])
            self.data.mocap_quat[0] = quat_np.multiply(rot, self.data.mocap_quat[0])

    def release_gantry(self) -> None:
        """Switch the virtual gantry off (the robot then stands on, or falls to, the floor)."""
        with self._lock:
            self.data.eq_active[0] = 0

    # ---- loop ---------------------------------------------------------------------------
    def step(self) -> None:
        """One physics step with the motor PD."""
        self.tau = self.motor_torque()
        self.data.ctrl[:] = self.tau
        with self._lock:
            mujoco.mj_step(self.model, self.data)

    def _publish(self) -> None:
        now = time.monotonic()
        with self._lock:
            if self._remote_release_at is not None and now >= self._remote_release_at:
                self._remote, self._remote_release_at = bytes(REMOTE_BYTES), None
        if now < self._stall_until or "stale" in self._active:
            return
        msg = self.lowstate()
        if self._corrupt_states > 0 or "bad-crc" in self._active:
            self._corrupt_states = max(0, self._corrupt_states - 1)
            msg.crc ^= 0x1
        self._writer.write(msg)
        self.state_times.append(now)

    def run(self, duration_s: float | None = None) -> None:
        """Step in real time (sleeping to the wall clock) until stopped or ``duration_s``."""
        self._running.set()
        t0, k = time.monotonic(), 0
        self._t0 = t0
        while self._running.is_set():
            self.step()
            k += 1
            if k % self.state_every == 0:
                self._publish()
            sim_t = k * self.physics_dt
            if duration_s is not None and sim_t >= duration_s:
                break
            ahead = sim_t - (time.monotonic() - t0)
            if ahead > 0.001:
                time.sleep(ahead)
            elif ahead < -0.1:  # far behind the wall clock (slow CPU): slip instead of racing
                self.overruns += 1
                t0 -= ahead

    def start(self) -> None:
        """Run in a background thread."""
        self._thread = threading.Thread(target=self.run, name="simulated-g1", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the background thread and leave the DDS domain."""
        self._running.clear()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            self._thread = None
        self.node.close()


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def main(argv: list[str] | None = None) -> int:
    """Run the simulated G1 from the command line (:func:`humimic.deploy.simrobot_cli.main`)."""
    from humimic.deploy.simrobot_cli import main as run_cli

    return run_cli(argv)


if __name__ == "__main__":
    raise SystemExit(main())
