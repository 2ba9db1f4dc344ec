"""``humimic video``: a video of a person to a robot clip, through an installed GVHMR."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "turn a video of a person into a robot clip (runs GVHMR when it is installed)"
EPILOG = """\
GVHMR (video -> global SMPL motion) is not shipped with humimic: install it yourself and set
GVHMR_ROOT; without it this command says exactly what is missing. The SMPL result
(hmr4d_results.pt) is kept beside the clip and can be retargeted again with
`humimic retarget`.
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the ``video`` subcommand."""
    parser = subparsers.add_parser(
        "video", help=HELP, description=HELP + ".", epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    parser.add_argument("video", type=Path, help="a video file (mp4, mov, ...)")
    parser.add_argument("overrides", nargs="*", help="retarget config overrides key=value")
    parser.add_argument("-o", "--out", type=Path, help="output clip (.npz)")
    parser.add_argument("--robot", help="robot variant (default g1_23dof_lock_wrist)")
    parser.add_argument("--static-cam", action="store_true", help="the camera does not move")
    parser.add_argument("--body-models", type=Path, help="folder with SMPL/SMPL-X files")
    parser.set_defaults(run=run, trailing_overrides="overrides")


def run(args: argparse.Namespace) -> int:
    """Check GVHMR, run it, then retarget its output."""
    from humimic.config.store import compose
    from humimic.errors import ConfigError, InputFileError
    from humimic.motion.io.gvhmr import check_gvhmr, run_gvhmr
    from humimic.motion.pipeline import ClipMaker, InputOptions

    if not args.video.is_file():
        raise InputFileError(args.video, "no such video file")
    out = args.out or Path(args.video.stem + ".npz")
    if out.suffix != ".npz":
        raise ConfigError(f"-o {out}: the output clip must end in .npz")
    overrides = list(args.overrides) + ([f"robot={args.robot}"] if args.robot else [])
    cfg = compose("retarget", overrides)
    check_gvhmr()  # fail before any work when GVHMR is missing
    smpl = run_gvhmr(args.video, out.parent / f"{out.stem}_gvhmr", static_cam=args.static_cam)
    outcome = ClipMaker(cfg).run(smpl, out, InputOptions(body_models=args.body_models))
    print(f"{outcome.verdict.upper()}: {args.video} -> {smpl} -> {out}")
    for reason in outcome.reasons:
        print(f"  - {reason}")
    return 0
