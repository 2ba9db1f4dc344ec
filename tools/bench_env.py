"""Benchmark the tracking env against the bare physics inside it.

Measures env policy-steps/s (full observations, rewards, terminations, resets, random
actions) at N=64 and N=256, the bare physics rate of the same backend stepped the same way
(time inside ``backend.step``: ``decimation`` physics steps per policy step on the very
worlds the env runs), their ratio and the peak RSS. Ends with one JSON line.

    python tools/bench_env.py [--motion CLIP.npz (default: the shipped walk)] [--steps 100]
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
from humimic.paths import MOTIONS_DIR


def _clip(path: Path | None) -> Path:
    """The clip to track: ``--motion`` or the shipped CMU walk."""
    return path if path is not None else MOTIONS_DIR / "cmu_02_01_walk.npz"


def bench(clip: Path, num_envs: int, steps: int, rounds: int = 3) -> tuple[float, float]:
    """(env steps/s, bare physics steps/s) at ``num_envs``, best of ``rounds``.

    Bare physics is the time spent inside ``backend.step`` during the same env run (same
    worlds, same targets, same contacts), so both rates see the same states and the same
    machine load on a shared CPU; their ratio is the share of time spent in physics.
    """
    cfg = compose("train", [f"sim.num_envs={num_envs}", f"task.motion.files=[{clip}]"])
    env = TrackingEnv(cfg.task, cfg.sim, seed=0)
    gen = torch.Generator().manual_seed(0)
    physics_s = [0.0]
    step_physics = env.backend.step

    def timed_step(target: torch.Tensor, decimation: int) -> None:
        start = time.perf_counter()
        step_physics(target, decimation)
        physics_s[0] += time.perf_counter() - start

    env.backend.step = timed_step  # type: ignore[method-assign]
    env_rate = bare_rate = 0.0
    with torch.inference_mode():  # as the training runner steps the env
        for _ in range(5):
            env.step(torch.zeros(num_envs, env.num_actions))
        for _ in range(rounds):
            physics_s[0] = 0.0
            start = time.perf_counter()
            for _ in range(steps):
                env.step(0.1 * torch.randn(num_envs, env.num_actions, generator=gen))
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
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    clip = _clip(args.motion)
    result: dict[str, float] = {}
    for n in (64, 256):
        env_rate, bare_rate = bench(clip, n, args.steps, args.rounds)
        print(f"N={n:4d}: env {env_rate:8.0f} steps/s, bare physics {bare_rate:8.0f} steps/s, "
              f"ratio {env_rate / bare_rate:.2f}", file=sys.stderr)  # fmt: skip
        result[f"env_steps_per_s_{n}"] = round(env_rate, 1)
        result[f"bare_steps_per_s_{n}"] = round(bare_rate, 1)
        result[f"ratio_to_bare_{n}"] = round(env_rate / bare_rate, 3)
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
