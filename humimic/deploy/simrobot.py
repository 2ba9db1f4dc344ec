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
"""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Iterable

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
from humimic.deploy.dds.motor_map import MODE_PR, expected_mode_machine
from humimic.deploy.remote import encode_remote
from humimic.geometry import quat_np

GRAVITY = 9.81


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
        self.model, self.data = _torque_controlled_g1(self.spec, physics_dt, gantry, gantry_lift)
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

        self.node = DdsNode(domain_id, interface)
        self._writer = self.node.publisher(TOPIC_LOWSTATE, LowState_)
        self._cmd_sub = self.node.subscriber(TOPIC_LOWCMD, LowCmd_, callback=self._on_cmd)
        self._thread: threading.Thread | None = None
        self._running = threading.Event()
        self.overruns = 0

    # ---- commands -----------------------------------------------------------------------
    def _on_cmd(self, msg: LowCmd_) -> None:
        if not check_crc(msg):
            with self._lock:
                self.bad_crc_count += 1
            return
        if msg.mode_machine != self.mode_machine or msg.mode_pr != MODE_PR:
            with self._lock:
                self.mode_mismatch_count += 1
            return
        m = msg.motor_cmd
        cmd = np.array([[c.mode, c.q, c.dq, c.tau, c.kp, c.kd] for c in m], dtype=np.float64).T
        with self._lock:
            self._cmd = cmd
            self.accepted_count += 1
            self.last_command = msg

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
        quat = d.qpos[3:7] / np.linalg.norm(d.qpos[3:7])
        imu = msg.imu_state
        imu.quaternion = quat.tolist()
        imu.gyroscope = d.qvel[3:6].tolist()  # free-joint angular velocity is in the body frame
        imu.accelerometer = quat_np.rotate(quat_np.conjugate(quat), [0, 0, GRAVITY]).tolist()
        imu.rpy = _rpy(quat).tolist()
        q, dq, ddq = d.qpos[self._qadr], d.qvel[self._vadr], d.qacc[self._vadr]
        for j, slot in enumerate(self._slots):
            ms = msg.motor_state[slot]
            ms.mode, ms.q, ms.dq, ms.ddq, ms.tau_est = 1, q[j], dq[j], ddq[j], self.tau[j]
            ms.temperature, ms.vol = [30, 30], 24.0
        with self._lock:
            msg.wireless_remote = self._remote
        set_crc(msg)
        return msg

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
        if now < self._stall_until:
            return
        msg = self.lowstate()
        if self._corrupt_states > 0:
            self._corrupt_states -= 1
            msg.crc ^= 0x1
        self._writer.write(msg)
        self.state_times.append(now)

    def run(self, duration_s: float | None = None) -> None:
        """Step in real time (sleeping to the wall clock) until stopped or ``duration_s``."""
        self._running.set()
        t0, k = time.monotonic(), 0
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


def _torque_controlled_g1(
    spec: object, physics_dt: float, gantry: bool, lift: float
) -> tuple[mujoco.MjModel, mujoco.MjData]:
    """Model with torque motors and data at the default pose (on the gantry if asked)."""
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


def _build_model_with_gantry(spec: object, physics_dt: float) -> mujoco.MjModel:
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


def _rpy(quat: np.ndarray) -> np.ndarray:
    """Roll, pitch, yaw (rad, extrinsic x-y-z) of a wxyz quaternion."""
    w, x, y, z = quat
    roll = np.arctan2(2 * (w * x + y * z), 1 - 2 * (x * x + y * y))
    pitch = np.arcsin(np.clip(2 * (w * y - z * x), -1.0, 1.0))
    yaw = np.arctan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))
    return np.array([roll, pitch, yaw])


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="humimic simrobot", description=__doc__.splitlines()[0])
    p.add_argument("--variant", default="g1_23dof_lock_wrist")
    p.add_argument("--iface", default="lo")
    p.add_argument("--domain-id", type=int, default=1)
    p.add_argument("--physics-dt", type=float, default=0.001)
    p.add_argument("--gantry", action="store_true", help="hold the pelvis fixed in the air")
    p.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    p.add_argument("--press", action="append", default=[], metavar="BUTTON@SECONDS",
                   help="press a remote button at a time, e.g. start@2 (repeatable)")  # fmt: skip
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the simulated G1 until Ctrl-C (or ``--duration``)."""
    args = _parse(argv)
    presses = sorted((float(t), b) for b, t in (p.split("@") for p in args.press))
    robot = SimulatedG1(
        args.variant, args.iface, args.domain_id, physics_dt=args.physics_dt, gantry=args.gantry
    )
    robot.start()
    t0 = time.monotonic()
    try:
        while robot._thread is not None and robot._thread.is_alive():
            elapsed = time.monotonic() - t0
            while presses and presses[0][0] <= elapsed:
                robot.press([presses.pop(0)[1]])
            if args.duration is not None and elapsed > args.duration:
                break
            time.sleep(0.01)
    except KeyboardInterrupt:
        pass
    finally:
        robot.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
