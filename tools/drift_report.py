"""Drift report: is a policy's world-frame error along the clip's course, across it, or yaw?

    python tools/drift_report.py RUN/model_K.pt --motion CLIP.npz [--episodes 16] [--noise]

Rolls the checkpoint out as ``humimic eval`` does and, at a quarter, half, three quarters and
the end of the clip, splits the pelvis position error (robot minus reference, ground plane)
into *along-track* (the reference's heading direction) and *cross-track* (its left), and
gives the yaw error of the pelvis and of the torso (the pelvis turned through the waist).
Only episodes still upright (pelvis above 0.3 m) at that time count.
Along-track error means the robot walks too fast or too slow; cross-track error growing
with a steady yaw error means it walks off course because it faces the wrong way. The yaw
error of the pelvis at one instant includes the reference pelvis's own gait swing (±26°
about the course on CMU 02_01; its torso: ±9°), so read it across the four times, or read
the torso's.

A last table says how the feet moved over the whole clip, robot against reference, on the
episodes upright throughout: ground-plane path length, net displacement and highest lift
above the foot's lowest point. A robot that drifts with its feet barely lifted is sliding
or shuffling, not stepping.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from humimic.deploy.observations import torso_yaw
from humimic.errors import HumimicError
from humimic.eval.metrics import FALL_HEIGHT_M
from humimic.geometry import quat_np
from humimic.robot.torso import waist_columns

FRACTIONS = (0.25, 0.5, 0.75, 1.0)
COLUMNS = (("along_mm", 0), ("cross_mm", 0), ("yaw_deg", 1), ("torso_deg", 1))
"""Printed columns: key and decimals."""


def _wrapped_deg(rad: np.ndarray) -> np.ndarray:
    return np.degrees(np.angle(np.exp(1j * rad)))


def drift_at(
    robot_root: np.ndarray,
    ref_root: np.ndarray,
    frame: int,
    torso_yaw: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict[str, float]:
    """Pelvis drift at one frame over the upright episodes, mm and degrees.

    Args:
        robot_root: (E, T, 7) robot root position (m, world) then quaternion (w-first).
        ref_root: (E, T, 7) the reference's, same layout.
        frame: Frame index.
        torso_yaw: (E, T) torso yaw of the robot and of the reference, rad; optional.

    Returns:
        ``upright`` (share of episodes), ``error_mm`` (mean ground-plane distance),
        ``along_mm`` / ``cross_mm`` (mean and ``_std``; cross positive to the reference's
        left), ``yaw_deg`` (robot minus reference, wrapped to ±180, mean and ``_std``) and,
        with ``torso_yaw``, ``torso_deg`` likewise. NaN where no episode is upright.
    """
    robot, ref = robot_root[:, frame], ref_root[:, frame]
    up = robot[:, 2] > FALL_HEIGHT_M
    d = (robot[:, :2] - ref[:, :2])[up]
    heading = quat_np.yaw(ref[up, 3:])
    along = d[:, 0] * np.cos(heading) + d[:, 1] * np.sin(heading)
    cross = -d[:, 0] * np.sin(heading) + d[:, 1] * np.cos(heading)
    errors = {"along_mm": along * 1000.0, "cross_mm": cross * 1000.0,
              "yaw_deg": _wrapped_deg(quat_np.yaw(robot[up, 3:]) - heading)}  # fmt: skip
    if torso_yaw is not None:
        errors["torso_deg"] = _wrapped_deg(torso_yaw[0][up, frame] - torso_yaw[1][up, frame])
    out = {"upright": float(up.mean())}
    if not up.any():
        nan = float("nan")
        return out | {"error_mm": nan} | {k + s: nan for k in errors for s in ("", "_std")}
    out["error_mm"] = float(np.linalg.norm(d, axis=1).mean() * 1000.0)
    for key, values in errors.items():
        out[key] = float(values.mean())
        out[f"{key}_std"] = float(values.std())
    return out


def foot_travel(body_pos_w: np.ndarray, feet: list[int], upright: np.ndarray) -> dict[str, float]:
    """How far the feet went over the clip, mean over the feet and the upright episodes.

    Args:
        body_pos_w: (E, T, B, 3) body positions, m, world (z up).
        feet: Rows of the foot bodies in the body axis.
        upright: (E,) bool, the episodes that count.

    Returns:
        ``path_mm`` (ground-plane path length), ``net_mm`` (ground-plane distance from the
        first to the last frame) and ``lift_mm`` (highest minus lowest height); NaN where
        no episode counts.
    """
    if not upright.any():
        return {"path_mm": float("nan"), "net_mm": float("nan"), "lift_mm": float("nan")}
    p = body_pos_w[upright][:, :, feet]  # (E', T, F, 3)
    path = np.linalg.norm(np.diff(p[..., :2], axis=1), axis=-1).sum(axis=1)
    net = np.linalg.norm(p[:, -1, :, :2] - p[:, 0, :, :2], axis=-1)
    lift = p[..., 2].max(axis=1) - p[..., 2].min(axis=1)
    return {"path_mm": float(path.mean() * 1000.0), "net_mm": float(net.mean() * 1000.0),
            "lift_mm": float(lift.mean() * 1000.0)}  # fmt: skip


def _print_feet(rec: dict[str, np.ndarray], feet: list[int]) -> None:
    """The feet table of the upright episodes, robot against reference."""
    upright = (rec["robot_root"][:, :, 2] > FALL_HEIGHT_M).all(axis=1)
    print(f"\nfeet over the clip ({int(upright.sum())} episodes upright throughout)")
    print(f"{'':>9} {'path mm':>8} {'net mm':>8} {'lift mm':>8}")
    for who, key in (("robot", "robot_body"), ("reference", "ref_body")):
        r = foot_travel(rec[key], feet, upright)
        print(f"{who:>9} {r['path_mm']:8.0f} {r['net_mm']:8.0f} {r['lift_mm']:8.0f}")


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
        rollout = policy_rollout(args.checkpoint, args.motion, args.episodes, args.noise)
    except HumimicError as err:
        print(f"drift_report: error: {err}", file=sys.stderr)
        return 2
    rec = rollout.record
    robot, ref = rec["robot_root"], rec["ref_root"]
    chain = waist_columns(tuple(rollout.env.spec.joint_names))
    torso = (torso_yaw(robot[..., 3:], rec["robot_joint"], chain),
             torso_yaw(ref[..., 3:], rec["ref_joint"], chain))  # fmt: skip
    print(f"{'clip':>5} {'upright':>7} {'error mm':>8} {'along mm':>12} {'cross mm':>12}"
          f" {'yaw deg':>12} {'torso deg':>12}")  # fmt: skip
    last = robot.shape[1] - 1
    for frac in FRACTIONS:
        r = drift_at(robot, ref, round(frac * last), torso)
        cells = [f"{r[k]:+6.{p}f} ±{r[k + '_std']:4.{p}f}" for k, p in COLUMNS]
        print(f"{frac:5.2f} {r['upright']:7.2f} {r['error_mm']:8.0f} " + " ".join(cells))
    feet = rollout.env.layout.groups["feet"].tolist()
    _print_feet(rec, feet)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
