"""``humimic deploy``: run an exported controller on a Unitree G1 over DDS, behind safety."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

HELP = "run a controller on a G1 (or the simulated G1) over DDS with the safety layer"
EPILOG = """\
The controller folder comes from `humimic export`; it must have passed `humimic sim2sim`
(its metrics.json gate) before this command drives a robot. On the robot: boot it on a
gantry, enter debug mode (L2+R2), then run this. Remote buttons: start = move to the
default pose, A = start the policy, B = damping (e-stop), select = damping and exit.
Every exit path (Ctrl-C, SIGTERM, watchdog, error) sends damping first.

Against the simulated robot (`humimic simrobot --iface lo`), --unattended presses the
buttons itself; it is refused on any other interface.
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
    p.add_argument("--no-gate", action="store_true", help="skip the sim2sim gate (lo only)")
    p.set_defaults(run=run)


def check_gate(controller_dir: Path) -> None:
    """Refuse a controller whose sim-to-sim gate is missing or failed."""
    from humimic.errors import HumimicError

    metrics = controller_dir / "metrics.json"
    if not metrics.is_file():
        raise HumimicError(
            f"{controller_dir}: no sim2sim result; run 'humimic sim2sim {controller_dir}' first"
        )
    try:
        gate = json.loads(metrics.read_text())["gate"]
    except (ValueError, KeyError, TypeError) as err:
        raise HumimicError(f"{metrics}: unreadable sim2sim gate ({err!r})") from err
    if not gate.get("passed"):
        reasons = "; ".join(gate.get("reasons", [])) or "no reason given"
        raise HumimicError(f"{controller_dir}: sim2sim gate failed ({reasons}); not deploying")


def run(args: argparse.Namespace) -> int:
    """Validate everything, then run the safety runtime until it exits."""
    import time

    import numpy as np

    from humimic.deploy.dds.channel import DdsNode, check_interface
    from humimic.deploy.policy import OnnxController, check_against_spec
    from humimic.deploy.runtime import DeployRuntime, RuntimeOptions
    from humimic.deploy.safety import SafetyConfig
    from humimic.deploy.unattended import LOOPBACK_INTERFACES, UnattendedOperator
    from humimic.errors import ConfigError
    from humimic.robot.spec import load_robot_spec

    loopback = args.iface in LOOPBACK_INTERFACES
    if args.unattended and not loopback:
        raise ConfigError(
            f"--unattended is only allowed on the loopback interface, not {args.iface}"
        )
    if args.no_gate and not loopback:
        raise ConfigError("--no-gate is only allowed against the simulated robot on lo")
    check_interface(args.iface)  # an unreachable interface is refused before anything runs
    controller = OnnxController(args.controller)  # files, manifest and parity checked here
    if not args.no_gate:
        check_gate(args.controller)
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
        operator_input=UnattendedOperator(safety.move_to_default_s) if args.unattended else None,
        exit_after_damping_s=1.0 if args.unattended else None,
    )
    if args.keyboard:
        from humimic.deploy.remote import StdinButtons

        options.operator_input = StdinButtons()
    node = DdsNode(
        args.domain_id if args.domain_id is not None else (1 if loopback else 0), args.iface
    )
    try:
        summary = DeployRuntime(controller, spec, node, variant, safety, options).run()
    finally:
        node.close()
    print(f"exit: {summary.exit_reason}; log: {log_dir}")
    return 0
