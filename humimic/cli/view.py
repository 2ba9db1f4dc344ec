"""``humimic view``: look at a robot variant or a robot clip, live or as an MP4."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "show a robot variant or a clip (human skeleton beside the robot), live or as MP4"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the ``view`` subcommand."""
    parser = subparsers.add_parser(
        "view",
        help=HELP,
        description=HELP + ". Without a display, pass --video to render offscreen (EGL/OSMesa).",
    )
    parser.add_argument("clip", nargs="?", type=Path, help="a robot clip (.npz) to play")
    parser.add_argument("--robot", default=None, help="robot variant, e.g. g1_23dof_lock_wrist")
    parser.add_argument("--video", type=Path, default=None, help="write an MP4 here instead")
    parser.add_argument("--seconds", type=float, default=4.0, help="robot-only video length")
    parser.add_argument("--width", type=int, default=640, help="video width in pixels")
    parser.add_argument("--height", type=int, default=480, help="video height in pixels")
    parser.set_defaults(run=run)


MAX_PIXELS = 8192
"""Largest video width/height (offscreen buffers beyond this fail in MuJoCo)."""


def check_view_options(args: argparse.Namespace) -> None:
    """Sizes and length finite and in range, before any rendering starts."""
    import math

    from humimic.errors import ConfigError

    for flag, value in (("--width", args.width), ("--height", args.height)):
        if not 16 <= value <= MAX_PIXELS:
            raise ConfigError(f"{flag} must be in [16, {MAX_PIXELS}] pixels, got {value}")
    if not (math.isfinite(args.seconds) and 0 < args.seconds <= 3600):
        raise ConfigError(f"--seconds must be in (0, 3600], got {args.seconds}")
    if args.video is not None and args.video.is_dir():
        raise ConfigError(f"--video {args.video}: is a folder; give a file name ending in .mp4")


def run(args: argparse.Namespace) -> int:
    """Show or render what the arguments ask for."""
    from humimic.errors import ConfigError
    from humimic.viz import robot_view

    check_view_options(args)
    if args.clip is None and args.robot is None:
        raise ConfigError("give a clip file or --robot VARIANT (see 'humimic view --help')")
    if args.video is None and not robot_view.has_display():
        raise ConfigError("no display found; pass --video OUT.mp4 to render offscreen")
    if args.clip is not None:
        out = robot_view.show_clip(args.clip, args.video, args.robot, args.width, args.height)
    else:
        out = robot_view.show_robot(args.robot, args.video, args.seconds, args.width, args.height)
    if out is not None:
        print(f"wrote {out}")
    return 0
