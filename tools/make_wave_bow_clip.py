"""Write ``motions/g1_wave_bow.npz``: a hand-authored upper-body clip for the learning bench.

    python tools/make_wave_bow_clip.py [-o motions/g1_wave_bow.npz]

The shared mocap has no upper-body gesture, so this one is keyed by hand on the robot
(6 s at 50 fps, feet and pelvis still): 0-1 s the right arm rises sideways (shoulder roll
-0.2 -> -1.3 rad, elbow 0.9 -> 0.5 rad), 1-3 s it waves (elbow 0.5 +- 0.35 rad and shoulder
yaw +- 0.3 rad at 1.25 Hz), 3-4 s it comes back down, 4-6 s a bow (waist pitch 0 -> 0.4 ->
0 rad, both shoulders pitch forward 0.3 rad). Every key is inside the joint limits with a
margin; ramps are cosine-smoothed so velocities start and end at zero.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from humimic.motion.clip import save_clip
from humimic.robot.spec import load_robot_spec
from humimic.testing.synthetic_clips import clip_from_joint_trajectory

VARIANT = "g1_23dof_lock_wrist"
FPS = 50.0
SECONDS = 6.0


def ramp(t: np.ndarray, t0: float, t1: float) -> np.ndarray:
    """0 before t0, 1 after t1, a cosine blend between."""
    x = np.clip((t - t0) / (t1 - t0), 0.0, 1.0)
    return 0.5 - 0.5 * np.cos(np.pi * x)


def joint_trajectory(t: np.ndarray, names: list[str], default: np.ndarray) -> np.ndarray:
    """(T, J) joint angles of the wave-and-bow, rad."""
    q = np.tile(default, (len(t), 1))
    col = {n: i for i, n in enumerate(names)}
    up = ramp(t, 0.0, 1.0) - ramp(t, 3.0, 4.0)  # right arm raised between 1 s and 3 s
    waving = np.sin(2 * np.pi * 1.25 * (t - 1.0)) * (ramp(t, 1.0, 1.3) - ramp(t, 2.7, 3.0))
    q[:, col["right_shoulder_roll_joint"]] += -1.1 * up
    q[:, col["right_elbow_joint"]] += -0.4 * up + 0.35 * waving
    q[:, col["right_shoulder_yaw_joint"]] += 0.3 * waving
    bow = ramp(t, 4.0, 5.0) - ramp(t, 5.0, 6.0)
    q[:, col["waist_pitch_joint"]] += 0.4 * bow
    q[:, col["left_shoulder_pitch_joint"]] += -0.3 * bow
    q[:, col["right_shoulder_pitch_joint"]] += -0.3 * bow
    return q


def main() -> None:
    """Build the clip and write it (atomically, through ``save_clip``)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-o", "--out", type=Path, default=Path("motions/g1_wave_bow.npz"))
    args = parser.parse_args()
    spec = load_robot_spec(VARIANT)
    t = np.arange(round(SECONDS * FPS) + 1) / FPS
    q = joint_trajectory(t, list(spec.joint_names), np.asarray(spec.default_joint_pos, float))
    root_pos = np.tile([0.0, 0.0, float(spec.default_root_height)], (len(t), 1))
    root_quat = np.tile([1.0, 0.0, 0.0, 0.0], (len(t), 1))
    clip = clip_from_joint_trajectory(VARIANT, FPS, root_pos, root_quat, q)
    print(f"wrote {save_clip(clip, args.out)} ({len(t)} frames @ {FPS:g} fps)")


if __name__ == "__main__":
    main()
