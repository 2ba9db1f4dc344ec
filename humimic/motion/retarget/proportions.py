"""Proportion fitting: turn human joint positions into targets the robot's body can reach.

The robot is shorter than most humans and built differently (hip width, torso height,
short forearm). Instead of chasing raw human positions, the targets keep every human bone
*direction* but take the robot's bone *lengths*, and hang hips, shoulders and head off the
human pelvis and chest frames at the robot's own offsets. The mean distance between the
solved robot and these targets is the "key-point error after proportion fitting".
Dimension names: ``T`` frames, ``P`` key points.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from humimic.errors import InputFileError
from humimic.geometry import quat_np
from humimic.motion.human import HumanMotion
from humimic.motion.retarget.mapping import RetargetMap

F64 = NDArray[np.float64]

LIMB_CHAINS: tuple[tuple[str, str], ...] = tuple(
    (f"{side}_{a}", f"{side}_{b}")
    for side in ("left", "right")
    for a, b in (
        ("hip", "knee"),
        ("knee", "ankle"),
        ("ankle", "toe"),
        ("shoulder", "elbow"),
        ("elbow", "wrist"),
    )
)
"""Bones (parent, child canonical joints) whose length is rescaled to the robot's."""


@dataclass
class ProportionFit:
    """What proportion fitting did, for the report.

    Attributes:
        targets_w: ``(T, P, 3)`` robot-proportioned key-point targets, m; NaN for key
            points whose human joint the skeleton lacks.
        pelvis_quat_w: ``(T, 4)`` human pelvis orientation (wxyz), the root's initial guess.
        bone_scale: Robot/human length ratio per bone, e.g. ``"left_hip->left_knee"``.
        leg_scale: Ratio applied to the pelvis trajectory (robot leg / human leg).
        human_height_m: Rough standing height of the human (ground to head), m.
    """

    targets_w: F64
    pelvis_quat_w: F64
    bone_scale: dict[str, float] = field(default_factory=dict)
    leg_scale: float = 1.0
    human_height_m: float = 0.0


def _unit(v: F64) -> F64:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9)


def frame_from_axes(lateral: F64, up: F64) -> F64:
    """Rotation matrices ``(T, 3, 3)`` whose y axis is ``lateral`` and z axis is ``up``.

    ``up`` is made orthogonal to ``lateral`` first; x = y × z points forward.
    """
    y = _unit(lateral)
    z = _unit(up - np.sum(up * y, axis=-1, keepdims=True) * y)
    x = np.cross(y, z)
    return np.stack([x, y, z], axis=-1)


def _position(motion: HumanMotion, name: str) -> F64:
    return motion.canonical_pos_w(name)


def _first_available(motion: HumanMotion, names: tuple[str, ...]) -> F64:
    for name in names:
        if name in motion.canonical:
            return _position(motion, name)
    raise InputFileError(motion.source, f"skeleton lacks all of {names}")


def fit_proportions(
    motion: HumanMotion, rmap: RetargetMap, rest_w: dict[str, F64]
) -> ProportionFit:
    """Build robot-proportioned key-point targets from a normalised human motion.

    Args:
        motion: Human motion, z-up, metres, ground at z = 0.
        rmap: Key-point map (human joint ↔ robot body).
        rest_w: Robot body origins ``(3,)`` at the zero pose (root at the origin, identity
            orientation), for every body named in ``rmap`` plus ``rmap.torso``.
    """
    pos = {name: _position(motion, name) for name in motion.canonical}
    hips_mid = 0.5 * (pos["left_hip"] + pos["right_hip"])
    pelvis_up = _first_available(motion, ("spine", "chest", "neck", "head")) - hips_mid
    rot_pelvis = frame_from_axes(pos["left_hip"] - pos["right_hip"], pelvis_up)
    shoulders_mid = 0.5 * (pos["left_shoulder"] + pos["right_shoulder"])
    rot_chest = frame_from_axes(
        pos["left_shoulder"] - pos["right_shoulder"], shoulders_mid - hips_mid
    )

    body = dict(zip(rmap.human_joints, rmap.robot_bodies, strict=True))
    scale = {}
    for parent, child in LIMB_CHAINS:
        if parent in body and child in body and parent in pos and child in pos:
            human_len = float(np.median(np.linalg.norm(pos[child] - pos[parent], axis=-1)))
            robot_len = float(np.linalg.norm(rest_w[body[child]] - rest_w[body[parent]]))
            scale[f"{parent}->{child}"] = robot_len / max(human_len, 1e-6)
    leg_keys = [f"{s}_{a}" for s in ("left", "right") for a in ("hip->", "knee->")]
    leg_ratios = [
        v for k, v in scale.items() if any(k.startswith(p) for p in leg_keys) and "toe" not in k
    ]
    leg_scale = float(np.mean(leg_ratios)) if leg_ratios else 1.0

    pelvis_rest = rest_w[body["pelvis"]]
    hip_mid_rest = 0.5 * (rest_w[body["left_hip"]] + rest_w[body["right_hip"]]) - pelvis_rest
    torso_rest = rest_w[rmap.torso] - pelvis_rest
    pelvis_t = hips_mid * leg_scale - rot_pelvis @ hip_mid_rest
    torso_t = pelvis_t + rot_pelvis @ torso_rest
    targets: dict[str, F64] = {"pelvis": pelvis_t}
    for side in ("left", "right"):
        hip = f"{side}_hip"
        targets[hip] = pelvis_t + rot_pelvis @ (rest_w[body[hip]] - pelvis_rest)
        shoulder = f"{side}_shoulder"
        targets[shoulder] = torso_t + rot_chest @ (rest_w[body[shoulder]] - rest_w[rmap.torso])
    if "head" in body:
        targets["head"] = torso_t + rot_chest @ (rest_w[body["head"]] - rest_w[rmap.torso])
    for parent, child in LIMB_CHAINS:
        key = f"{parent}->{child}"
        if key in scale:
            targets[child] = targets[parent] + scale[key] * (pos[child] - pos[parent])

    # Optional joints the skeleton lacks (toes, head) get NaN targets and no weight.
    nan = np.full_like(pelvis_t, np.nan)
    head = pos.get("head", shoulders_mid)
    return ProportionFit(
        targets_w=np.stack([targets.get(name, nan) for name in rmap.human_joints], axis=1),
        pelvis_quat_w=quat_np.from_matrix(rot_pelvis),
        bone_scale=scale,
        leg_scale=leg_scale,
        human_height_m=float(np.median(head[:, 2])) + 0.1,
    )
