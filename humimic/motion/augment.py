"""New robot clips from one: its left-right mirror image and its replay at another speed.

Both rebuild the clip from its root trajectory and joint angles with
:func:`~humimic.motion.robot_clip.make_robot_clip`, so body poses and velocities come from the
model's forward kinematics, never from transforming the stored body arrays.

* **Mirror** reflects the world through the x-z plane (``y -> -y``). Joints are matched by
  name (``left_*`` with ``right_*``; the others with themselves). A joint angle keeps or flips
  its sign according to the joint axes in the model's default pose: a reflection ``M`` turns a
  rotation by ``θ`` about ``a`` into one by ``-θ`` about ``M a``, so the partner's angle is
  ``-(a_partner · M a) · θ`` (pitch axes keep the sign, roll and yaw axes flip it).
* **Speed** replays the motion ``speed`` times faster at the same frame rate: positions and
  joint angles interpolated linearly, the root orientation with slerp, the contact mask from
  the nearest source frame.

Dimension names: ``T`` frames, ``J`` joints.
"""

from __future__ import annotations

from typing import Any

import mujoco
import numpy as np
from numpy.typing import NDArray

from humimic.errors import ConfigError
from humimic.geometry import quat_np
from humimic.motion.clip import RobotClip
from humimic.motion.normalize import frame_weights
from humimic.motion.robot_clip import DEFAULT_VELOCITY_SIGMA_FRAMES, make_robot_clip
from humimic.robot.lookup import joint_ids
from humimic.robot.model import default_qpos
from humimic.robot.spec import RobotSpec

F64 = NDArray[np.float64]

REFLECT_Y = np.diag([1.0, -1.0, 1.0])
"""The reflection through the world's x-z plane."""

SIDES = (("left_", "right_"), ("right_", "left_"))


def mirror_name(name: str) -> str:
    """The name of the body or joint on the other side (``left_`` <-> ``right_``), else itself."""
    for side, other in SIDES:
        if name.startswith(side):
            return other + name[len(side) :]
    return name


def mirror_joint_map(model: mujoco.MjModel, spec: RobotSpec) -> tuple[NDArray[np.int64], F64]:
    """Where each mirrored joint angle comes from, and its sign.

    Returns:
        ``source`` (J,): column of the original joint whose angle the mirrored joint takes;
        ``sign`` (J,): +1 or -1 for that angle. Columns in ``spec.joint_names`` order.

    Raises:
        ConfigError: A joint's partner is missing, or the two axes are not mirror images
            (the model is not left-right symmetric there).
    """
    names = list(spec.joint_names)
    data = mujoco.MjData(model)
    data.qpos[:] = default_qpos(model, spec)
    mujoco.mj_kinematics(model, data)
    axes = data.xaxis[joint_ids(model, names)]
    source, sign = np.zeros(len(names), np.int64), np.zeros(len(names))
    for j, name in enumerate(names):
        partner = mirror_name(name)
        if partner not in names:
            raise ConfigError(
                f"mirror: joint {name!r} has no partner {partner!r} in {spec.variant}"
            )
        k = names.index(partner)
        s = -float(axes[j] @ (REFLECT_Y @ axes[k]))
        if abs(abs(s) - 1.0) > 1e-3:
            raise ConfigError(
                f"mirror: the axes of {name!r} and {partner!r} are not mirror images "
                f"(|a · M a'| = {abs(s):.3f}, expected 1)"
            )
        source[j], sign[j] = k, np.sign(s)
    return source, sign


def mirror_clip(clip: RobotClip, spec: RobotSpec, model: mujoco.MjModel) -> RobotClip:
    """The clip's left-right mirror image (world reflected through the x-z plane).

    Args:
        clip: A clip of ``spec``'s variant (joints matched by name).
        spec: The robot variant.
        model: The variant's model.

    Returns:
        A validated clip; contact columns swapped; ``settings["augment"]`` records it.
    """
    source, sign = mirror_joint_map(model, spec)
    joints = _spec_joints(clip, spec)[:, source] * sign
    root_pos = clip.root_pos_w @ REFLECT_Y
    # R -> M R M for a reflection M = diag(1, -1, 1): (w, x, y, z) -> (w, -x, y, -z).
    root_quat = clip.root_quat_w * np.array([1.0, -1.0, 1.0, -1.0])
    contact = np.asarray(clip.contact_mask)[:, ::-1]
    return _rebuilt(clip, spec, model, root_pos, root_quat, joints, contact, {"mirror": True})


def retime_clip(clip: RobotClip, spec: RobotSpec, model: mujoco.MjModel, speed: float) -> RobotClip:
    """The clip played ``speed`` times as fast, at its own frame rate.

    Args:
        clip: A clip of ``spec``'s variant.
        spec: The robot variant.
        model: The variant's model.
        speed: Playback speed, > 0 (1.2 = 20 % faster, a clip 1/1.2 as long).

    Returns:
        A validated clip of ``floor(duration / speed · fps) + 1`` frames.

    Raises:
        ConfigError: ``speed`` is not a positive finite number or the result has < 2 frames.
    """
    check_speed(speed)
    # Whole frames within the source's end: a clamped last frame would repeat the one before.
    n = int(np.floor(clip.duration_s / speed * clip.fps + 1e-9)) + 1
    if n < 2 or clip.num_frames < 2:
        raise ConfigError(f"speed {speed}: the clip would have {n} frames (needs >= 2)")
    x = np.arange(n) * speed
    i0, weight = frame_weights(x, clip.num_frames)
    frac = weight[:, None]

    def lerp(a: F64) -> F64:
        return (1.0 - frac) * a[i0] + frac * a[i0 + 1]

    quat = quat_np.slerp(clip.root_quat_w[i0], clip.root_quat_w[i0 + 1], frac[:, 0])
    contact = np.asarray(clip.contact_mask)[np.rint(x).astype(np.int64)]
    joints = lerp(_spec_joints(clip, spec))
    return _rebuilt(clip, spec, model, lerp(clip.root_pos_w), quat, joints, contact,
                    {"speed": float(speed)})  # fmt: skip


def check_speed(speed: float) -> None:
    """Raise :class:`ConfigError` unless ``speed`` is a positive finite number."""
    if not (np.isfinite(speed) and speed > 0):
        raise ConfigError(f"speed must be a positive number, got {speed}")


def _spec_joints(clip: RobotClip, spec: RobotSpec) -> F64:
    """The clip's joint angles (T, J) in ``spec.joint_names`` order, matched by name."""
    missing = [n for n in spec.joint_names if n not in clip.joint_names]
    if missing:
        raise ConfigError(f"the clip lacks joints of {spec.variant}: {missing}")
    return np.asarray(clip.joint_pos)[:, [clip.joint_index(n) for n in spec.joint_names]]


def _rebuilt(
    clip: RobotClip,
    spec: RobotSpec,
    model: mujoco.MjModel,
    root_pos: F64,
    root_quat: F64,
    joints: F64,
    contact: F64,
    step: dict[str, Any],
) -> RobotClip:
    """A clip from the new trajectory, keeping the source's provenance and adding ``step``.

    The report is empty: the source's verdict is not this clip's (``tools/augment_clip.py``
    assesses it).
    """
    settings = dict(clip.settings)
    settings["augment"] = [*settings.get("augment", []), step]
    sigma = settings.get("velocity_sigma_frames", DEFAULT_VELOCITY_SIGMA_FRAMES)
    out = make_robot_clip(
        spec,
        model,
        root_pos,
        quat_np.normalize(root_quat),
        joints,
        clip.fps,
        contact_mask=np.ascontiguousarray(contact),
        velocity_sigma_frames=float(sigma),
        settings=settings,
    )
    # The source's provenance as it was recorded (not re-hashed from a file that may be gone).
    out.source_file, out.source_sha256 = clip.source_file, clip.source_sha256
    return out
