"""Benchmark the simulation backends on the G1 standing with a small sinusoid.

Measures physics steps/s (worlds x physics steps per second; policy steps/s = that / 4):

* ``bare_1world``: bare ``mj_step`` loop, 1 world, 1 thread (the reference),
* ``bare_loop_N``: bare ``mj_step`` over N persistent MjData on 1 thread,
* ``rollout_N``: ``mujoco.rollout`` with one thread per core (bare physics, no state out),
* ``mujoco_N`` / ``mujoco_N_1thread``: the ``mujoco`` backend (decimation 4, threads =
  cores / 1 thread) including state assembly and per-world gains loaded every step,
* ``mujoco_warp_<device>_<N>``: the ``mujoco_warp`` backend (``--warp-device``, Warp's
  CPU device by default, at ``--warp-worlds``, default 64; ``--no-warp`` skips it; the
  first run compiles kernels for ~30-60 s). On CUDA the timing waits for the GPU.

The machine may be shared: all runners take turns in short rounds (so each sees the same
load) and each figure is its best round; the load average is printed too. Ends with one
JSON line.

Usage: ``python tools/bench_sim.py [--worlds 64 256] [--seconds 2] [--rounds 6] [--no-warp]
[--warp-worlds 64] [--warp-device cpu]``
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from collections.abc import Callable
from contextlib import ExitStack

import mujoco
import mujoco.rollout
import numpy as np
import torch

from humimic.robot.model import build_model, default_qpos
from humimic.robot.spec import RobotSpec, load_robot_spec
from humimic.sim import make_backend

DECIMATION = 4
Runner = Callable[[], int]
"""Does some work and returns the number of physics steps (worlds x steps) done."""


def _standing_model(spec: RobotSpec) -> mujoco.MjModel:
    """Model with the spec's standing gains, so the robot stays up without a policy."""
    model = build_model(spec)
    model.actuator_gainprm[:, 0] *= spec.standing_gains_scale
    model.actuator_biasprm[:, 1:3] *= spec.standing_gains_scale
    return model


def _standing_datas(model: mujoco.MjModel, spec: RobotSpec, n: int) -> list[mujoco.MjData]:
    datas = []
    for _ in range(n):
        data = mujoco.MjData(model)
        data.qpos[:] = default_qpos(model, spec)
        data.ctrl[:] = spec.default_joint_pos
        mujoco.mj_forward(model, data)
        datas.append(data)
    return datas


def bare(model: mujoco.MjModel, spec: RobotSpec, n: int) -> Runner:
    """Bare ``mj_step`` loop over ``n`` worlds on one thread."""
    datas = _standing_datas(model, spec, n)

    def run() -> int:
        for data in datas:
            mujoco.mj_step(model, data, DECIMATION)
        return n * DECIMATION

    return run


def rollout(model: mujoco.MjModel, spec: RobotSpec, n: int, stack: ExitStack) -> Runner:
    """``mujoco.rollout`` with one thread per core, state round-tripped between calls."""
    threads = len(os.sched_getaffinity(0))
    datas = _standing_datas(model, spec, threads)
    kind = mujoco.mjtState.mjSTATE_FULLPHYSICS
    state = np.zeros((n, mujoco.mj_stateSize(model, kind)))
    for i in range(n):
        mujoco.mj_getState(model, datas[0], state[i], kind)
    control = np.tile(spec.default_joint_pos, (n, DECIMATION, 1))
    out = np.zeros((n, DECIMATION, state.shape[1]))
    models = [model] * n
    pool = stack.enter_context(mujoco.rollout.Rollout(nthread=threads))

    def run() -> int:
        pool.rollout(models, datas, state, control, state=out)
        state[:] = out[:, -1]
        return n * DECIMATION

    return run


def backend(name: str, spec: RobotSpec, n: int, stack: ExitStack, **opts: object) -> Runner:
    """A backend at ``n`` worlds with sinusoidal targets and standing gains per world."""
    sim = make_backend(name, build_model(spec), spec, n, spec.body_groups["tracked"], **opts)
    stack.callback(sim.close)
    scale = torch.full((n,), spec.standing_gains_scale)
    sim.set_params(torch.arange(n), kp_scale=scale, kd_scale=scale)
    default = torch.as_tensor(spec.default_joint_pos, dtype=torch.float32)
    phase = torch.linspace(0, 2 * math.pi, spec.num_joints)
    step = [0]

    targets = [
        (default + 0.1 * torch.sin(4 * math.pi * k * DECIMATION * sim.physics_dt + phase))
        .expand(n, -1)
        .to(sim.device)
        for k in range(50)
    ]

    def run() -> int:
        sim.step(targets[step[0]], DECIMATION)
        if sim.device.type == "cuda":
            torch.cuda.synchronize(sim.device)
        step[0] = (step[0] + 1) % 50
        return n * DECIMATION

    return run


def interleaved(runners: dict[str, Runner], seconds: float, rounds: int) -> dict[str, float]:
    """Best-round physics steps/s of each runner; rounds alternate between runners."""
    for run in runners.values():
        run()  # warm-up
    best = dict.fromkeys(runners, 0.0)
    for _ in range(rounds):
        for name, run in runners.items():
            steps, start = 0, time.perf_counter()
            while time.perf_counter() - start < seconds / rounds:
                steps += run()
            best[name] = max(best[name], steps / (time.perf_counter() - start))
    return best


def main() -> None:
    """Run the benchmarks and print a table and a JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--variant", default="g1_29dof")
    parser.add_argument("--worlds", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--seconds", type=float, default=2.0, help="per runner, all rounds")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--no-warp", action="store_true")
    parser.add_argument("--warp-worlds", type=int, nargs="+", default=[64])
    parser.add_argument("--warp-device", default="cpu", help="cpu, cuda or cuda:K")
    args = parser.parse_args()
    spec = load_robot_spec(args.variant)
    model = _standing_model(spec)
    results: dict[str, float] = {"cores": len(os.sched_getaffinity(0))}
    results["load_avg_1min"] = os.getloadavg()[0]
    with ExitStack() as stack:
        runners = {"bare_1world": bare(model, spec, 1)}
        for n in args.worlds:
            runners[f"bare_loop_{n}"] = bare(model, spec, n)
            runners[f"rollout_{n}"] = rollout(model, spec, n, stack)
            runners[f"mujoco_{n}"] = backend("mujoco", spec, n, stack)
            runners[f"mujoco_{n}_1thread"] = backend("mujoco", spec, n, stack, num_threads=1)
        if not args.no_warp:
            dev = args.warp_device
            for n in args.warp_worlds:
                name = f"mujoco_warp_{dev.replace(':', '')}_{n}"
                runners[name] = backend("mujoco_warp", spec, n, stack, device=dev)
        rates = interleaved(runners, args.seconds, args.rounds)
    for name, rate in rates.items():
        results[f"{name}_phys_per_s"] = rate
        if name.startswith("mujoco"):
            results[f"{name}_policy_per_s"] = rate / DECIMATION
    for n in args.worlds:
        results[f"mujoco_{n}_ratio_to_bare_1world"] = rates[f"mujoco_{n}"] / rates["bare_1world"]
        results[f"mujoco_{n}_1thread_ratio_to_bare_1world"] = (
            rates[f"mujoco_{n}_1thread"] / rates["bare_1world"]
        )
    results["load_avg_1min_end"] = os.getloadavg()[0]
    for key, value in results.items():
        print(f"{key:42s} {value:12.2f}")
    print(json.dumps({k: round(v, 2) for k, v in results.items()}))


if __name__ == "__main__":
    main()
