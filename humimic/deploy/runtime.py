"""The 50 Hz deploy loop: LowState in, safety state machine, LowCmd out, everything logged.

Exit paths (select, SIGINT, SIGTERM, exception, fatal fault, ``max_duration_s``,
``exit_after_damping_s``) all leave through one ``finally`` that sends damping frames for
``exit_damping_s`` first. The only exits that send nothing are the start-up refusals (sim2sim
gate, no LowState, wrong mode_machine, another ``rt/lowcmd`` writer), which happen before
humimic has ever written a command.

Every step validates the LowState before anything reads it (finite, unit quaternion, joints
inside their limits, no impossible jump, an advancing tick: :func:`~humimic.deploy.watchdogs.
state_faults`) and every command before it is written (finite, gains from the spec, targets
clamped to the joint limits). Fatal faults end the run: the controller raising or returning
non-finite targets, a failing command writer, a control period longer than ``max_period_s``,
the robot changing ``mode_machine``. :attr:`RunSummary.exit_code` is 0 only for a run without
any fault; 1 after a fault; 130 / 143 after SIGINT / SIGTERM (damping sent first in each case).
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from humimic.deploy.controller import Controller, JointCommand, RobotState
from humimic.deploy.dds.channel import (
    TOPIC_LOWCMD,
    TOPIC_LOWSTATE,
    DdsNode,
    is_loopback_interface,
)
from humimic.deploy.dds.crc import check_crc
from humimic.deploy.dds.messages import LowCmd_, LowState_
from humimic.deploy.dds.motor_map import SDK_POS_LIMITS, expected_mode_machine
from humimic.deploy.gate import GateVerdict, require_gate
from humimic.deploy.lowcmd_codec import MotorCodec
from humimic.deploy.remote import decode_buttons
from humimic.deploy.runlog import RunLog
from humimic.deploy.safety import SafetyMachine, SafetyState
from humimic.deploy.watchdogs import SafetyConfig, watchdog_faults
from humimic.errors import ConfigError, HumimicError

SIGNAL_EXIT_CODES = {"SIGINT": 130, "SIGTERM": 143}


@dataclass
class RuntimeOptions:
    """Options of :class:`DeployRuntime` (times in seconds)."""

    first_state_timeout_s: float = 5.0
    listen_for_writers_s: float = 0.2
    exit_damping_s: float = 0.2
    exit_after_damping_s: float | None = None
    max_duration_s: float | None = None
    log_dir: Path | None = None
    operator_input: Callable[[], Iterable[str]] | None = None
    max_period_s: float = 0.1
    skip_gate: bool = False
    unattended: bool = False

    def __post_init__(self) -> None:
        """Refuse non-finite or out-of-range times (a NaN would silently disable a check)."""
        checks = {"first_state_timeout_s": (self.first_state_timeout_s, 0.0, 3600.0),
                  "listen_for_writers_s": (self.listen_for_writers_s, 0.0, 60.0),
                  "exit_damping_s": (self.exit_damping_s, 0.0, 60.0),
                  "exit_after_damping_s": (self.exit_after_damping_s, 0.0, 3600.0),
                  "max_duration_s": (self.max_duration_s, 0.0, 1e7),
                  "max_period_s": (self.max_period_s, 1e-3, 10.0)}  # fmt: skip
        for name, (value, lo, hi) in checks.items():
            if value is not None and not (np.isfinite(value) and lo <= value <= hi):
                raise ConfigError(f"runtime option {name}: {value} is not in [{lo}, {hi}]")


@dataclass
class RunSummary:
    """What happened in one run.

    Attributes:
        exit_reason: why the loop ended.
        transitions: (time_s, from, to, reason) of every state change.
        bad_state_crc: LowStates dropped for a bad CRC.
        periods_s: seconds between consecutive commands.
        faults: (time_s, reason) of every fault (each run of faulty steps counts once).
        fatal: the fatal fault that ended the run, if any.
        exit_code: 0 without any fault, 1 after one, 130 / 143 after SIGINT / SIGTERM.
    """

    exit_reason: str
    transitions: list[tuple[float, str, str, str]]
    bad_state_crc: int
    periods_s: np.ndarray = field(repr=False)
    faults: list[tuple[float, str]] = field(default_factory=list)
    fatal: str | None = None
    exit_code: int = 0


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

    Raises:
        HumimicError: before any DDS writer exists, a controller without a passed sim2sim
            verdict for its exact bytes (:func:`~humimic.deploy.gate.require_gate`: an
            OnnxController with a missing, failed or stale verdict, or any controller other
            than the built-in hold-default one), unless ``skip_gate``; or ``skip_gate`` /
            ``unattended`` on an interface that is not loopback by address.

    Attributes:
        gate: the verdict that was checked (None for the hold-default controller or when
            skipped on loopback).
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
        _check_loopback_options(node.interface, self.opt)
        self.period_s = _control_period(controller, self.opt)
        # the one interlock before hardware: every caller of the runtime passes through it
        self.gate: GateVerdict | None = require_gate(controller, node.interface, self.opt.skip_gate)
        self.mode_machine = expected_mode_machine(variant)
        self.slots = np.asarray(spec.motor_index, dtype=np.int64)
        self.cfg = safety or SafetyConfig(joint_vel_limit=np.asarray(spec.velocity_limit, float))
        lo, hi = SDK_POS_LIMITS[self.slots].T
        self._q_lo, self._q_hi = lo, hi  # the joint limits the watchdogs and commands use
        self.machine = SafetyMachine(
            cfg=self.cfg,
            controller=controller,
            default_pos=np.clip(np.asarray(spec.default_joint_pos, float), lo, hi),
            kp=np.asarray(spec.kp, float),
            kd=np.asarray(spec.kd, float),
        )
        if self.opt.unattended:
            from humimic.deploy.unattended import UnattendedOperator

            self.opt.operator_input = UnattendedOperator(self.machine)
        self._codec = MotorCodec(
            self.slots, self.mode_machine, self.machine.kp.copy(), self.machine.kd.copy(),
            spec.locked_motors, self.cfg,
        )  # fmt: skip
        self._lock = threading.Lock()
        self._state: LowState_ | None = None
        self._stamp = 0.0
        self._seq = 0  # LowStates accepted so far (tells a new one from a re-read)
        self._seen_seq = 0
        self._previous: RobotState | None = None
        self._last_write: float | None = None
        self.bad_crc_total = 0
        self._bad_crc_run = 0
        self._stop_reason: str | None = None
        self._node = node
        self._state_sub = node.subscriber(TOPIC_LOWSTATE, LowState_, callback=self._on_state)
        self._foreign = node.subscriber(TOPIC_LOWCMD, LowCmd_, ignore_local=True)
        self._writer = node.publisher(TOPIC_LOWCMD, LowCmd_)
        self._log = RunLog(self.opt.log_dir)

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
            self._seq += 1

    def _robot_state(self, msg: LowState_, stamp: float, t0: float) -> RobotState:
        buttons = decode_buttons(msg.wireless_remote)
        if self.opt.operator_input is not None:
            buttons = buttons | frozenset(self.opt.operator_input())
        now = time.monotonic()
        return self._codec.robot_state(msg, buttons, now - stamp, now - t0)

    # ---- output -------------------------------------------------------------------------
    def command_problem(self, cmd: JointCommand) -> str:
        """Why ``cmd`` must not be written ("" when it may); see
        :meth:`~humimic.deploy.lowcmd_codec.MotorCodec.command_problem`."""
        return self._codec.command_problem(cmd)

    def lowcmd(self, cmd: JointCommand) -> LowCmd_:
        """The LowCmd_ for a JointCommand (policy joints via motor_index, locked motors held).

        Raises:
            ValueError: the command fails :meth:`command_problem` (never written).
        """
        return self._codec.lowcmd(cmd)

    def damping_command(self) -> JointCommand:
        """Damping for every motor: kp 0, kd = damping_kd, finite (default-pose) targets."""
        return self.machine.damping()

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

    def _latest(self) -> tuple[LowState_ | None, float, int, int]:
        with self._lock:
            return self._state, self._stamp, self._bad_crc_run, self._seq

    def _on_signal(self, signum: int, _frame: object) -> None:
        self._stop_reason = signal.Signals(signum).name

    def run(self) -> RunSummary:
        """Run until an exit condition; always ends by sending damping. Returns a summary."""
        handlers = self._install_signals()
        self._periods: list[float] = []
        self._sent_any = False
        reason = "unknown"
        damping_sent = True
        try:
            self._startup_checks()
            self._log.event(0.0, "start", mode_machine=self.mode_machine)
            reason = self._loop()
        except BaseException as exc:
            reason = f"exception: {type(exc).__name__}: {exc}"
            raise
        finally:
            if self._sent_any:
                damping_sent = self._send_damping()
            self._log.event(-1.0, "exit", reason=reason, bad_state_crc=self.bad_crc_total,
                            faults=self.machine.faults, damping_sent=damping_sent)  # fmt: skip
            self._log.close()
            for sig, h in handlers.items():
                signal.signal(sig, h)
        m = self.machine
        trs = [(t.time_s, str(t.source), str(t.target), t.reason) for t in m.transitions]
        code = SIGNAL_EXIT_CODES.get(reason, 1 if m.faults or m.fatal else 0)
        return RunSummary(reason, trs, self.bad_crc_total, np.asarray(self._periods),
                          list(m.faults), m.fatal, code)  # fmt: skip

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
            next_t += self.period_s
            if next_t < now - self.period_s:  # fell behind by > 1 period: resync
                next_t = now
            time.sleep(max(0.0, next_t - time.monotonic()))
        return reason

    def _control_step(self, t0: float) -> None:
        """Read and validate the newest state, run watchdogs and the state machine, validate
        the command, publish, log."""
        msg, stamp, bad_run, seq = self._latest()
        if msg is None:  # cannot happen: the start-up checks waited for the first LowState
            raise HumimicError("no LowState received before the control loop started")
        rs = self._robot_state(msg, stamp, t0)
        fresh = seq != self._seen_seq  # jump and tick checks compare two *new* LowStates
        previous = self._previous if fresh else None
        faults = watchdog_faults(rs, self.cfg, bad_run, self._foreign.count > 0,
                                 (self._q_lo, self._q_hi), previous)  # fmt: skip
        if fresh:
            self._seen_seq, self._previous = seq, rs
        m, n_tr = self.machine, len(self.machine.transitions)
        if msg.mode_machine != self.mode_machine:
            m.fault(rs.time_s, f"robot changed mode_machine to {msg.mode_machine} "
                    f"(expected {self.mode_machine})", fatal=True)  # fmt: skip
        cmd = m.step(rs, faults)
        now = time.monotonic()
        if self._last_write is not None and now - self._last_write > self.opt.max_period_s:
            gap_ms, limit_ms = (now - self._last_write) * 1e3, self.opt.max_period_s * 1e3
            m.fault(rs.time_s, f"control loop overrun: {gap_ms:.0f} ms between commands "
                    f"(limit {limit_ms:.0f} ms)", fatal=True)  # fmt: skip
            cmd = m.damping()
        problem = self.command_problem(cmd)
        if problem:  # the state machine should never produce one: a last line of defence
            m.fault(rs.time_s, problem, fatal=True)
            cmd = m.damping()
        out = self.lowcmd(cmd)
        try:
            self._writer.write(out)
        except Exception as err:  # DDS raises its own exception types
            m.fault(rs.time_s, f"command writer failed: {type(err).__name__}: {err}", fatal=True)
        else:
            self._sent_any = True
            self._last_write = time.monotonic()
        for tr in self.machine.transitions[n_tr:]:
            self._log.event(tr.time_s, "transition", src=tr.source, dst=tr.target,
                            reason=tr.reason)  # fmt: skip
        self._log.step(rs, cmd, self.machine.state)

    def _exit_reason(self, t0: float) -> str:
        m, now = self.machine, time.monotonic()
        if self._stop_reason:
            return self._stop_reason
        if m.fatal is not None:
            return "fault: " + m.fatal
        if m.exit_requested:
            return "operator: select"
        if self.opt.max_duration_s is not None and now - t0 > self.opt.max_duration_s:
            return "max duration"
        after = self.opt.exit_after_damping_s
        left_idle = len(m.transitions) > 1  # the first transition is ZERO_TORQUE → DAMPING
        in_damping = m.state == SafetyState.DAMPING and left_idle
        if after is not None and in_damping and now - t0 - m.transitions[-1].time_s > after:
            return "damping: " + m.transitions[-1].reason
        return ""

    def _send_damping(self) -> bool:
        """Damping frames for ``exit_damping_s``; True when at least one was written."""
        msg = self.lowcmd(self.damping_command())
        end = time.monotonic() + self.opt.exit_damping_s
        written = 0
        while True:
            try:
                self._writer.write(msg)
                written += 1
            except Exception as err:  # keep trying: the writer may recover within the window
                self._log.event(-1.0, "damping write failed", error=f"{type(err).__name__}: {err}")
            if time.monotonic() >= end:
                break
            time.sleep(self.period_s)
        self._sent_any = self._sent_any or written > 0
        return written > 0

    def _install_signals(self) -> dict[int, Any]:
        if threading.current_thread() is not threading.main_thread():
            return {}
        return {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}


def _check_loopback_options(interface: str, opt: RuntimeOptions) -> None:
    """Refuse unattended operation on an interface that is not loopback by address."""
    if opt.unattended and not is_loopback_interface(interface):
        raise ConfigError(f"unattended operation is only allowed on loopback, not {interface}")


def _control_period(controller: Controller, opt: RuntimeOptions) -> float:
    """The loop period (s): the controller's own ``control_dt`` (the rate it was trained at).

    Raises:
        ConfigError: A period that is not finite and in [1 ms, 1 s], or one longer than the
            overrun limit ``max_period_s`` (every step would count as an overrun).
    """
    period = float(controller.control_dt)
    if not (np.isfinite(period) and 1e-3 <= period <= 1.0):
        raise ConfigError(f"controller control_dt {period} s is not in [0.001, 1]")
    if period > opt.max_period_s:
        raise ConfigError(
            f"controller control_dt {period * 1e3:.0f} ms exceeds the overrun limit "
            f"max_period_s {opt.max_period_s * 1e3:.0f} ms"
        )
    return period


if __name__ == "__main__":  # the hold-default runner (kept here: tests and tools start it so)
    from humimic.deploy.hold_default import main

    raise SystemExit(main())
