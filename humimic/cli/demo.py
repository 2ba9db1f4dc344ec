"""``humimic demo``: the main job on built-in defaults, end to end."""

from __future__ import annotations

import argparse
from pathlib import Path

from humimic.demo import DEMO_ITERATIONS, DEMO_NUM_ENVS

HELP = "run the whole pipeline on built-in defaults: robot, clip, train, eval, export, sim2sim"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the ``demo`` subcommand."""
    parser = subparsers.add_parser("demo", help=HELP, description=HELP + ".")
    parser.add_argument(
        "-o", "--out", type=Path, default=Path("humimic_demo"), help="output folder"
    )
    parser.add_argument(
        "--clip", type=Path, default=None, help="robot clip (default: the shipped CMU crouch)"
    )
    parser.add_argument("--no-video", action="store_true", help="skip the MP4 renders")
    parser.add_argument(
        "--iterations",
        type=int,
        default=DEMO_ITERATIONS,
        help=f"PPO iterations (default {DEMO_ITERATIONS}, about 2 s each on 2 cores)",
    )
    parser.add_argument("--num-envs", type=int, default=DEMO_NUM_ENVS,
                        help=f"parallel simulated worlds (default {DEMO_NUM_ENVS})")  # fmt: skip
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run the demo and list what it wrote."""
    from humimic.demo import DEFAULT_CLIP, run_demo

    result = run_demo(
        args.out, args.clip or DEFAULT_CLIP, not args.no_video, args.iterations, args.num_envs
    )
    print(f"wrote {len(result.artifacts)} files to {args.out}/:")
    for path in result.artifacts:
        print(f"  {path}")
    return 0
