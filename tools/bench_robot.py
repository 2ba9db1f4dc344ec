"""Benchmark the robot layer: torch forward kinematics and bare MuJoCo physics of the G1.

Measures

* :class:`~humimic.robot.kinematics.RobotKinematics` on a batch of random configurations:
  forward only in float32 and float64, and forward + backward (gradients of all body poses
  w.r.t. root pose and joint angles) in float32 and float64; frames/s,
* bare physics of the G1 from ``build_model`` standing, held at the default pose by its
  position actuators: ``mj_step`` in a loop on one ``MjData`` (1 thread), and
  ``mujoco.rollout`` with 2 threads over several worlds; physics steps/s summed over worlds.

Rates are averages over ``--seconds`` after a warm-up. The machine may be shared with other
jobs, so the load average is printed and stored. Ends with one line of JSON.

Usage: ``python tools/bench_robot.py [--batch 4096] [--seconds 3]
[--variant g1_23dof_lock_wrist] [--torch-threads 1] [--worlds 8]``
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from functools import partial

import mujoco
import mujoco.rollout
import numpy as np
import torch

from humimic.robot.kinematics import RobotKinematics
from humimic.robot.model import build_model, default_qpos, set_actuator_gains
from humimic.robot.spec import RobotSpec, load_robot_spec

ROLLOUT_STEPS = 200
"""Physics steps per ``mujoco.rollout`` call (per world)."""
RESET_EVERY = 1000
"""The single-world loop restarts from the default pose this often (keeps it standing)."""


def _rate(fn: Callable[[], int], seconds: float) -> float:
    """Run ``fn`` (returns units of work done) for about ``seconds``; units per second."""
    fn()  # warm-up
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        done += fn()
    return done / (time.perf_counter() - start)


def _fk_inputs(
    model: mujoco.MjModel, spec: RobotSpec, batch: int, dtype: torch.dtype
) -> list[torch.Tensor]:
    """Random root poses and joint angles uniform inside the joint ranges."""
    generator = torch.Generator().manual_seed(0)
    ids = [mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, n) for n in spec.joint_names]
    low, high = (torch.from_numpy(model.jnt_range[ids, k]) for k in (0, 1))
    joint_pos = low + (high - low) * torch.rand(
        batch, len(ids), generator=generator, dtype=low.dtype
    )
    root_pos = torch.randn(batch, 3, generator=generator, dtype=torch.float64)
    root_quat = torch.randn(batch, 4, generator=generator, dtype=torch.float64)
    return [x.to(dtype) for x in (root_pos, root_quat, joint_pos)]


def _fk_forward(kinematics: RobotKinematics, inputs: list[torch.Tensor]) -> int:
    with torch.no_grad():
        kinematics(*inputs)
    return inputs[0].shape[0]


def _fk_forward_backward(kinematics: RobotKinematics, inputs: list[torch.Tensor]) -> int:
    body_pos, body_quat = kinematics(*inputs)
    (body_pos.sum() + body_quat.sum()).backward()
    return inputs[0].shape[0]


def bench_fk(model: mujoco.MjModel, spec: RobotSpec, batch: int, seconds: float) -> dict:
    """Frames/s of forward and forward + backward kinematics in float32 and float64."""
    results = {}
    for dtype, suffix in ((torch.float32, ""), (torch.float64, "_f64")):
        kinematics = RobotKinematics(model, spec.joint_names, dtype=dtype)
        inputs = _fk_inputs(model, spec, batch, dtype)
        results[f"fk{suffix}_frames_per_s"] = _rate(
            partial(_fk_forward, kinematics, inputs), seconds
        )
        grad_inputs = [x.clone().requires_grad_(True) for x in inputs]
        results[f"fk{suffix}_fwd_bwd_frames_per_s"] = _rate(
            partial(_fk_forward_backward, kinematics, grad_inputs), seconds
        )
    return results


def _standing_data(model: mujoco.MjModel, spec: RobotSpec) -> mujoco.MjData:
    data = mujoco.MjData(model)
    data.qpos[:] = default_qpos(model, spec)
    data.ctrl[:] = spec.default_joint_pos
    mujoco.mj_forward(model, data)
    return data


def bench_physics_1t(model: mujoco.MjModel, spec: RobotSpec, seconds: float) -> float:
    """Physics steps/s of a Python loop of ``mj_step`` on one world."""
    data = _standing_data(model, spec)
    start_state = default_qpos(model, spec)

    def steps() -> int:
        data.qpos[:] = start_state
        data.qvel[:] = 0.0
        for _ in range(RESET_EVERY):
            mujoco.mj_step(model, data)
        return RESET_EVERY

    return _rate(steps, seconds)


def bench_physics_rollout(
    model: mujoco.MjModel, spec: RobotSpec, worlds: int, threads: int, seconds: float
) -> float:
    """Physics steps/s summed over ``worlds`` stepped by ``mujoco.rollout`` on ``threads``."""
    data = _standing_data(model, spec)
    full = mujoco.mjtState.mjSTATE_FULLPHYSICS
    state = np.empty(mujoco.mj_stateSize(model, full))
    mujoco.mj_getState(model, data, state, full)
    initial = np.tile(state, (worlds, 1))
    control = np.tile(spec.default_joint_pos, (worlds, ROLLOUT_STEPS, 1))
    out = np.empty((worlds, ROLLOUT_STEPS, state.size))
    datas = [mujoco.MjData(model) for _ in range(threads)]
    with mujoco.rollout.Rollout(nthread=threads) as pool:

        def steps() -> int:
            pool.rollout(model, datas, initial, control, state=out)
            return worlds * ROLLOUT_STEPS

        return _rate(steps, seconds)


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=4096, help="FK batch size (frames)")
    parser.add_argument("--seconds", type=float, default=3.0, help="duration per measurement")
    parser.add_argument("--variant", default="g1_23dof_lock_wrist", help="robot variant")
    parser.add_argument("--torch-threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("--worlds", type=int, default=8, help="worlds for the 2-thread rollout")
    return parser.parse_args()


def main() -> None:
    """Run all measurements, print them, and end with one JSON line."""
    args = _parse_args()
    torch.set_num_threads(args.torch_threads)
    spec = load_robot_spec(args.variant)
    model = build_model(spec)
    if spec.standing_gains_scale != 1.0:
        scale = spec.standing_gains_scale
        set_actuator_gains(model, spec, spec.kp * scale, spec.kd * scale)
    load_before = os.getloadavg()[0]
    print(f"variant {args.variant}: {model.nbody - 1} bodies, {spec.num_joints} joints")
    print(f"cores {os.cpu_count()}, torch threads {args.torch_threads}, load {load_before:.2f}")
    results: dict[str, float | int | str] = {"variant": args.variant, "batch": args.batch}
    results |= bench_fk(model, spec, args.batch, args.seconds)
    for key in [k for k in results if k.startswith("fk")]:
        print(f"{key:32s} {results[key]:>14,.0f}")
    results["physics_steps_per_s_1t"] = bench_physics_1t(model, spec, args.seconds)
    results["physics_steps_per_s_2t"] = bench_physics_rollout(
        model, spec, args.worlds, 2, args.seconds
    )
    print(f"{'physics_steps_per_s_1t':32s} {results['physics_steps_per_s_1t']:>14,.0f}")
    print(f"{'physics_steps_per_s_2t':32s} {results['physics_steps_per_s_2t']:>14,.0f}")
    results |= {
        "torch_threads": args.torch_threads,
        "rollout_worlds": args.worlds,
        "physics_dt": float(model.opt.timestep),
        "loadavg_1min_before": round(load_before, 2),
        "loadavg_1min_after": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(results))


if __name__ == "__main__":
    main()
