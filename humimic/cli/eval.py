"""``humimic eval``: score a trained policy on its clip (PBHC metrics, plots, video)."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "evaluate a trained tracking policy: metrics.json, error plots and a video"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the ``eval`` subcommand."""
    parser = subparsers.add_parser("eval", help=HELP, description=HELP + ".")
    parser.add_argument(
        "target", metavar="RUN", type=Path, help="run folder (latest checkpoint) or model_<k>.pt"
    )
    parser.add_argument("--motion", type=Path, help="clip to track (default: the training clip)")
    parser.add_argument("--episodes", type=int, default=4, help="episodes (default 4)")
    parser.add_argument("--out", type=Path, help="output folder (default <run>/eval_<ckpt>)")
    parser.add_argument("--no-video", action="store_true", help="skip the MP4")
    parser.add_argument(
        "--noise", action="store_true",
        help="keep the training observation noise on (sensor noise; default off as in PBHC)",
    )  # fmt: skip
    parser.add_argument(
        "--randomize", action="store_true",
        help="keep the training domain randomisation and pushes on (default off)",
    )  # fmt: skip
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Evaluate and print the headline metrics."""
    import json

    from humimic.errors import ConfigError
    from humimic.eval.runner import evaluate
    from humimic.files import check_can_create_folder

    if args.episodes < 1:
        raise ConfigError(f"--episodes must be >= 1, got {args.episodes}")
    if args.out is not None:
        check_can_create_folder(args.out, "--out")
    path = evaluate(
        args.target,
        args.motion,
        args.episodes,
        not args.no_video,
        args.out,
        noise=args.noise,
        randomize=args.randomize,
    )
    metrics = json.loads(path.read_text())
    for key in ("E_g_mpbpe", "E_mpbpe", "E_mpjpe", "success_rate"):
        if key in metrics:
            unit = metrics.get("units", {}).get(key, "")
            print(f"{key}: {metrics[key]['mean']:.1f} ± {metrics[key]['std']:.1f} {unit}")
    per = metrics.get("per_episode", {}).get("success", [])
    print(f"episodes succeeded: {int(sum(per))} of {len(per)}")
    print(f"metrics: {path}")
    return 0
