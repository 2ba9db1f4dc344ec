"""Benchmark of the G1 DDS layer: CRC and codec cost, and loop timing of the deploy runtime
against the simulated G1 over DDS on `lo`. Ends with one line of JSON.

Usage: python tools/bench_deploy_dds.py [--seconds 6] [--domain-id 201]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from humimic.deploy.dds.crc import lowcmd_crc, lowstate_crc, pack_lowcmd
from humimic.deploy.dds.messages import LowState_, zero_lowcmd, zero_lowstate
from humimic.deploy.simrobot import SimulatedG1


def per_call_us(fn: Callable[[], object], n: int = 2000) -> float:
    fn()
    t = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t) / n * 1e6


def percentiles_ms(periods: np.ndarray) -> dict[str, float]:
    p = np.asarray(periods) * 1e3
    return {k: round(float(np.percentile(p, q)), 3) for k, q in (("p50", 50), ("p99", 99))} | {
        "max": round(float(p.max()), 3)
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=6.0)
    ap.add_argument("--domain-id", type=int, default=201)
    args = ap.parse_args()
    cmd, state = zero_lowcmd(), zero_lowstate()
    data = state.serialize()
    result = {
        "lowcmd_crc_us": round(per_call_us(lambda: lowcmd_crc(cmd)), 1),
        "lowcmd_pack_us": round(per_call_us(lambda: pack_lowcmd(cmd)), 1),
        "lowstate_crc_us": round(per_call_us(lambda: lowstate_crc(state)), 1),
        "lowstate_serialize_us": round(per_call_us(state.serialize), 1),
        "lowstate_deserialize_us": round(per_call_us(lambda: LowState_.deserialize(data)), 1),
    }
    sim = SimulatedG1("g1_23dof_lock_wrist", "lo", args.domain_id, gantry=True)
    sim.start()
    with tempfile.TemporaryDirectory() as tmp:
        run = [sys.executable, "-m", "humimic.deploy.runtime", "--domain-id", str(args.domain_id),
               "--log-dir", tmp, "--max-duration", str(args.seconds)]  # fmt: skip
        subprocess.run(run, check=True, capture_output=True, timeout=args.seconds + 30)
        log = np.load(Path(tmp) / "steps.npz")
    sim.stop()
    result["runtime_period_ms"] = percentiles_ms(np.diff(log["time_s"]))
    result["runtime_state_age_ms"] = percentiles_ms(log["state_age_s"])
    result["sim_state_period_ms"] = percentiles_ms(np.diff(sim.state_times[100:]))
    result["sim_overruns"] = sim.overruns
    print(json.dumps(result))


if __name__ == "__main__":
    main()
