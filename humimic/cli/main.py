"""``humimic``: one console command with a subcommand per pipeline stage.

Each subcommand lives in its own module exposing ``add_parser(subparsers)``; modules import
heavy libraries only inside their ``run`` function, so ``humimic --help`` stays fast.
A :class:`~humimic.errors.HumimicError` becomes one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from humimic import __version__
from humimic.errors import HumimicError

SUBCOMMANDS: tuple[str, ...] = (
    "demo",
    "retarget",
    "video",
    "train",
    "eval",
    "export",
    "sim2sim",
    "deploy",
    "simrobot",
    "view",
)  # fmt: skip
"""Modules under ``humimic.cli`` that register a subcommand, in help order."""

DESCRIPTION = """\
humimic turns human motion into Unitree G1 robot motion, in simulation and on the robot.

pipeline:  retarget (mocap or video -> robot clip) -> train -> eval -> export
           -> sim2sim (independent MuJoCo check) -> deploy (G1 over DDS, with safety)
"""


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every available subcommand."""
    parser = argparse.ArgumentParser(
        prog="humimic",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"humimic {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in SUBCOMMANDS:
        module = importlib.import_module(f"humimic.cli.{name}")
        module.add_parser(subparsers)
    return parser


def parse_args(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse ``argv``; ``key=value`` overrides may also follow the options.

    argparse stops collecting a positional list at the first option, so
    ``humimic train walk.npz --num-envs 64 algo.init_std=0.5`` would be refused; subcommands
    naming a ``trailing_overrides`` list get such trailing overrides appended to it.
    """
    args, extra = parser.parse_known_args(argv)
    target = getattr(args, "trailing_overrides", None)
    if extra and target and all("=" in a and not a.startswith("-") for a in extra):
        setattr(args, target, [*getattr(args, target), *extra])
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``humimic`` with ``argv`` (default ``sys.argv[1:]``); returns the exit code."""
    parser = build_parser()
    args = parse_args(parser, argv)
    try:
        return int(args.run(args) or 0)
    except HumimicError as err:
        print(f"humimic {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"humimic {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into e.g. `head`: stop quietly
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - keeps interpreter exit quiet
        return 0
    except OSError as err:  # full disk, permissions, read-only mounts: the user's machine
        print(f"humimic {args.command}: error: {os_error_line(err)}", file=sys.stderr)
        return 2


def os_error_line(err: OSError) -> str:
    """``<file>: <reason>`` for an operating-system error (the file it names, if any)."""
    why = err.strerror or str(err) or type(err).__name__
    return f"{err.filename}: {why}" if err.filename else why


if __name__ == "__main__":
    sys.exit(main())
