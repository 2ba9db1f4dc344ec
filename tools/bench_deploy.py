"""Benchmark of the exported-controller path at deploy time. Ends with one line of JSON.

1. Per control step: observation building + ONNX inference (``OnnxController.step``),
   median and p99 in ms over many steps (target p99 <= 1 ms), and each part alone.
2. If the DDS runtime works here: the deploy loop (``DeployRuntime`` with the ONNX controller,
   in this process) against the simulated G1 (``python -m humimic.deploy.simrobot`` on ``lo``,
   its own process, on its gantry), driven through start → A → POLICY by scripted buttons;
   the command-period jitter ``|period − control_dt|`` p99 in ms over the whole run.

Usage: python tools/bench_deploy.py [CONTROLLER_DIR] [--steps 3000] [--seconds 6]
Without a controller folder, a PBHC-sized policy (512-256-128 actor, 380 inputs) is trained
for one iteration on a synthetic clip and exported into a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from humimic.deploy.controller import RobotState
from humimic.deploy.policy import OnnxController


def make_controller(root: Path) -> Path:
    """Train one tiny-budget iteration with the default network sizes and export it."""
    from humimic.config.store import compose
    from humimic.export.onnx import export_controller
    from humimic.motion.clip import save_clip
    from humimic.testing.synthetic_clips import arm_wave_clip
    from humimic.train.runner import train

    clip = save_clip(arm_wave_clip(seconds=4.0), root / "clip.npz")
    cfg = compose("train", ["sim.num_envs=4", "runner.iterations=1", "runner.progress=false",
                            "algo.num_steps_per_env=8", f"task.motion.files=[{clip}]",
                            f"runner.run_dir={root / 'run'}"])  # fmt: skip
    return export_controller(train(cfg), root / "controller")


def random_state(c: OnnxController, rng: np.random.Generator) -> RobotState:
    q = rng.normal(0.0, 0.3, 3)
    quat = np.concatenate(([1.0], 0.5 * q)) / np.linalg.norm(np.concatenate(([1.0], 0.5 * q)))
    j = c.default_pos.shape
    return RobotState(c.default_pos + rng.normal(0, 0.1, j), rng.normal(0, 1.0, j), quat,
                      rng.normal(0, 0.5, 3))  # fmt: skip


def step_costs(c: OnnxController, steps: int) -> dict[str, float]:
    """Median and p99 (ms) of a full step, and of observation building / inference alone."""
    rng = np.random.default_rng(0)
    states = [random_state(c, rng) for _ in range(256)]
    full, build, infer = [], [], []
    c.reset(states[0])
    for k in range(steps):
        s = states[k % len(states)]
        t0 = time.perf_counter()
        if c.step(s) is None:
            c.reset(s)
            continue
        t1 = time.perf_counter()
        obs = c.builder.build(s, c.last_action, c.phase())
        t2 = time.perf_counter()
        c.infer(obs)
        t3 = time.perf_counter()
        full.append(t1 - t0)
        build.append(t2 - t1)
        infer.append(t3 - t2)

    def ms(x: list[float], q: float) -> float:
        return round(float(np.percentile(np.asarray(x[50:]) * 1e3, q)), 4)

    return {"step_median_ms": ms(full, 50), "step_p99_ms": ms(full, 99),
            "obs_median_ms": ms(build, 50), "infer_median_ms": ms(infer, 50)}  # fmt: skip


def dds_jitter(controller_dir: Path, seconds: float, domain_id: int) -> dict[str, object]:
    """Deploy loop with the ONNX controller (this process) against the simulated G1 (its own
    process, on its gantry) over DDS on ``lo``."""
    import subprocess

    from humimic.deploy.dds.channel import DdsNode
    from humimic.deploy.runtime import DeployRuntime, RuntimeOptions
    from humimic.deploy.watchdogs import SafetyConfig
    from humimic.robot.spec import load_robot_spec

    spec = load_robot_spec("g1_23dof_lock_wrist")
    controller = OnnxController(controller_dir, spec.variant)
    started: list[float] = []

    def buttons() -> list[str]:  # start at 0.3 s, A at 1.6 s (after a 1 s move to default)
        started or started.append(time.monotonic())
        t = time.monotonic() - started[0]
        return ["start"] if 0.3 < t < 0.5 else ["A"] if 1.6 < t < 1.8 else []

    cfg = SafetyConfig(joint_vel_limit=np.asarray(spec.velocity_limit, float),
                       move_to_default_s=1.0, blend_to_default_s=0.4)  # fmt: skip
    opts = RuntimeOptions(max_duration_s=seconds, operator_input=buttons, skip_gate=True)
    sim_cmd = [sys.executable, "-m", "humimic.deploy.simrobot", "--domain-id", str(domain_id),
               "--gantry", "--duration", str(seconds + 10)]  # fmt: skip
    sim = subprocess.Popen(sim_cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    node = DdsNode(domain_id, "lo")
    try:
        summary = DeployRuntime(controller, spec, node, spec.variant, cfg, opts).run()
    finally:
        sim.terminate()
        sim.wait(timeout=10)
        node.close()
    jitter = np.abs(summary.periods_s - controller.control_dt) * 1e3
    return {"period_jitter_p99_ms": round(float(np.percentile(jitter, 99)), 3),
            "period_jitter_median_ms": round(float(np.median(jitter)), 3),
            "policy_steps": controller.steps, "transitions": [t[2] for t in summary.transitions],
            "exit": summary.exit_reason}  # fmt: skip


def main() -> None:
    """Run both benchmarks and print the JSON line."""
    ap = argparse.ArgumentParser()
    ap.add_argument("controller", nargs="?", type=Path)
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--seconds", type=float, default=6.0)
    ap.add_argument("--domain-id", type=int, default=203)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.controller or make_controller(Path(tmp))
        c = OnnxController(folder, "g1_23dof_lock_wrist")
        result: dict[str, object] = {"obs_dim": c.builder.dim, **step_costs(c, args.steps)}
        try:
            result.update(dds_jitter(folder, args.seconds, args.domain_id))
        except Exception as err:  # the DDS layer is optional here; report why it did not run
            result["period_jitter_p99_ms"] = None
            result["dds_error"] = f"{type(err).__name__}: {err}"
    print(json.dumps(result), flush=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
