"""The 50 Hz deploy loop: LowState in, safety state machine, LowCmd out, everything logged.

Exit paths (select, SIGINT, SIGTERM, exception, ``max_duration_s``, ``exit_after_damping_s``)
all leave through one ``finally`` that sends damping frames for ``exit_damping_s`` first. The
only exits that send nothing are the start-up refusals (no LowState, wrong mode_machine, another
``rt/lowcmd`` writer), which happen before humimic has ever written a command.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from humimic.deploy.dds.channel import TOPIC_LOWCMD, TOPIC_LOWSTATE, DdsNode
from humimic.deploy.dds.crc import check_crc, set_crc
from humimic.deploy.dds.messages import LowCmd_, LowState_, zero_lowcmd
from humimic.deploy.dds.motor_map import (
    MODE_PR,
    MOTOR_ENABLE,
    SDK_POS_LIMITS,
    expected_mode_machine,
)
from humimic.deploy.remote import StdinButtons, decode_buttons
from humimic.deploy.safety import (
    Controller,
    HoldDefaultController,
    JointCommand,
    RobotState,
    SafetyConfig,
    SafetyMachine,
    SafetyState,
    watchdog_faults,
)
from humimic.errors import HumimicError

STATE_CODES = {s: i for i, s in enumerate(SafetyState)}


@dataclass
class RuntimeOptions:
    """Options of :class:`DeployRuntime` (times in seconds)."""

    control_dt: float = 0.02
    first_state_timeout_s: float = 5.0
    listen_for_writers_s: float = 0.2
    exit_damping_s: float = 0.2
    exit_after_damping_s: float | None = None
    max_duration_s: float | None = None
    log_dir: Path | None = None
    operator_input: Callable[[], Iterable[str]] | None = None


@dataclass
class RunSummary:
    """What happened in one run."""

    exit_reason: str
    transitions: list[tuple[float, str, str, str]]
    bad_state_crc: int
    periods_s: np.ndarray = field(repr=False)


class DeployRuntime:
    """Runs a Controller on the G1 (or the simulated G1) behind the safety state machine.

    Args:
        controller: what runs in the POLICY state.
        spec: robot spec (joint_names, motor_index, kp, kd, velocity_limit, default_joint_pos,
            locked_motors with name/motor_index/kp/kd/pos).
        node: DDS participant on the robot's interface.
        variant: robot variant, e.g. "g1_23dof_lock_wrist" (selects the expected mode_machine).
        safety: thresholds; defaults from the spec (joint speed limit = velocity_limit).
        options: loop options.
    """

    def __init__(
        self,
        controller: Controller,
        spec: Any,
        node: DdsNode,
        variant: str,
        safety: SafetyConfig | None = None,
        options: RuntimeOptions | None = None,
    ) -> None:
        self.spec = spec
        self.opt = options or RuntimeOptions()
        self.mode_machine = expected_mode_machine(variant)
        self.slots = np.asarray(spec.motor_index, dtype=np.int64)
        self.cfg = safety or SafetyConfig(joint_vel_limit=np.asarray(spec.velocity_limit, float))
        lo, hi = SDK_POS_LIMITS[self.slots].T
        self._q_lo, self._q_hi = lo, hi
        self.machine = SafetyMachine(
            cfg=self.cfg,
            controller=controller,
            default_pos=np.clip(np.asarray(spec.default_joint_pos, float), lo, hi),
            kp=np.asarray(spec.kp, float),
            kd=np.asarray(spec.kd, float),
        )
        self._lock = threading.Lock()
        self._state: LowState_ | None = None
        self._stamp = 0.0
        self.bad_crc_total = 0
        self._bad_crc_run = 0
        self._stop_reason: str | None = None
        self._node = node
        self._state_sub = node.subscriber(TOPIC_LOWSTATE, LowState_, callback=self._on_state)
        self._foreign = node.subscriber(TOPIC_LOWCMD, LowCmd_, ignore_local=True)
        self._writer = node.publisher(TOPIC_LOWCMD, LowCmd_)
        self._log = _RunLog(self.opt.log_dir)

    # ---- inputs -------------------------------------------------------------------------
    def _on_state(self, msg: LowState_) -> None:
        ok = check_crc(msg)
        with self._lock:
            if not ok:
                self.bad_crc_total += 1
                self._bad_crc_run += 1
                return
            self._bad_crc_run = 0
            self._state, self._stamp = msg, time.monotonic()

    def _robot_state(self, msg: LowState_, stamp: float, t0: float) -> RobotState:
        motors = msg.motor_state
        buttons = decode_buttons(msg.wireless_remote)
        if self.opt.operator_input is not None:
            buttons = buttons | frozenset(self.opt.operator_input())
        return RobotState(
            joint_pos=np.array([motors[i].q for i in self.slots]),
            joint_vel=np.array([motors[i].dq for i in self.slots]),
            quat_wxyz=np.array(msg.imu_state.quaternion, dtype=np.float64),
            gyro_b=np.array(msg.imu_state.gyroscope, dtype=np.float64),
            buttons=buttons,
            tick=int(msg.tick),
            age_s=time.monotonic() - stamp,
            time_s=time.monotonic() - t0,
        )

    # ---- output -------------------------------------------------------------------------
    def lowcmd(self, cmd: JointCommand) -> LowCmd_:
        """The LowCmd_ for a JointCommand: policy joints via motor_index, locked motors held."""
        msg = zero_lowcmd()
        msg.mode_pr, msg.mode_machine = MODE_PR, self.mode_machine
        q = np.clip(cmd.q, self._q_lo, self._q_hi)
        for j, slot in enumerate(self.slots):
            m = msg.motor_cmd[slot]
            m.mode, m.q, m.kp, m.kd = MOTOR_ENABLE, float(q[j]), float(cmd.kp[j]), float(cmd.kd[j])
        for lm in self.spec.locked_motors:
            m = msg.motor_cmd[lm.motor_index]
            m.mode, m.q = MOTOR_ENABLE, float(lm.pos)
            if cmd.locked == "hold":
                m.kp, m.kd = float(lm.kp), float(lm.kd)
            elif cmd.locked == "damp":
                m.kd = float(self.cfg.damping_kd)
        set_crc(msg)
        return msg

    def damping_command(self) -> JointCommand:
        """Damping for every motor: kp 0, kd = damping_kd."""
        n = len(self.slots)
        kd = np.full(n, self.cfg.damping_kd)
        return JointCommand(self.machine.default_pos.copy(), np.zeros(n), kd, "damp")

    # ---- loop ---------------------------------------------------------------------------
    def _startup_checks(self) -> None:
        deadline = time.monotonic() + self.opt.first_state_timeout_s
        while self._latest()[0] is None and time.monotonic() < deadline:
            time.sleep(0.005)
        msg = self._latest()[0]
        if msg is None:
            what = "only LowStates with a bad CRC" if self.bad_crc_total else "no LowState"
            raise HumimicError(
                f"{what} on {TOPIC_LOWSTATE} (domain {self._node.domain_id}, "
                f"iface {self._node.interface}) within {self.opt.first_state_timeout_s} s"
            )
        if msg.mode_machine != self.mode_machine:
            raise HumimicError(
                f"robot reports mode_machine {msg.mode_machine}, this variant needs "
                f"{self.mode_machine}: refusing to send commands"
            )
        time.sleep(self.opt.listen_for_writers_s)
        if self._foreign.count:
            raise HumimicError(f"another process already publishes {TOPIC_LOWCMD}: refusing")

    def _latest(self) -> tuple[LowState_ | None, float, int]:
        with self._lock:
            return self._state, self._stamp, self._bad_crc_run

    def _on_signal(self, signum: int, _frame: object) -> None:
        self._stop_reason = signal.Signals(signum).name

    def run(self) -> RunSummary:
        """Run until an exit condition; always ends by sending damping. Returns a summary."""
        handlers = self._install_signals()
        self._periods: list[float] = []
        self._sent_any = False
        reason = "unknown"
        try:
            self._startup_checks()
            self._log.event(0.0, "start", mode_machine=self.mode_machine)
            reason = self._loop()
        except BaseException as exc:
            reason = f"exception: {type(exc).__name__}: {exc}"
            raise
        finally:
            if self._sent_any:
                self._send_damping()
            self._log.event(-1.0, "exit", reason=reason, bad_state_crc=self.bad_crc_total)
            self._log.close()
            for sig, h in handlers.items():
                signal.signal(sig, h)
        trs = [(t.time_s, str(t.source), str(t.target), t.reason) for t in self.machine.transitions]
        return RunSummary(reason, trs, self.bad_crc_total, np.asarray(self._periods))

    def _loop(self) -> str:
        """The fixed-rate loop (deadline scheduling, no drift); returns the exit reason."""
        t0 = time.monotonic()
        next_t, last_pub = t0, None
        while not (reason := self._exit_reason(t0)):
            self._control_step(t0)
            now = time.monotonic()
            if last_pub is not None:
                self._periods.append(now - last_pub)
            last_pub = now
            next_t += self.opt.control_dt
            if next_t < now - self.opt.control_dt:  # fell behind by > 1 period: resync
                next_t = now
            time.sleep(max(0.0, next_t - time.monotonic()))
        return reason

    def _control_step(self, t0: float) -> None:
        """Read the newest state, run watchdogs and the state machine, publish, log."""
        msg, stamp, bad_run = self._latest()
        rs = self._robot_state(msg, stamp, t0)
        faults = watchdog_faults(rs, self.cfg, bad_run, self._foreign.count > 0)
        if msg.mode_machine != self.mode_machine:
            faults.append(f"mode_machine changed to {msg.mode_machine}")
        n_tr = len(self.machine.transitions)
        cmd = self.machine.step(rs, faults)
        self._writer.write(self.lowcmd(cmd))
        self._sent_any = True
        for tr in self.machine.transitions[n_tr:]:
            self._log.event(tr.time_s, "transition", src=tr.source, dst=tr.target,
                            reason=tr.reason)  # fmt: skip
        self._log.step(rs, cmd, self.machine.state)

    def _exit_reason(self, t0: float) -> str:
        m, now = self.machine, time.monotonic()
        if self._stop_reason:
            return self._stop_reason
        if m.exit_requested:
            return "operator: select"
        if self.opt.max_duration_s is not None and now - t0 > self.opt.max_duration_s:
            return "max duration"
        after = self.opt.exit_after_damping_s
        left_idle = len(m.transitions) > 1  # the first transition is ZERO_TORQUE → DAMPING
        in_damping = after is not None and m.state == SafetyState.DAMPING and left_idle
        if in_damping and now - t0 - m.transitions[-1].time_s > after:
            return "damping: " + m.transitions[-1].reason
        return ""

    def _send_damping(self) -> None:
        msg = self.lowcmd(self.damping_command())
        end = time.monotonic() + self.opt.exit_damping_s
        while True:
            self._writer.write(msg)
            if time.monotonic() >= end:
                break
            time.sleep(self.opt.control_dt)

    def _install_signals(self) -> dict[int, Any]:
        if threading.current_thread() is not threading.main_thread():
            return {}
        return {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}


class _RunLog:
    """events.jsonl (flushed as it goes) and steps.npz (written at close) in a run folder."""

    def __init__(self, log_dir: Path | None) -> None:
        self.dir = log_dir
        self._rows: dict[str, list[Any]] = {k: [] for k in _STEP_KEYS}
        self._events = None
        if log_dir is not None:
            log_dir.mkdir(parents=True, exist_ok=True)
            self._events = open(log_dir / "events.jsonl", "a", encoding="utf-8")  # noqa: SIM115

    def event(self, time_s: float, kind: str, **info: Any) -> None:
        if self._events is not None:
            row = {"wall": time.time(), "t": round(time_s, 4), "event": kind, **info}
            self._events.write(json.dumps(row, default=str) + "\n")
            self._events.flush()

    def step(self, rs: RobotState, cmd: JointCommand, state: SafetyState) -> None:
        if self.dir is None:
            return
        values = (rs.time_s, STATE_CODES[state], rs.tick, rs.age_s, rs.joint_pos, rs.joint_vel,
                  rs.quat_wxyz, rs.gyro_b, cmd.q, cmd.kp, cmd.kd)  # fmt: skip
        for k, v in zip(_STEP_KEYS, values):
            self._rows[k].append(v)

    def close(self) -> None:
        if self._events is not None:
            self._events.close()
            self._events = None
        if self.dir is None or not self._rows["time_s"]:
            return
        arrays = {k: np.asarray(v) for k, v in self._rows.items()}
        arrays["state_names"] = np.array([str(s) for s in SafetyState])
        tmp = self.dir / "steps.tmp.npz"
        np.savez_compressed(tmp, **arrays)
        os.replace(tmp, self.dir / "steps.npz")


_STEP_KEYS = ("time_s", "state", "tick", "state_age_s", "joint_pos", "joint_vel", "quat_wxyz",
              "gyro_b", "q_target", "kp", "kd")  # fmt: skip


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="humimic deploy", description=__doc__.splitlines()[0])
    p.add_argument("--variant", default="g1_23dof_lock_wrist")
    p.add_argument("--iface", default="lo")
    p.add_argument("--domain-id", type=int, default=1)
    p.add_argument("--hold-duration", type=float, default=None,
                   help="hold-default controller: end its 'clip' after this many s")  # fmt: skip
    p.add_argument("--move-to-default", type=float, default=3.0)
    p.add_argument("--blend-to-default", type=float, default=1.0)
    p.add_argument("--stale-state-ms", type=float, default=100.0,
                   help="damping when the newest LowState is older than this")  # fmt: skip
    p.add_argument("--exit-after-damping", type=float, default=None)
    p.add_argument("--max-duration", type=float, default=None)
    p.add_argument("--log-dir", type=Path, default=None)
    p.add_argument("--keyboard", action="store_true", help="s/a/b/q + Enter as remote buttons")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the hold-default controller behind the safety machine (sim2sim / first hardware)."""
    from humimic.robot.spec import load_robot_spec

    args = _parse(argv)
    spec = load_robot_spec(args.variant)
    node = DdsNode(args.domain_id, args.iface)
    controller = HoldDefaultController(spec.default_joint_pos, args.hold_duration)
    cfg = SafetyConfig(
        joint_vel_limit=np.asarray(spec.velocity_limit, float),
        stale_state_s=args.stale_state_ms / 1000.0,
        move_to_default_s=args.move_to_default,
        blend_to_default_s=args.blend_to_default,
    )
    opts = RuntimeOptions(
        exit_after_damping_s=args.exit_after_damping,
        max_duration_s=args.max_duration,
        log_dir=args.log_dir,
        operator_input=StdinButtons() if args.keyboard else None,
    )
    try:
        summary = DeployRuntime(controller, spec, node, args.variant, cfg, opts).run()
    finally:
        node.close()
    print(json.dumps({"exit": summary.exit_reason, "bad_state_crc": summary.bad_state_crc}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
