"""``humimic deploy``: run an exported controller on a Unitree G1 over DDS, behind safety."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from humimic.deploy.gate import GateVerdict

HELP = "run a controller on a G1 (or the simulated G1) over DDS with the safety layer"
EPILOG = """\
The controller folder comes from `humimic export`; it must have passed `humimic sim2sim`
(its metrics.json gate) before this command drives a robot. On the robot: boot it on a
gantry, enter debug mode (L2+R2), then run this. Remote buttons: start = move to the
default pose, A = start the policy, B = damping (e-stop), select = damping and exit.
Every exit path (Ctrl-C, SIGTERM, watchdog, error) sends damping first.

The gate is bound to the exact controller: metrics.json records the sha256 of the
controller.onnx and controller.json that sim2sim ran, and deploy refuses any other bytes.
Exit code 0 for a run without faults, 1 after a fault (reason on stderr and in the log),
130 / 143 after Ctrl-C / SIGTERM, 2 for a refusal before anything was sent.

Against the simulated robot (`humimic simrobot --iface lo`), --unattended presses the
buttons itself (start once it sits in a healthy DAMPING, A once at the default pose); it
and --no-gate are refused unless the interface's address is loopback (127.0.0.0/8, ::1).
See docs/safety.md for every fault and how it ends.
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the ``deploy`` subcommand."""
    p = subparsers.add_parser(
        "deploy", help=HELP, description=HELP + ".", epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    p.add_argument("controller", type=Path, metavar="CONTROLLER", help="exported controller folder")
    p.add_argument("--iface", required=True, help="network interface to the robot, e.g. eth0")
    p.add_argument("--domain-id", type=int, default=None, help="DDS domain (robot 0, lo 1)")
    p.add_argument(
        "--unattended", action="store_true", help="press start/A automatically (lo only)"
    )
    p.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    p.add_argument("--keyboard", action="store_true", help="s/a/b/q + Enter as remote buttons")
    p.add_argument("--log-dir", type=Path, default=None, help="where the run log goes")
    p.add_argument("--stale-state-ms", type=float, default=100.0, help="state watchdog, ms")
    p.add_argument("--max-period-ms", type=float, default=100.0,
                   help="fatal fault when two commands are further apart, ms")  # fmt: skip
    p.add_argument("--no-gate", action="store_true", help="skip the sim2sim gate (lo only)")
    p.set_defaults(run=run)


def check_options(args: argparse.Namespace) -> None:
    """Every numeric option finite and in range, before anything starts."""
    from humimic.deploy.options import check_number

    check_number("--duration", args.duration, 0.02, 1e7, optional=True)
    check_number("--stale-state-ms", args.stale_state_ms, 1.0, 1000.0)
    check_number("--max-period-ms", args.max_period_ms, 20.0, 10000.0)


def gate_line(verdict: GateVerdict | None) -> str:
    """What the runtime's gate check found, for the operator (the CLI only reports it)."""
    if verdict is None:
        return "sim2sim gate: skipped (--no-gate, loopback only)"
    onnx = (verdict.controller_sha256 or "")[:12]
    return f"sim2sim gate: passed for controller.onnx sha256 {onnx}…"


def run(args: argparse.Namespace) -> int:
    """Validate everything, then run the safety runtime until it exits.

    Returns the runtime's exit code: 0 for a run without faults, 1 after a fault, 130 / 143
    after SIGINT / SIGTERM; refusals before start are one line and 2 (via HumimicError).
    """
    import sys
    import time

    import numpy as np

    from humimic.deploy.dds.channel import DdsNode, check_interface, is_loopback_interface
    from humimic.deploy.policy import OnnxController, check_against_spec
    from humimic.deploy.runtime import DeployRuntime, RuntimeOptions
    from humimic.deploy.watchdogs import SafetyConfig
    from humimic.errors import ConfigError
    from humimic.robot.spec import load_robot_spec

    check_options(args)
    check_interface(args.iface)  # an unreachable interface is refused before anything runs
    loopback = is_loopback_interface(args.iface)  # by its address, not its name
    for flag, given in (("--unattended", args.unattended), ("--no-gate", args.no_gate)):
        if given and not loopback:
            raise ConfigError(
                f"{flag} is only allowed against the simulated robot on a loopback interface "
                f"(127.0.0.0/8 or ::1); {args.iface} is not one"
            )
    controller = OnnxController(args.controller)  # files, manifest and parity checked here
    variant = controller.manifest.variant
    spec = load_robot_spec(variant)
    # The runtime drives motors with the installed spec's slots, gains and default pose:
    # refuse a controller exported against different ones.
    check_against_spec(controller.manifest, spec, str(args.controller))
    safety = SafetyConfig(
        joint_vel_limit=np.asarray(spec.velocity_limit, float),
        stale_state_s=args.stale_state_ms / 1000.0,
    )
    log_dir = args.log_dir or args.controller / "deploy_logs" / time.strftime("%Y%m%d_%H%M%S")
    options = RuntimeOptions(
        max_duration_s=args.duration,
        log_dir=log_dir,
        exit_after_damping_s=1.0 if args.unattended else None,
        max_period_s=args.max_period_ms / 1000.0,
        skip_gate=args.no_gate,
        unattended=args.unattended,
    )
    if args.keyboard:
        from humimic.deploy.remote import StdinButtons

        options.operator_input = StdinButtons()
    node = DdsNode(
        args.domain_id if args.domain_id is not None else (1 if loopback else 0), args.iface
    )
    try:  # the runtime checks the sim2sim gate (exact controller bytes) before it starts
        runtime = DeployRuntime(controller, spec, node, variant, safety, options)
        print(gate_line(runtime.gate), flush=True)
        summary = runtime.run()
    finally:
        node.close()
    print(f"exit: {summary.exit_reason}; log: {log_dir}")
    if summary.fatal or summary.faults:
        first = summary.fatal or summary.faults[0][1]
        print(f"humimic deploy: stopped after a fault: {first}", file=sys.stderr)
    elif summary.exit_code:
        print(f"humimic deploy: stopped by {summary.exit_reason}", file=sys.stderr)
    return summary.exit_code
