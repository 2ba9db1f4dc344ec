"""Deploy runtime with an injected in-process fault, run as its own process (see test_faults.py).

Usage: python -m tests.deploy.runtime_peer CASE DOMAIN LOG_DIR [CONTROLLER_DIR]

Runs :class:`DeployRuntime` on ``lo`` with the unattended operator (start, then A) against the
simulated G1 of the calling test, and injects one fault once the policy runs:

* ``inference-error``: the ONNX controller is fed an observation of the wrong width, so
  onnxruntime itself raises during ``step``.
* ``nan-policy``: the ONNX controller is fed a NaN observation, so the real network outputs NaN.
* ``overrun``: the hold-default controller takes 0.3 s for one step (limit 0.1 s).
* ``writer-fails``: the real DDS writer raises on 3 consecutive writes, then works again.

Prints one JSON line (exit reason, fatal fault, faults) and exits with the run's exit code.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

from humimic.deploy.controller import HoldDefaultController
from humimic.deploy.dds.channel import DdsNode
from humimic.deploy.runtime import DeployRuntime, RuntimeOptions
from humimic.deploy.watchdogs import SafetyConfig
from humimic.robot.spec import load_robot_spec

VARIANT = "g1_23dof_lock_wrist"


class SlowOnce(HoldDefaultController):
    """Holds the default pose; its 10th step takes 0.3 s (a stalled control loop)."""

    def step(self, state: object) -> np.ndarray | None:
        if self._steps == 9:
            time.sleep(0.3)
        return super().step(state)


class FlakyWriter:
    """The runtime's real DDS writer, raising on writes ``first``..``first + count - 1``."""

    def __init__(self, writer: object, first: int, count: int) -> None:
        self.writer, self.first, self.count, self.n = writer, first, count, 0

    def write(self, msg: object) -> None:
        self.n += 1
        if self.first <= self.n < self.first + self.count:
            raise RuntimeError(f"injected write failure {self.n - self.first + 1}/{self.count}")
        self.writer.write(msg)


def controller_for(case: str, spec: object, folder: str | None) -> object:
    """The controller of a case (ONNX cases patch what the network is fed once it runs)."""
    if case in ("overrun", "writer-fails"):
        return (
            SlowOnce(spec.default_joint_pos)
            if case == "overrun"
            else HoldDefaultController(spec.default_joint_pos)
        )
    from humimic.deploy.policy import OnnxController

    onnx = OnnxController(Path(folder), VARIANT)
    real_build = onnx.builder.build

    def build(*args: object) -> np.ndarray:
        obs = real_build(*args)
        if onnx.steps < 5:
            return obs
        return obs[:-1] if case == "inference-error" else np.full_like(obs, np.nan)

    onnx.builder.build = build
    return onnx


def main() -> int:
    case, domain, log_dir = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
    folder = sys.argv[4] if len(sys.argv) > 4 else None
    spec = load_robot_spec(VARIANT)
    cfg = SafetyConfig(joint_vel_limit=np.asarray(spec.velocity_limit, float),
                       stale_state_s=0.4, move_to_default_s=0.5)  # fmt: skip
    period = 0.25 if case == "overrun" else 1.0
    opts = RuntimeOptions(log_dir=log_dir, max_duration_s=20.0, unattended=True,
                          skip_gate=True, max_period_s=period)  # fmt: skip
    node = DdsNode(domain, "lo")
    try:
        runtime = DeployRuntime(controller_for(case, spec, folder), spec, node, VARIANT, cfg, opts)
        if case == "writer-fails":  # fail once the policy runs: 0.5 s move + settling ≈ 60 writes
            runtime._writer = FlakyWriter(runtime._writer, first=80, count=3)
        summary = runtime.run()
    finally:
        node.close()
    print(json.dumps({"exit": summary.exit_reason, "fatal": summary.fatal,
                      "faults": summary.faults, "code": summary.exit_code}))  # fmt: skip
    return summary.exit_code


if __name__ == "__main__":
    raise SystemExit(main())
