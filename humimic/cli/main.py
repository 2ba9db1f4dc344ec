"""``humimic``: one console command with a subcommand per pipeline stage.

Each subcommand lives in its own module exposing ``add_parser(subparsers)``; modules import
heavy libraries only inside their ``run`` function, so ``humimic --help`` stays fast. A named
subcommand imports only its own module: ``humimic deploy`` never loads the training code, and
runs on the robot-side install (``tools/install.sh --robot``: no torch).
A :class:`~humimic.errors.HumimicError` becomes one line on stderr and exit code 2, and so
does a subcommand that needs a package the robot-side install leaves out.
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

TRAINING_STACK = frozenset({
    "torch", "rsl_rl", "tensordict", "tensorboard", "smplx", "trimesh", "hydra", "omegaconf",
    "onnx", "mink", "daqp", "tqdm", "threadpoolctl", "joblib",
})  # fmt: skip
"""Top-level packages of the ``train`` extra: absent on the robot side. (The gpu and cluster
extras name themselves where they are missing.)"""

DESCRIPTION = """\
humimic turns human motion into Unitree G1 robot motion, in simulation and on the robot.

pipeline:  retarget (mocap or video -> robot clip) -> train -> eval -> export
           -> sim2sim (independent MuJoCo check) -> deploy (G1 over DDS, with safety)
"""


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The top-level parser with every subcommand, or with subcommand ``only`` alone.

    Registering one subcommand imports one ``humimic.cli`` module; the full parser (for
    ``humimic --help`` and unknown commands) imports them all.
    """
    parser = argparse.ArgumentParser(
        prog="humimic",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"humimic {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in (only,) if only is not None else SUBCOMMANDS:
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
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv[0] if argv and argv[0] in SUBCOMMANDS else None)
    args = parse_args(parser, argv)
    try:
        return int(args.run(args) or 0)
    except ModuleNotFoundError as err:
        if not is_optional_package(err.name):
            raise
        print(f"humimic {args.command}: error: {missing_package_line(err.name)}", file=sys.stderr)
        return 2
    except HumimicError as err:
        print(f"humimic {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return interrupted(args.command)
    except BrokenPipeError:  # output piped into e.g. `head`: stop quietly
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - keeps interpreter exit quiet
        return 0
    except OSError as err:  # full disk, permissions, read-only mounts: the user's machine
        if caused_by_interrupt(err):
            return interrupted(args.command)
        print(f"humimic {args.command}: error: {os_error_line(err)}", file=sys.stderr)
        return 2
    except Exception as err:
        if caused_by_interrupt(err):
            return interrupted(args.command)
        raise


def caused_by_interrupt(err: BaseException) -> bool:
    """Whether a KeyboardInterrupt lies in ``err``'s chain of causes.

    Ctrl-C while a C extension initialises (e.g. the lazy ``import mujoco``) surfaces as
    ``ImportError: initialization failed`` raised from the KeyboardInterrupt.
    """
    seen: set[int] = set()
    cause: BaseException | None = err
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, KeyboardInterrupt):
            return True
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return False


def interrupted(command: str) -> int:
    """Report a Ctrl-C in one line; 130 is the shell's code for death by SIGINT."""
    print(f"humimic {command}: interrupted", file=sys.stderr)
    return 130


def is_optional_package(module: str | None) -> bool:
    """Whether ``module`` (a dotted name) belongs to an extra the robot-side install omits."""
    return module is not None and module.split(".")[0] in TRAINING_STACK


def missing_package_line(module: str | None) -> str:
    """The one line for a subcommand that needs a package of the full install."""
    top = (module or "?").split(".")[0]
    return (
        f"needs {top}, which this install lacks (the robot side, tools/install.sh --robot, "
        "runs deploy, simrobot and sim2sim only); install everything with: bash tools/install.sh"
    )


def os_error_line(err: OSError) -> str:
    """``<file>: <reason>`` for an operating-system error (the file it names, if any)."""
    why = err.strerror or str(err) or type(err).__name__
    return f"{err.filename}: {why}" if err.filename else why


if __name__ == "__main__":
    sys.exit(main())
