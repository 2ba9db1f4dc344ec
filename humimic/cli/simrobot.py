"""``humimic simrobot``: a simulated G1 that speaks the robot's DDS topics."""

from __future__ import annotations

import argparse

HELP = "run a simulated G1 (MuJoCo) on rt/lowstate and rt/lowcmd, e.g. on --iface lo"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``simrobot``; its options belong to :func:`humimic.deploy.simrobot.main`."""
    # No options of its own: every argument, --help included, is passed through untouched.
    parser = subparsers.add_parser("simrobot", help=HELP, add_help=False, prefix_chars="\x00")
    parser.add_argument("args", nargs="*")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Hand the remaining arguments (``--help`` included) to the simulated robot."""
    from humimic.deploy.simrobot import main

    return main(list(args.args))
