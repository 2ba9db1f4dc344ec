"""``humimic sim2sim``: run an exported controller in an independent MuJoCo setup (the gate)."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "sim-to-sim gate of an exported controller: 1 kHz torque PD, delays, sensor noise"
EPILOG = """\
Writes metrics.json (PBHC metrics and "gate": passed, reasons, thresholds, and the sha256
of the controller.onnx and controller.json it ran, which deploy requires to match), PNG plots
and sim2sim.mp4 (robot with the reference ghost) into the controller folder or --out. The
gate passes when no episode falls, every episode succeeds as in `humimic eval` (whole clip,
no body beyond 0.5 m of its reference) and E_mpbpe is below its threshold.
Exit code 0 when the gate passes, 1 when it fails.
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the ``sim2sim`` subcommand."""
    parser = subparsers.add_parser(
        "sim2sim", help=HELP, description=HELP + ".", epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    parser.add_argument("controller", type=Path, help="exported controller folder")
    parser.add_argument("--episodes", type=int, default=1, help="episodes (default 1)")
    parser.add_argument("--seed", type=int, default=0, help="noise and delay seed")
    parser.add_argument("--max-delay-ms", type=float, default=20.0, help="command delay bound")
    parser.add_argument("--no-noise", action="store_true", help="no sensor noise")
    parser.add_argument("--no-video", action="store_true", help="skip the MP4")
    parser.add_argument("--out", type=Path, help="output folder (default: the controller folder)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run the gate, print the verdict; exit code 1 when it fails."""
    from dataclasses import asdict

    from humimic.deploy.options import check_number
    from humimic.deploy.sim2sim import run_sim2sim

    check_number("--episodes", args.episodes, 1, 10000)
    check_number("--max-delay-ms", args.max_delay_ms, 0.0, 1000.0)
    out = args.out if args.out is not None else args.controller
    video = None if args.no_video else out / "sim2sim.mp4"
    report = run_sim2sim(
        args.controller, episodes=args.episodes, seed=args.seed, max_delay_ms=args.max_delay_ms,
        sensor_noise=not args.no_noise, video=video, out=out,
    )  # fmt: skip
    gate, m = report.gate, report.metrics
    for key in ("E_mpbpe", "E_g_mpbpe", "E_mpjpe"):
        print(f"{key}: {m.summary(key).mean:.1f} {m.units[key]}")
    required = asdict(gate.thresholds) if gate.thresholds is not None else {}
    limits = ", ".join(f"{k} {v}" for k, v in required.items())
    print(f"gate: {'PASSED' if gate.passed else 'FAILED'} ({limits})")
    for reason in gate.reasons:
        print(f"  {reason}")
    print(f"metrics: {out / 'metrics.json'}")
    return 0 if gate.passed else 1
