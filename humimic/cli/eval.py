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
    from humimic.errors import ConfigError
    from humimic.eval.metrics import FALL_HEIGHT_M
    from humimic.eval.report import read_eval_report
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
    report = read_eval_report(path)
    m = report.metrics
    for key in ("E_g_mpbpe", "E_mpbpe", "E_mpjpe", "success_rate"):
        s = m.summary(key)
        print(f"{key}: {s.mean:.1f} ± {s.std:.1f} {m.units.get(key, '')}")
    per = m.per_episode.success
    print(f"episodes succeeded: {int(sum(per))} of {len(per)}")
    # a failed episode may have fallen or only drifted: this tells the two apart
    up = m.per_episode.upright
    print(f"episodes upright to the end: {int(sum(up))} of {len(up)}"
          f" (pelvis above {FALL_HEIGHT_M} m)")  # fmt: skip
    print(f"metrics: {path}")
    return 0
