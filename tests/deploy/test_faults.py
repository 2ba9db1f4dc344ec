"""Fault injection end to end: the simulated G1 (this process) injects each fault of
``humimic simrobot --fault`` while the deploy runtime (its own process, real DDS on ``lo``)
holds the robot stiff at the default pose. Each fault must bring damping within a stated
time, with zero bad commands (non-finite, or a target outside the joint limits) received,
and a non-zero exit. docs/safety.md tabulates the times measured here."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from humimic.deploy.simrobot import FAULTS, SimulatedG1
from tests.deploy.test_deploy_e2e import (
    assert_last_command_is_damping,
    events,
    finish,
    start_runtime,
    wait_state,
)
from tests.export.helpers import exported

STALE_MS = 400  # the e2e runtime's stale-state limit (see start_runtime)
PROMPT_S = 0.5  # damping within this after a fault the first LowState shows (10 ms at 500 Hz,
# then one 20 ms control step, plus DDS and a loaded 2-core machine)

# fault -> (the runtime's exit reason, a regex; seconds allowed until damping)
EXPECT = {
    "stale": (r"damping: stale state: newest LowState is \d+ ms old", STALE_MS / 1000 + PROMPT_S),
    "nan-state": (r"damping: non-finite LowState: gyroscope\[1\] = nan", PROMPT_S),
    "bad-quat": (r"damping: IMU quaternion norm 0\.000 is not 1", PROMPT_S),
    "tilt": (r"damping: tilt 1\.30 rad > 1\.00 rad", PROMPT_S),
    "bad-crc": (r"damping: \d+ LowStates in a row with a bad CRC", PROMPT_S),
    "joint-jump": (r"damping: joint 3 jumped (0\.99|1\.00)\d rad in \d+ ticks", PROMPT_S),
    "frozen-tick": (r"damping: LowState tick \d+ did not advance", PROMPT_S),
    "mode-change": (r"fault: robot changed mode_machine to 6 \(expected 5\)", PROMPT_S),
}
DEFAULT_SUITE = {"nan-state", "joint-jump", "stale"}  # the others are marked slow


def test_every_fault_kind_is_tested() -> None:
    assert set(EXPECT) == set(FAULTS)


def measure(sim: SimulatedG1, domain_id: int, log_dir: Path, kind: str) -> tuple[dict, float]:
    """Stiff at the default pose, inject ``kind``; (runtime summary, seconds to damping)."""
    proc = start_runtime(domain_id, log_dir, "--exit-after-damping", "0.3", stale_ms=STALE_MS)
    wait_state(log_dir, "DAMPING", proc)
    sim.press(["start"])
    wait_state(log_dir, "WAIT_START", proc)
    time.sleep(0.1)
    assert not sim.damping_changes[-1][1]  # stiff commands now
    sim.inject(kind)
    summary = finish(proc, code=1)
    t_fault = sim.fault_timeline[-1][0]
    return summary, sim.time_to_damping(t_fault)


@pytest.mark.parametrize(
    "kind", [k if k in DEFAULT_SUITE else pytest.param(k, marks=pytest.mark.slow) for k in EXPECT]
)
def test_fault_brings_damping_and_no_bad_command(
    sim: SimulatedG1,
    domain_id: int,
    tmp_path: Path,
    kind: str,
) -> None:
    reason, within_s = EXPECT[kind]
    summary, to_damping = measure(sim, domain_id, tmp_path, kind)
    assert re.match(reason, summary["exit"]), summary
    assert summary["exit_code"] == 1 and summary["faults"]
    assert to_damping is not None and to_damping <= within_s, (kind, to_damping)
    assert sim.bad_command_count == 0, sim.bad_command_examples
    if kind != "mode-change":  # after it the robot drops commands carrying the old value
        assert_last_command_is_damping(sim)
    logged = [e for e in events(tmp_path) if e["event"] == "transition"]
    assert logged[-1]["dst"] == "DAMPING"
    assert re.match(reason.split(": ", 1)[1], logged[-1]["reason"])  # the reason is logged
    print(f"{kind}: damping after {to_damping * 1e3:.0f} ms")  # for docs/safety.md (pytest -s)


def run_peer(case: str, domain_id: int, log_dir: Path, *extra: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "tests.deploy.runtime_peer", case, str(domain_id), str(log_dir)]
    return subprocess.Popen([*cmd, *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)  # fmt: skip


PEER_CASES = {  # case -> start of the fatal fault
    "inference-error": "controller error: InvalidArgument",
    "nan-policy": "policy output non-finite: joint 0 target = nan",
    "overrun": "control loop overrun",
    "writer-fails": "command writer failed: RuntimeError: injected write failure 1/3",
}


@pytest.mark.parametrize(
    "case",
    [c if c in ("nan-policy", "writer-fails") else pytest.param(c, marks=pytest.mark.slow)
     for c in PEER_CASES],
)  # fmt: skip
def test_fatal_runtime_fault_ends_in_damping_and_exit_1(
    sim: SimulatedG1,
    domain_id: int,
    tmp_path: Path,
    case: str,
) -> None:
    extra = [str(exported())] if case in ("inference-error", "nan-policy") else []
    proc = run_peer(case, domain_id, tmp_path, *extra)
    wait_state(tmp_path, "POLICY", proc, timeout=30.0)
    t_policy = time.monotonic() - sim._t0
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 1, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["fatal"].startswith(PEER_CASES[case]), summary
    assert summary["exit"] == "fault: " + summary["fatal"]
    assert sim.bad_command_count == 0, sim.bad_command_examples  # the NaN was never sent
    assert_last_command_is_damping(sim)  # the writer worked again: damping went out
    # the runtime logs the fault (wall clock); the robot notes when damping arrived
    fault_wall = next(
        e["wall"]
        for e in events(tmp_path)
        if e["event"] == "transition" and e["dst"] == "DAMPING" and e["t"] > 0.5
    )
    to_wall = time.time() - time.monotonic() + sim._t0
    arrived = [t + to_wall for t, damping in sim.damping_changes if damping and t > t_policy]
    delay = arrived[0] - fault_wall
    # damping is the very command of the faulty step, written before the step's log line (so
    # scheduling can make the delay negative); a failing writer delays it by its 3 failed
    # writes (2 of them in the exit damping window, 20 ms apart)
    assert -PROMPT_S < delay <= (0.25 if case == "writer-fails" else PROMPT_S), delay
    print(f"{case}: damping arrived {delay * 1e3:.0f} ms after the fault was logged")
