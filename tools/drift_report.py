"""Drift report: is a policy's world-frame error along the clip's course, across it, or yaw?

    python tools/drift_report.py RUN/model_K.pt --motion CLIP.npz [--episodes 16] [--noise]

Rolls the checkpoint out as ``humimic eval`` does and, at a quarter, half, three quarters and
the end of the clip, splits the pelvis position error (robot minus reference, ground plane)
into *along-track* (the reference's heading direction) and *cross-track* (its left), and
gives the yaw error. Only episodes still upright (pelvis above 0.3 m) at that time count.
Along-track error means the robot walks too fast or too slow; cross-track error growing
with a steady yaw error means it walks off course because it faces the wrong way. The yaw
error at one instant includes the reference pelvis's own gait swing (±26° about the course
on CMU 02_01), so read it across the four times, not at one.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from humimic.errors import HumimicError
from humimic.eval.metrics import FALL_HEIGHT_M
from humimic.geometry import quat_np

FRACTIONS = (0.25, 0.5, 0.75, 1.0)


def drift_at(robot_root: np.ndarray, ref_root: np.ndarray, frame: int) -> dict[str, float]:
    """Pelvis drift at one frame over the upright episodes, mm and degrees.

    Args:
        robot_root: (E, T, 7) robot root position (m, world) then quaternion (w-first).
        ref_root: (E, T, 7) the reference's, same layout.
        frame: Frame index.

    Returns:
        ``upright`` (share of episodes), ``error_mm`` (mean ground-plane distance),
        ``along_mm`` / ``cross_mm`` (mean and ``_std``; cross positive to the reference's
        left) and ``yaw_deg`` (robot minus reference, wrapped to ±180, mean and ``_std``).
        NaN where no episode is upright.
    """
    robot, ref = robot_root[:, frame], ref_root[:, frame]
    up = robot[:, 2] > FALL_HEIGHT_M
    d = (robot[:, :2] - ref[:, :2])[up]
    heading = quat_np.yaw(ref[up, 3:])
    along = d[:, 0] * np.cos(heading) + d[:, 1] * np.sin(heading)
    cross = -d[:, 0] * np.sin(heading) + d[:, 1] * np.cos(heading)
    yaw = np.degrees(np.angle(np.exp(1j * (quat_np.yaw(robot[up, 3:]) - heading))))
    out = {"upright": float(up.mean())}
    if not up.any():
        keys = ("error_mm", "along_mm", "along_mm_std", "cross_mm", "cross_mm_std", "yaw_deg",
                "yaw_deg_std")  # fmt: skip
        return out | dict.fromkeys(keys, float("nan"))
    out["error_mm"] = float(np.linalg.norm(d, axis=1).mean() * 1000.0)
    for name, values, unit in (("along", along * 1000.0, "mm"), ("cross", cross * 1000.0, "mm"),
                               ("yaw", yaw, "deg")):  # fmt: skip
        out[f"{name}_{unit}"] = float(values.mean())
        out[f"{name}_{unit}_std"] = float(values.std())
    return out


def main(argv: list[str]) -> int:
    """Print the drift table; exit code 2 on bad input."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", type=Path, help="a run folder or its model_<k>.pt")
    parser.add_argument("--motion", type=Path, required=True, help="robot clip (.npz)")
    parser.add_argument("--episodes", type=int, default=16, help="episodes (16)")
    parser.add_argument("--noise", action="store_true", help="training observation noise on")
    args = parser.parse_args(argv)
    from humimic.eval.runner import policy_rollout

    try:
        rec = policy_rollout(args.checkpoint, args.motion, args.episodes, args.noise).record
    except HumimicError as err:
        print(f"drift_report: error: {err}", file=sys.stderr)
        return 2
    print(f"{'clip':>5} {'upright':>7} {'error mm':>8} {'along mm':>12} {'cross mm':>12}"
          f" {'yaw deg':>12}")  # fmt: skip
    robot, ref = rec["robot_root"], rec["ref_root"]
    last = robot.shape[1] - 1
    for frac in FRACTIONS:
        r = drift_at(robot, ref, round(frac * last))
        along = f"{r['along_mm']:+6.0f} ±{r['along_mm_std']:4.0f}"
        cross = f"{r['cross_mm']:+6.0f} ±{r['cross_mm_std']:4.0f}"
        yaw = f"{r['yaw_deg']:+6.1f} ±{r['yaw_deg_std']:4.1f}"
        print(f"{frac:5.2f} {r['upright']:7.2f} {r['error_mm']:8.0f} {along} {cross} {yaw}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
