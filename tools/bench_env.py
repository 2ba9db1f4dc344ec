"""Benchmark the tracking env against the bare physics inside it, on both backends.

Measures env policy-steps/s (full observations, rewards, terminations, resets, random
actions) and the bare physics rate of the same backend stepped the same way (time inside
``backend.step``: ``decimation`` physics steps per policy step on the very worlds the env
runs), their ratio and the peak RSS: C MuJoCo (``mujoco``) at N=64 and N=256 and MuJoCo
Warp (``mujoco_warp``) at N=16 on the same device (Warp's CPU device by default; it runs
the worlds one after another there, so it is far slower than on a GPU). The robot variant
is the clip's. Ends with one JSON line.

    python tools/bench_env.py [--motion CLIP.npz (default: the shipped walk)] [--steps 100]
        [--worlds 64 256] [--warp-worlds 16] [--device cpu|cuda] [--no-warp]
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import torch

from humimic.config.store import compose
from humimic.envs.tracking_env import TrackingEnv
from humimic.motion.clip import load_clip
from humimic.paths import MOTIONS_DIR


def _clip(path: Path | None) -> Path:
    """The clip to track: ``--motion`` or the shipped CMU walk."""
    return path if path is not None else MOTIONS_DIR / "cmu_02_01_walk.npz"


def _sync(device: torch.device) -> None:
    """Wait for the device, so that a timer measures finished work."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def bench(
    clip: Path,
    num_envs: int,
    steps: int,
    rounds: int = 3,
    backend: str = "mujoco",
    device: str = "cpu",
) -> tuple[float, float]:
    """(env steps/s, bare physics steps/s) at ``num_envs``, best of ``rounds``.

    Bare physics is the time spent inside ``backend.step`` during the same env run (same
    worlds, same targets, same contacts), so both rates see the same states and the same
    machine load on a shared CPU; their ratio is the share of time spent in physics. The
    task's robot is the clip's variant.
    """
    variant = load_clip(clip).variant
    cfg = compose("train", [
        f"sim.num_envs={num_envs}", f"task.motion.files=[{clip}]", f"task.robot={variant}",
        f"sim.backend={backend}", f"sim.device={device}",
    ])  # fmt: skip
    env = TrackingEnv(cfg.task, cfg.sim, seed=0)
    gen = torch.Generator().manual_seed(0)
    physics_s = [0.0]
    step_physics = env.backend.step

    def timed_step(target: torch.Tensor, decimation: int) -> None:
        _sync(env.device)
        start = time.perf_counter()
        step_physics(target, decimation)
        _sync(env.device)
        physics_s[0] += time.perf_counter() - start

    env.backend.step = timed_step  # type: ignore[method-assign]
    env_rate = bare_rate = 0.0
    shape = (num_envs, env.num_actions)
    with torch.inference_mode():  # as the training runner steps the env
        for _ in range(5):
            env.step(torch.zeros(shape, device=env.device))
        for _ in range(rounds):
            actions = [0.1 * torch.randn(shape, generator=gen) for _ in range(steps)]
            actions = [a.to(env.device) for a in actions]
            physics_s[0] = 0.0
            _sync(env.device)
            start = time.perf_counter()
            for a in actions:
                env.step(a)
            _sync(env.device)
            total = time.perf_counter() - start
            env_rate = max(env_rate, steps * num_envs / total)
            bare_rate = max(bare_rate, steps * num_envs / physics_s[0])
    env.close()
    return env_rate, bare_rate


def main() -> None:
    """Run the benchmark and print a table and one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--motion", type=Path)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (best kept)")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("--worlds", type=int, nargs="+", default=[64, 256], help="mujoco")
    parser.add_argument("--warp-worlds", type=int, nargs="+", default=[16], help="mujoco_warp")
    parser.add_argument("--device", default="cpu", help="device of the mujoco_warp runs")
    parser.add_argument("--warp-steps", type=int, default=20, help="steps per mujoco_warp round")
    parser.add_argument("--no-warp", action="store_true", help="skip mujoco_warp")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    clip = _clip(args.motion)
    result: dict[str, float | str] = {"variant": load_clip(clip).variant}
    runs = [("mujoco", "cpu", n, args.steps) for n in args.worlds]
    if not args.no_warp:
        runs += [("mujoco_warp", args.device, n, args.warp_steps) for n in args.warp_worlds]
    for backend, device, n, steps in runs:
        env_rate, bare_rate = bench(clip, n, steps, args.rounds, backend, device)
        name = f"{backend}_{device.replace(':', '')}_{n}" if backend != "mujoco" else str(n)
        line = f"{backend:11s} {device:6s} N={n:5d}: env {env_rate:9.0f} steps/s, "
        line += f"bare physics {bare_rate:9.0f} steps/s, ratio {env_rate / bare_rate:.2f}"
        print(line, file=sys.stderr)
        result[f"env_steps_per_s_{name}"] = round(env_rate, 1)
        result[f"bare_steps_per_s_{name}"] = round(bare_rate, 1)
        result[f"ratio_to_bare_{name}"] = round(env_rate / bare_rate, 3)
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
