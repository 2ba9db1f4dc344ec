"""What ``humimic view`` shows: a standing robot variant, or a clip beside its human source."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import mujoco
import numpy as np
from numpy.typing import NDArray

from humimic.errors import ConfigError
from humimic.viz.render import (
    SceneHook,
    add_skeleton,
    has_display,
    render_qpos_sequence,
    write_video,
)

if TYPE_CHECKING:
    from humimic.motion.clip import RobotClip

__all__ = ["clip_qpos", "has_display", "human_overlay", "show_clip", "show_robot", "standing_qpos"]

VIDEO_FPS = 30.0
HUMAN_SIDE_OFFSET_M = 0.8
"""How far to the robot's left (at its first frame's heading) the human is drawn, m."""
_RIGID_BONE_RATIO = 1.5  # a bone whose length varies more than this is no bone


def human_overlay(
    clip: RobotClip, where: str = "clip"
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """The clip's human skeleton as drawn beside the robot, and the parents to draw.

    The human is scaled by the retarget's leg scale about the world origin, as the solver
    scaled the pelvis trajectory, so it covers the robot's distance (unscaled, a robot at
    0.78x the human's stride fell behind and the human drifted onto it), then moved
    :data:`HUMAN_SIDE_OFFSET_M` to the robot's left. Bones that are not bones are hidden:
    those from joints above the pelvis (a root or reference joint left on the floor) and
    any whose length is not rigid.

    Returns:
        ``(T, K, 3)`` positions in metres and ``(K,)`` parents with -1 for hidden bones.
    """
    from humimic.geometry import quat_np
    from humimic.motion.report import clip_report

    report = clip_report(clip, where)  # ``where`` names the clip in an error
    scale = (report.leg_scale if report is not None else 1.0) or 1.0
    heading = float(quat_np.yaw(clip.root_quat_w[0]))
    left = np.array([-np.sin(heading), np.cos(heading), 0.0])
    pos = clip.human_pos_w * scale + HUMAN_SIDE_OFFSET_M * left
    source = report.source if report is not None else None
    pelvis = source.canonical_map.get("pelvis") if source is not None else None
    return pos, _drawn_parents(clip, clip.human_pos_w, pelvis)


def _drawn_parents(
    clip: RobotClip, pos: NDArray[np.float64], pelvis: str | None
) -> NDArray[np.int64]:
    """Parents with -1 for bones above the ``pelvis`` joint and bones whose length is not
    rigid."""
    parents = np.array(clip.human_parents, dtype=np.int64)
    names = list(clip.human_joint_names)
    if pelvis in names:
        above = set()
        j = int(parents[names.index(pelvis)])
        while j >= 0:
            above.add(j)
            j = int(parents[j])
        parents = np.where(np.isin(parents, list(above)), -1, parents)
    for k, p in enumerate(parents):
        if p >= 0:
            length = np.linalg.norm(pos[:, k] - pos[:, p], axis=-1)
            if length.max() > _RIGID_BONE_RATIO * max(length.min(), 1e-3):
                parents[k] = -1
    return parents


def standing_qpos(variant: str, seconds: float) -> tuple[mujoco.MjModel, NDArray[np.float64]]:
    """Simulate the variant held by PD at its default pose; qpos ``(T, nq)`` at 30 fps.

    Without a policy the robot stands on the spec's standing gains (``standing_gains_scale``).
    """
    from humimic.robot.model import build_model, default_qpos, set_actuator_gains
    from humimic.robot.spec import load_robot_spec

    spec = load_robot_spec(variant)
    model = build_model(spec)
    scale = spec.standing_gains_scale  # no policy: the spec's stiffer standing set
    set_actuator_gains(model, spec, spec.kp * scale, spec.kd * scale)
    data = mujoco.MjData(model)
    data.qpos[:] = default_qpos(model, spec)
    data.ctrl[:] = spec.default_joint_pos
    steps_per_frame = max(1, round(1.0 / (VIDEO_FPS * model.opt.timestep)))
    frames = []
    for _ in range(max(1, int(seconds * VIDEO_FPS))):
        mujoco.mj_step(model, data, nstep=steps_per_frame)
        frames.append(data.qpos.copy())
    return model, np.asarray(frames)


def clip_qpos(model: mujoco.MjModel, clip: object) -> NDArray[np.float64]:
    """qpos ``(T, nq)`` of a clip, joints placed by name into the model's qpos layout."""
    from humimic.motion.clip import RobotClip

    assert isinstance(clip, RobotClip)
    qpos = np.tile(model.qpos0, (clip.num_frames, 1))
    qpos[:, 0:3] = clip.root_pos_w
    qpos[:, 3:7] = clip.root_quat_w
    for j, name in enumerate(clip.joint_names):
        joint_id = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, name)
        if joint_id < 0:
            raise ConfigError(f"clip joint '{name}' is not in the robot model")
        qpos[:, model.jnt_qposadr[joint_id]] = clip.joint_pos[:, j]
    return qpos


def show_robot(
    variant: str, video: Path | None, seconds: float, width: int, height: int
) -> Path | None:
    """Interactive viewer of a standing variant, or an MP4 of it held by PD for ``seconds``."""
    model, qpos = standing_qpos(variant, seconds)
    if video is None:
        _play_live(model, qpos, VIDEO_FPS)
        return None
    frames = render_qpos_sequence(model, qpos, width=width, height=height)
    return write_video(video, frames, VIDEO_FPS)


def show_clip(
    clip_path: Path, video: Path | None, variant: str | None, width: int, height: int
) -> Path | None:
    """Play a robot clip with its human source drawn beside it (live or MP4)."""
    from humimic.motion.clip import load_clip
    from humimic.robot.model import build_model
    from humimic.robot.spec import load_robot_spec

    clip = load_clip(clip_path)
    if variant is not None and variant != clip.variant:
        raise ConfigError(f"--robot {variant} differs from the clip's variant {clip.variant}")
    model = build_model(load_robot_spec(clip.variant))
    qpos = clip_qpos(model, clip)

    human, parents = human_overlay(clip, str(clip_path)) if clip.human_joint_names else (None, None)

    def draw_human(scene: mujoco.MjvScene, t: int) -> None:
        if human is not None and parents is not None:
            add_skeleton(scene, human[t], parents, [0.9, 0.5, 0.1, 1.0])

    if video is None:
        _play_live(model, qpos, clip.fps, draw_human)
        return None
    step = max(1, round(clip.fps / VIDEO_FPS))
    frames = render_qpos_sequence(
        model,
        qpos[::step],
        width=width,
        height=height,
        distance=3.5,
        scene_hook=lambda scene, t: draw_human(scene, t * step),
    )
    return write_video(video, frames, clip.fps / step)


def _play_live(
    model: mujoco.MjModel,
    qpos: NDArray[np.float64],
    fps: float,
    scene_hook: SceneHook | None = None,
) -> None:
    """Loop a qpos sequence in MuJoCo's interactive viewer until the window closes."""
    import mujoco.viewer

    data = mujoco.MjData(model)
    with mujoco.viewer.launch_passive(model, data) as viewer:
        t = 0
        while viewer.is_running():
            data.qpos[:] = qpos[t % len(qpos)]
            mujoco.mj_forward(model, data)
            if scene_hook is not None:
                viewer.user_scn.ngeom = 0
                scene_hook(viewer.user_scn, t % len(qpos))
            viewer.sync()
            time.sleep(1.0 / fps)
            t += 1
