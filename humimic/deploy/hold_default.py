"""``python -m humimic.deploy.runtime``: the hold-default controller behind the safety
machine over DDS (the simulated G1, or a first hardware bring-up without a policy).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from humimic.deploy.controller import HoldDefaultController
from humimic.deploy.dds.channel import DdsNode
from humimic.deploy.remote import StdinButtons
from humimic.deploy.runtime import DeployRuntime, RunSummary, RuntimeOptions
from humimic.deploy.watchdogs import SafetyConfig
from humimic.errors import HumimicError
from humimic.robot.spec import RobotSpec


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="humimic deploy",
        description="run the hold-default controller behind the safety machine",
    )
    p.add_argument("--variant", default="g1_23dof_lock_wrist")
    p.add_argument("--iface", default="lo")
    p.add_argument("--domain-id", type=int, default=1)
    p.add_argument("--hold-duration", type=float, default=None,
                   help="hold-default controller: end its 'clip' after this many s")  # fmt: skip
    p.add_argument("--move-to-default", type=float, default=3.0)
    p.add_argument("--blend-to-default", type=float, default=1.0)
    p.add_argument("--stale-state-ms", type=float, default=100.0,
                   help="damping when the newest LowState is older than this")  # fmt: skip
    p.add_argument("--max-period-ms", type=float, default=100.0,
                   help="fatal fault when two commands are further apart than this")  # fmt: skip
    p.add_argument("--exit-after-damping", type=float, default=None)
    p.add_argument("--max-duration", type=float, default=None)
    p.add_argument("--log-dir", type=Path, default=None)
    p.add_argument("--keyboard", action="store_true", help="s/a/b/q + Enter as remote buttons")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the hold-default controller behind the safety machine (sim2sim / first hardware).

    Prints a JSON summary; returns :attr:`RunSummary.exit_code` (2 with one line for bad
    options or a start-up refusal).
    """
    import sys

    from humimic.deploy.options import check_number
    from humimic.robot.spec import load_robot_spec

    args = _parse(argv)
    try:
        check_number("--hold-duration", args.hold_duration, 0.0, 1e7, optional=True)
        check_number("--move-to-default", args.move_to_default, 0.0, 600.0)
        check_number("--blend-to-default", args.blend_to_default, 0.0, 600.0)
        check_number("--stale-state-ms", args.stale_state_ms, 1.0, 1000.0)
        check_number("--max-period-ms", args.max_period_ms, 20.0, 10000.0)
        check_number("--exit-after-damping", args.exit_after_damping, 0.0, 3600.0, optional=True)
        check_number("--max-duration", args.max_duration, 0.0, 1e7, optional=True)
        summary = _run_hold_default(args, load_robot_spec(args.variant))
    except HumimicError as err:
        print(f"humimic deploy: error: {err}", file=sys.stderr)
        return 2
    print(json.dumps({"exit": summary.exit_reason, "bad_state_crc": summary.bad_state_crc,
                      "exit_code": summary.exit_code, "faults": summary.faults}))  # fmt: skip
    return summary.exit_code


def _run_hold_default(args: argparse.Namespace, spec: RobotSpec) -> RunSummary:
    node = DdsNode(args.domain_id, args.iface)
    controller = HoldDefaultController(spec.default_joint_pos, args.hold_duration)
    cfg = SafetyConfig(
        joint_vel_limit=np.asarray(spec.velocity_limit, float),
        stale_state_s=args.stale_state_ms / 1000.0,
        move_to_default_s=args.move_to_default,
        blend_to_default_s=args.blend_to_default,
    )
    opts = RuntimeOptions(
        exit_after_damping_s=args.exit_after_damping,
        max_duration_s=args.max_duration,
        log_dir=args.log_dir,
        operator_input=StdinButtons() if args.keyboard else None,
        max_period_s=args.max_period_ms / 1000.0,
    )
    try:
        return DeployRuntime(controller, spec, node, args.variant, cfg, opts).run()
    finally:
        node.close()
