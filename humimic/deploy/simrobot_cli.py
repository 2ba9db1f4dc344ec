"""``python -m humimic.deploy.simrobot`` / ``humimic simrobot``: run the simulated G1 from
the command line, pressing remote buttons and starting faults at given times, and print
its report (JSON) at exit.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Iterable

from humimic.deploy import simrobot
from humimic.deploy.simrobot import FAULTS, SimulatedG1
from humimic.errors import ConfigError, HumimicError


def parse_timed(option: str, text: str, known: Iterable[str]) -> tuple[float, str]:
    """``NAME[@SECONDS]`` → (seconds, name), checked (one-line ConfigError otherwise)."""
    name, _, at = text.partition("@")
    known = list(known)
    if name not in known:
        raise ConfigError(f"{option} {text!r}: unknown {name!r} (known: {', '.join(known)})")
    try:
        seconds = float(at) if at else 0.0
    except ValueError:
        raise ConfigError(f"{option} {text!r}: {at!r} is not a number of seconds") from None
    if not (math.isfinite(seconds) and 0.0 <= seconds <= 1e7):
        raise ConfigError(f"{option} {text!r}: the time must be a finite number >= 0")
    return seconds, name


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="humimic simrobot", description=(simrobot.__doc__ or "").splitlines()[0]
    )
    p.add_argument("--variant", default="g1_23dof_lock_wrist")
    p.add_argument("--iface", default="lo")
    p.add_argument("--domain-id", type=int, default=1)
    p.add_argument("--physics-dt", type=float, default=0.001)
    p.add_argument("--gantry", action="store_true", help="hold the pelvis fixed in the air")
    p.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    p.add_argument("--press", action="append", default=[], metavar="BUTTON@SECONDS",
                   help="press a remote button at a time, e.g. start@2 (repeatable)")  # fmt: skip
    kinds = "; ".join(f"{k}: {v}" for k, v in FAULTS.items())
    p.add_argument("--fault", action="append", default=[], metavar="KIND[@SECONDS]",
                   help=f"start a fault at a time (default 0), repeatable. {kinds}")  # fmt: skip
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the simulated G1 until Ctrl-C (or ``--duration``); print its report (JSON) at exit.

    Returns 0, or 2 with one line on stderr for bad options.
    """
    import sys

    from humimic.deploy.options import check_number
    from humimic.deploy.remote import BUTTONS

    args = _parse(argv)
    try:
        check_number("--physics-dt", args.physics_dt, 1e-4, 0.01)
        check_number("--duration", args.duration, 0.0, 1e7, optional=True)
        presses = sorted(parse_timed("--press", p, BUTTONS) for p in args.press)
        faults = sorted(parse_timed("--fault", f, FAULTS) for f in args.fault)
        robot = SimulatedG1(
            args.variant, args.iface, args.domain_id, physics_dt=args.physics_dt,
            gantry=args.gantry,
        )  # fmt: skip
    except HumimicError as err:
        print(f"humimic simrobot: error: {err}", file=sys.stderr)
        return 2
    robot.start()
    t0 = time.monotonic()
    print(f"simrobot: running on {args.iface}, domain {args.domain_id}", file=sys.stderr,
          flush=True)  # fmt: skip
    try:
        while robot._thread is not None and robot._thread.is_alive():
            elapsed = time.monotonic() - t0
            while presses and presses[0][0] <= elapsed:
                robot.press([presses.pop(0)[1]])
            while faults and faults[0][0] <= elapsed:
                robot.inject(faults.pop(0)[1])
            if args.duration is not None and elapsed > args.duration:
                break
            time.sleep(0.005)
    except KeyboardInterrupt:
        pass
    finally:
        robot.stop()
    print(json.dumps(robot.report()), flush=True)
    return 0
