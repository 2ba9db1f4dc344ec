"""PD replay: how long does the robot stay up when its PD targets are the reference joints?

    python tools/pd_replay.py motions/*.npz [--write-report]

Each clip is played from phase 0 in the training env with residual actions and a zero
policy, so every joint's PD target is the reference joint angle and nothing balances the
robot (evaluation protocol: no noise, no randomisation, only the clip-end termination).
The time until any tracked body is more than 0.5 m from its reference (the evaluation's
failure distance) separates "this clip is hard" from "the learner is slow": a clip the PD
loop holds for its whole length needs little learning; one it drops in under a second needs
a learned balance controller. ``--write-report`` adds the figures to ``<clip>.report.json``
under ``"pd_replay"``.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from humimic.errors import HumimicError
from humimic.eval.metrics import FAIL_DISTANCE_M

NOTE = (
    "seconds the robot stays within 0.5 m of the reference with PD targets = reference "
    "joints and no policy (tools/pd_replay.py); short = balance must be learned"
)


def upright_seconds(body_error_m: np.ndarray, dt: float) -> float:
    """Seconds before the first frame with any body error above :data:`FAIL_DISTANCE_M`.

    Args:
        body_error_m: Shape (T, B), world-frame body position errors, m.
        dt: Seconds per frame.

    Returns:
        ``T * dt`` when no frame fails.
    """
    failed = (body_error_m > FAIL_DISTANCE_M).any(axis=1)
    return float((failed.argmax() if failed.any() else len(failed)) * dt)


def replay(clip: Path, overrides: list[str]) -> dict[str, Any]:
    """PD-replay one clip: ``{"upright_s", "clip_s", "E_g_mpbpe_mm"}`` (s, s, mm)."""
    from humimic.config.store import compose
    from humimic.eval.metrics import body_pos_error_global
    from humimic.eval.runner import _rollout, eval_config
    from humimic.train.runner import build_runner

    cfg = compose("train", [*overrides, "task.action_mode=residual", "runner.progress=false"])
    cfg = eval_config(cfg, clip.resolve(), episodes=1)
    cfg = replace(cfg, runner=replace(cfg.runner, run_dir=""))
    env = build_runner(cfg, None).env
    try:
        rec = _rollout(env, lambda obs: torch.zeros(env.num_envs, env.num_actions))
    finally:
        env.close()
    physical = (~env.layout.virtual).cpu().numpy()
    err = body_pos_error_global(rec["robot_body"][0][:, physical], rec["ref_body"][0][:, physical])
    dt = env.control_dt
    return {
        "upright_s": upright_seconds(err, dt),
        "clip_s": float((err.shape[0] - 1) * dt),
        "E_g_mpbpe_mm": round(float(err.mean() * 1000.0), 1),
    }


def write_report(clip: Path, result: dict[str, Any]) -> None:
    """Add ``result`` under ``"pd_replay"`` in the clip's report, atomically.

    Raises:
        InputFileError: The report is damaged (one line naming it).
    """
    from humimic.motion.clip import report_path_for
    from humimic.motion.report import PdReplay, read_clip_report, write_clip_report

    path = report_path_for(clip)
    if not path.is_file():
        print(f"{path}: no report to add to", file=sys.stderr)
        return
    pd = PdReplay(result["upright_s"], result["clip_s"], result["E_g_mpbpe_mm"], NOTE)
    write_clip_report(path, replace(read_clip_report(path), pd_replay=pd))


def main(argv: list[str]) -> int:
    """Replay each clip and print a table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("clips", type=Path, nargs="+", help="robot clips (.npz)")
    parser.add_argument("--write-report", action="store_true", help="add to <clip>.report.json")
    parser.add_argument("--override", action="append", default=[], help="train config key=value")
    args = parser.parse_args(argv)
    print(f"{'clip':32} {'upright s':>9} {'clip s':>7} {'E_g mm':>7}")
    for clip in args.clips:
        result = replay(clip, args.override)
        print(f"{clip.name:32} {result['upright_s']:9.2f} {result['clip_s']:7.2f}"
              f" {result['E_g_mpbpe_mm']:7.0f}")  # fmt: skip
        if args.write_report:
            try:
                write_report(clip, result)
            except HumimicError as err:
                print(err, file=sys.stderr)
                return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
