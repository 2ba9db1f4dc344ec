"""One-shot check of the MuJoCo Warp training path on a CUDA GPU; ends with one JSON line.

Parts (each one's result or error goes into the JSON; a failing part does not stop the rest):

1. ``parity``: MuJoCo Warp on the device against C MuJoCo. (a) The full TrackingEnv, 16
   worlds, 50 steps of the same random actions, with every random draw switched off
   (domain randomisation, delays, pushes, noise, random starts: the CUDA generator draws
   other numbers than the CPU one): max differences of observations and rewards, and the
   number of differing terminations. (b) The bare backends with the same per-world
   parameters (friction, mass, CoM, gains), a joint torque bias and a perturbed start:
   max state differences. (c) The Warp backend with and without the CUDA graph.
2. ``throughput``: env policy-steps/s (pbhc task, random actions) at 1,024, 4,096 and
   8,192 worlds with and without the CUDA graph, the bare physics rate inside the env, and
   the device memory per world (``cudaMemGetInfo`` before building and after stepping).
3. ``ppo``: 100 PPO iterations at 4,096 worlds on a shipped clip with ``preset=pbhc``:
   time per iteration split into simulation (collection: policy + env) and learning, and
   the curves of each iteration's mean reward per step and mean length of the episodes
   that ended in it. No run folder and no TensorBoard: nothing is kept.

``--budget-s`` (default 450) bounds the whole run: PPO gets a time limit from what is
left, later parts are skipped with a note when the budget is spent. ``--smoke`` runs all
parts on the CPU with tiny sizes (C MuJoCo vs Warp's CPU device), to test the script.

    python tools/gpu_check.py                # CUDA machine, full sizes
    python tools/gpu_check.py --smoke        # anywhere, a minute or two

See tools/gpu_check.md for running it on a machine without network.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # runnable from a checkout without installing humimic

from humimic.config.store import compose  # noqa: E402
from humimic.paths import MOTIONS_DIR  # noqa: E402

DETERMINISTIC = [
    "task.randomization.enabled=false",
    "task.randomization.control_delay_steps=[0,0]",
    "task.randomization.pushes=false",
    "task.motion.random_start=false",
    "task.noise=false",
]
"""Overrides that leave no random draw in the env (for parity across devices)."""


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _used_bytes(device: torch.device) -> int:
    """Device memory in use by anyone (torch, Warp), bytes; 0 on the CPU."""
    if device.type != "cuda":
        return 0
    free, total = torch.cuda.mem_get_info(device)
    return total - free


def _free(*objects: Any) -> None:
    for obj in objects:
        close = getattr(obj, "close", None)
        if close is not None:
            close()
    del objects
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _env(clip: Path, backend: str, device: str, num_envs: int, *overrides: str) -> Any:
    from humimic.envs.tracking_env import TrackingEnv

    cfg = compose("train", [f"task.motion.files=[{clip}]", f"sim.backend={backend}",
                            f"sim.device={device}", f"sim.num_envs={num_envs}",
                            *overrides])  # fmt: skip
    return TrackingEnv(cfg.task, cfg.sim, seed=0)


# ---------------------------------------------------------------------------------- parity
def parity(clip: Path, device: str, worlds: int, steps: int) -> dict[str, Any]:
    """Env-level and backend-level Warp vs C MuJoCo, and graph vs no graph."""
    out: dict[str, Any] = {"worlds": worlds, "steps": steps}
    gen = torch.Generator().manual_seed(1)
    actions = [0.3 * torch.randn(worlds, 23, generator=gen) for _ in range(steps)]
    runs = {}
    for backend, dev in (("mujoco", "cpu"), ("mujoco_warp", device)):
        env = _env(clip, backend, dev, worlds, *DETERMINISTIC)
        rec = []
        with torch.inference_mode():
            for a in actions:
                obs, reward, done, _ = env.step(a.to(env.device))
                rec.append([obs["actor"].cpu(), obs["critic"].cpu(), reward.cpu(), done.cpu()])
        runs[backend] = rec
        _free(env)
    diff = {"actor_obs": 0.0, "critic_obs": 0.0, "reward": 0.0}
    dones_differ = dones = 0
    for c, w in zip(runs["mujoco"], runs["mujoco_warp"]):
        for k, key in enumerate(diff):
            diff[key] = max(diff[key], float((c[k] - w[k]).abs().max()))
        dones_differ += int((c[3] != w[3]).sum())
        dones += int(c[3].sum())
    out["env_max_abs_diff"] = diff
    out["env_dones_c"], out["env_dones_differing"] = dones, dones_differ
    out["backend_max_abs_diff"] = _backend_parity(device, worlds, steps)
    return out


def _backend_parity(device: str, worlds: int, steps: int) -> dict[str, Any]:
    """Same per-world parameters, torque bias and start in C MuJoCo and MuJoCo Warp (with
    and without the CUDA graph); max state differences to C MuJoCo and between the two."""
    import math

    from humimic.robot.model import build_model
    from humimic.robot.spec import load_robot_spec
    from humimic.sim.backend import default_reset_state, make_backend

    spec = load_robot_spec("g1_23dof_lock_wrist")
    model = build_model(spec)
    bodies = spec.body_groups["tracked"]
    g = torch.Generator().manual_seed(0)
    n, j = worlds, spec.num_joints
    ids = torch.arange(n)
    params = {
        "friction": 0.3 + 0.9 * torch.rand(n, generator=g),
        "body_mass_scale": 0.9 + 0.2 * torch.rand(n, len(bodies), generator=g),
        "com_offset_b": 0.04 * (torch.rand(n, 3, generator=g) - 0.5),
        "kp_scale": spec.standing_gains_scale * (0.9 + 0.2 * torch.rand(n, j, generator=g)),
        "kd_scale": spec.standing_gains_scale * (0.9 + 0.2 * torch.rand(n, j, generator=g)),
    }
    start = default_reset_state(spec, n, torch.device("cpu"))
    start["joint_pos"] += 0.05 * torch.randn(n, j, generator=g)
    start["root_lin_vel_w"] += 0.1 * torch.randn(n, 3, generator=g)
    effort = torch.as_tensor(spec.effort_limit, dtype=torch.float32)
    bias = 0.05 * effort * (2 * torch.rand(n, j, generator=g) - 1)
    default = torch.as_tensor(spec.default_joint_pos, dtype=torch.float32)
    phase = torch.linspace(0, 2 * math.pi, j) + torch.arange(n)[:, None]
    states: dict[str, list[Any]] = {}
    variants = {"c": ("mujoco", "cpu", {}), "warp_graph": ("mujoco_warp", device, {}),
                "warp_no_graph": ("mujoco_warp", device, {"cuda_graph": False})}  # fmt: skip
    for name, (backend, dev, opts) in variants.items():
        sim = make_backend(backend, model, spec, n, bodies, dev, **opts)
        sim.set_params(ids.to(sim.device), **{k: v.to(sim.device) for k, v in params.items()})
        sim.reset(ids.to(sim.device), **{k: v.to(sim.device) for k, v in start.items()})
        sim.set_joint_torque_bias(bias.to(sim.device))
        rec = []
        for k in range(steps):
            target = default + 0.1 * torch.sin(4 * math.pi * k * 0.02 + phase)
            sim.step(target.to(sim.device), 4)
            s = sim.state()
            rec.append({f: getattr(s, f).cpu().clone() for f in
                        ("root_pos_w", "joint_pos", "joint_vel", "foot_contact_force_w",
                         "applied_torque")})  # fmt: skip
        states[name] = rec
        _free(sim)

    def max_diff(a: str, b: str) -> dict[str, float]:
        out = {}
        for field in states[a][0]:
            out[field] = max(
                float((x[field] - y[field]).abs().max()) for x, y in zip(states[a], states[b])
            )
        return out

    return {"warp_vs_c": max_diff("c", "warp_graph"),
            "graph_vs_no_graph": max_diff("warp_graph", "warp_no_graph")}  # fmt: skip


# ------------------------------------------------------------------------------ throughput
def throughput(clip: Path, device: str, sizes: list[int], steps: int) -> dict[str, Any]:
    """Env policy-steps/s with and without the CUDA graph, physics share, memory."""
    out: dict[str, Any] = {}
    dev = torch.device(device)
    for n in sizes:
        before = _used_bytes(dev)
        env = _env(clip, "mujoco_warp", device, n, "preset=pbhc")
        row: dict[str, Any] = {}
        for mode, graph in (("no_graph", False), ("graph", True)):
            env.backend.cuda_graph = graph
            row[mode] = _time_env(env, steps)
            row[mode]["graph_active"] = env.backend.graph_active
        used = _used_bytes(dev) - before
        row["device_mem_mb"] = round(used / 2**20, 1)
        row["device_mem_kb_per_world"] = round(used / 1024 / n, 1)
        if dev.type == "cuda":
            row["torch_peak_mb"] = round(torch.cuda.max_memory_allocated(dev) / 2**20, 1)
        out[str(n)] = row
        _free(env)
        env = None  # drop the last reference before the next size is built
    return out


def _time_env(env: Any, steps: int) -> dict[str, float]:
    """Policy-steps/s of ``env.step`` and of the physics inside it (after 5 warm-up steps:
    the first compiles, the second captures the graph)."""
    n, dev = env.num_envs, env.device
    physics = [0.0]
    inner = type(env.backend).step

    def timed(self: Any, target: torch.Tensor, decimation: int) -> None:
        _sync(dev)
        t = time.perf_counter()
        inner(self, target, decimation)
        _sync(dev)
        physics[0] += time.perf_counter() - t

    with torch.inference_mode():
        for _ in range(5):
            env.step(0.3 * torch.randn(n, env.num_actions, device=dev))
        _sync(dev)
        start = time.perf_counter()
        for _ in range(steps):
            env.step(0.3 * torch.randn(n, env.num_actions, device=dev))
        _sync(dev)
        total = time.perf_counter() - start
        env.backend.step = timed.__get__(env.backend)  # physics alone, synchronised
        for _ in range(steps):
            env.step(0.3 * torch.randn(n, env.num_actions, device=dev))
        del env.backend.step
    return {"env_steps_per_s": round(n * steps / total, 1),
            "physics_steps_per_s": round(n * steps / max(physics[0], 1e-9), 1)}  # fmt: skip


# ------------------------------------------------------------------------------------- ppo
def ppo(clip: Path, device: str, worlds: int, iterations: int, limit_s: float) -> dict[str, Any]:
    """PPO with preset=pbhc: per-iteration simulation/learning time and the reward curve."""
    from humimic.train.runner import build_runner

    cfg = compose("train", ["preset=pbhc", "sim.backend=mujoco_warp", f"sim.device={device}",
                            f"sim.num_envs={worlds}", f"task.motion.files=[{clip}]",
                            "runner.progress=false",
                            f"runner.iterations={iterations}"])  # fmt: skip
    runner = build_runner(cfg, None)  # no run folder: no TensorBoard, nothing kept
    env = runner.env
    times: list[tuple[float, float]] = []
    sums = {
        "reward": torch.zeros((), device=env.device),
        "length": torch.zeros((), device=env.device),
    }
    ends = [0]
    curve: list[float] = []
    lengths: list[float | None] = []
    env_step = env.step

    def step(actions: torch.Tensor) -> Any:  # sums stay on the device until the iteration ends
        result = env_step(actions)
        sums["reward"] = sums["reward"] + result[1].mean()
        length = result[3]["log"].get("/Episode/length_steps")
        if length is not None:
            sums["length"], ends[0] = sums["length"] + length, ends[0] + 1
        return result

    original_log = runner.logger.log

    def log(**kwargs: Any) -> None:  # called once per iteration by the runner
        original_log(**kwargs)  # keeps the runner's per-iteration hook (time limit, saves)
        times.append((kwargs["collect_time"], kwargs["learn_time"]))
        curve.append(round(float(sums["reward"]) / runner.cfg["num_steps_per_env"], 5))
        lengths.append(round(float(sums["length"]) / ends[0], 2) if ends[0] else None)
        sums["reward"] = torch.zeros((), device=env.device)
        sums["length"], ends[0] = torch.zeros((), device=env.device), 0

    env.step = step
    runner.logger.log = log
    start = time.perf_counter()
    try:
        runner.learn(iterations, progress=False, time_limit_s=limit_s)
    finally:
        env.close()
    wall = time.perf_counter() - start
    steady = times[min(5, len(times) - 1) :] if times else []
    collect = sum(t[0] for t in steady) / max(len(steady), 1)
    learn = sum(t[1] for t in steady) / max(len(steady), 1)
    return {
        "worlds": worlds, "iterations_done": len(times), "wall_s": round(wall, 1),
        "samples_per_iteration": worlds * runner.cfg["num_steps_per_env"],
        "simulation_s_per_iteration": round(collect, 4),
        "learning_s_per_iteration": round(learn, 4),
        "iteration_s": round(collect + learn, 4),
        "first_iteration_s": round(sum(times[0]), 2) if times else None,
        "reward_per_step_curve": curve, "episode_length_steps_curve": lengths,
    }  # fmt: skip


# ------------------------------------------------------------------------------------ main
def _part(result: dict[str, Any], name: str, fn: Callable[[], dict[str, Any]]) -> None:
    start = time.perf_counter()
    try:
        with contextlib.redirect_stdout(sys.stderr):  # stdout: the JSON line only
            result[name] = fn()
    except Exception as err:  # every part reports; the JSON line always comes
        traceback.print_exc()
        result[name] = {"error": f"{type(err).__name__}: {str(err).splitlines()[0][:300]}"}
    result[name]["seconds"] = round(time.perf_counter() - start, 1)


def _versions(device: str) -> dict[str, Any]:
    out: dict[str, Any] = {"torch": torch.__version__, "device": device}
    for module in ("warp", "mujoco_warp", "mujoco", "rsl_rl"):
        try:
            out[module] = getattr(__import__(module), "__version__", "?")
        except ImportError as err:
            out[module] = f"missing: {err}"
    if device.startswith("cuda") and torch.cuda.is_available():
        out["gpu"] = torch.cuda.get_device_name(torch.device(device))
    return out


def main() -> None:
    """Parse options, run the parts within the budget, print one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="CPU, tiny sizes")
    parser.add_argument("--device", help="default cuda (cpu with --smoke)")
    parser.add_argument("--clip", type=Path, default=MOTIONS_DIR / "cmu_02_01_walk.npz")
    parser.add_argument("--budget-s", type=float, default=450.0, help="whole run, s")
    parser.add_argument("--parts", nargs="+", default=["parity", "throughput", "ppo"])
    parser.add_argument("--kernel-cache", type=Path, help="Warp kernel cache folder")
    args = parser.parse_args()
    if args.kernel_cache:  # before Warp initialises
        os.environ["WARP_CACHE_PATH"] = str(args.kernel_cache)
    device = args.device or ("cpu" if args.smoke else "cuda")
    s = args.smoke
    sizes = {
        "parity": (4, 10) if s else (16, 50),
        "throughput": ([4], 5) if s else ([1024, 4096, 8192], 50),
        "ppo": (8, 2) if s else (4096, 100),
    }
    t0 = time.perf_counter()
    result: dict[str, Any] = {"check": "humimic gpu_check", "smoke": s, **_versions(device)}
    result["clip"] = args.clip.name

    def left() -> float:
        return args.budget_s - (time.perf_counter() - t0)

    with tempfile.TemporaryDirectory() as scratch:
        os.chdir(scratch)  # anything written by accident goes away
        jobs: dict[str, Callable[[], dict[str, Any]]] = {
            "parity": lambda: parity(args.clip, device, *sizes["parity"]),
            "throughput": lambda: throughput(args.clip, device, *sizes["throughput"]),
            # PPO stops early enough to finish (its first iteration compiles and captures).
            "ppo": lambda: ppo(args.clip, device, *sizes["ppo"], max(left() - 40.0, 10.0)),
        }
        for name in args.parts:
            if left() < 30:
                result[name] = {"skipped": f"budget of {args.budget_s:.0f} s spent"}
            else:
                _part(result, name, jobs[name])
    result["total_s"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
