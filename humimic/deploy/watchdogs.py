"""The deploy watchdogs: thresholds and the checks every LowState goes through.

:func:`state_faults` says whether a LowState can be trusted at all (finite values, a unit
quaternion, joints inside their limits, no impossible jump, an advancing tick);
:func:`watchdog_faults` adds staleness, tilt, joint speed, CRC runs and a foreign command
writer. Each fault is a one-line reason; the safety machine turns any of them into DAMPING.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from humimic.deploy.controller import RobotState
from humimic.geometry import quat_np


@dataclass
class SafetyConfig:
    """Thresholds and timings of the state machine and its watchdogs.

    Attributes:
        stale_state_s: fault when the newest LowState is older than this (s).
        max_tilt_rad: fault when the pelvis z axis leans further than this from vertical.
        joint_vel_limit: (J,) fault when any |joint velocity| exceeds it (rad/s).
        max_bad_crc: fault after this many LowStates with a bad CRC in a row.
        quat_norm_tol: fault when the IMU quaternion's norm differs from 1 by more than this.
        joint_pos_margin_rad: fault when a joint reads further than this outside its limits.
        joint_jump_margin_rad: fault when a joint moved between two LowStates by more than its
            speed limit allows in the tick interval plus this (rad).
        move_to_default_s: duration of the interpolation to the default pose (s).
        blend_to_default_s: duration of the blend from the last policy target to default (s).
        damping_kd: kd of every motor in DAMPING (N·m·s/rad).
    """

    joint_vel_limit: np.ndarray
    stale_state_s: float = 0.1
    max_tilt_rad: float = 1.0
    max_bad_crc: int = 5
    quat_norm_tol: float = 0.05
    joint_pos_margin_rad: float = 0.1
    joint_jump_margin_rad: float = 0.05
    move_to_default_s: float = 3.0
    blend_to_default_s: float = 1.0
    damping_kd: float = 3.0


TICK_PERIOD_S = 0.001
"""Seconds per LowState ``tick`` (the G1 counts milliseconds)."""


def tilt_angle(quat_wxyz: np.ndarray) -> float:
    """Angle (rad) between the body z axis and world up, from a wxyz orientation.

    The quaternion is normalised first, so a non-unit one reports its true tilt; a zero or
    non-finite one gives NaN (never "upright").
    """
    q = np.asarray(quat_wxyz, dtype=np.float64)
    norm = float(np.linalg.norm(q))
    if not np.isfinite(norm) or norm < 1e-9:
        return float("nan")
    up_b = quat_np.rotate(quat_np.conjugate(q / norm), np.array([0.0, 0.0, 1.0]))
    return float(np.arccos(np.clip(up_b[2], -1.0, 1.0)))


def state_faults(
    state: RobotState,
    cfg: SafetyConfig,
    pos_limits: tuple[np.ndarray, np.ndarray] | None = None,
    previous: RobotState | None = None,
) -> list[str]:
    """Why this LowState cannot be trusted (empty when it can).

    Args:
        state: the newest robot state.
        cfg: tolerances.
        pos_limits: (lo, hi), each (J,), joint position limits (rad); None skips that check.
        previous: the state of the previous *new* LowState (None for the first one, or when
            no new LowState arrived since): enables the jump and tick checks.
    """
    fields = {"joint_pos": state.joint_pos, "joint_vel": state.joint_vel,
              "quaternion": state.quat_wxyz, "gyroscope": state.gyro_b}  # fmt: skip
    for name, value in fields.items():
        bad = ~np.isfinite(np.asarray(value, dtype=np.float64))
        if bad.any():
            i = int(np.argmax(bad))
            return [f"non-finite LowState: {name}[{i}] = {value[i]}"]  # nothing else is readable
    faults = []
    norm = float(np.linalg.norm(state.quat_wxyz))
    if abs(norm - 1.0) > cfg.quat_norm_tol:
        faults.append(f"IMU quaternion norm {norm:.3f} is not 1 (tolerance {cfg.quat_norm_tol})")
    if pos_limits is not None:
        lo, hi = pos_limits
        m = cfg.joint_pos_margin_rad
        out = (state.joint_pos < lo - m) | (state.joint_pos > hi + m)
        if out.any():
            j = int(np.argmax(out))
            faults.append(
                f"joint {j} reads {state.joint_pos[j]:.3f} rad, outside its limits "
                f"[{lo[j]:.3f}, {hi[j]:.3f}] + {m} rad"
            )
    if previous is not None:
        advance = (state.tick - previous.tick) % (1 << 32)
        if advance == 0 or advance >= 1 << 31:
            faults.append(f"LowState tick {state.tick} did not advance (previous {previous.tick})")
        else:
            allowed = cfg.joint_vel_limit * advance * TICK_PERIOD_S + cfg.joint_jump_margin_rad
            jump = np.abs(state.joint_pos - previous.joint_pos)
            if (jump > allowed).any():
                j = int(np.argmax(jump - allowed))
                faults.append(
                    f"joint {j} jumped {jump[j]:.3f} rad in {advance} ticks "
                    f"(at most {allowed[j]:.3f} rad possible)"
                )
    return faults


def watchdog_faults(
    state: RobotState,
    cfg: SafetyConfig,
    bad_crc_run: int,
    foreign_writer: bool,
    pos_limits: tuple[np.ndarray, np.ndarray] | None = None,
    previous: RobotState | None = None,
) -> list[str]:
    """Every watchdog that fires for this state (empty when all is well).

    ``pos_limits`` and ``previous`` are passed on to :func:`state_faults`; tilt and joint
    speed are only judged on a state that passed it.
    """
    faults = []
    if state.age_s > cfg.stale_state_s:
        faults.append(f"stale state: newest LowState is {state.age_s * 1e3:.0f} ms old")
    invalid = state_faults(state, cfg, pos_limits, previous)
    faults += invalid
    if not invalid:
        tilt = tilt_angle(state.quat_wxyz)
        if tilt > cfg.max_tilt_rad:
            faults.append(f"tilt {tilt:.2f} rad > {cfg.max_tilt_rad:.2f} rad")
        over = np.abs(state.joint_vel) > cfg.joint_vel_limit
        if over.any():
            j = int(np.argmax(np.abs(state.joint_vel) - cfg.joint_vel_limit))
            faults.append(f"joint {j} speed {state.joint_vel[j]:.1f} rad/s beyond its limit")
    if bad_crc_run >= cfg.max_bad_crc:
        faults.append(f"{bad_crc_run} LowStates in a row with a bad CRC")
    if foreign_writer:
        faults.append("another process publishes rt/lowcmd")
    return faults
