"""The controller's reference clip on the robot: joint angles, joint velocities, root
orientation and root velocity at any clip time, numpy only.

Interpolation matches training's :class:`humimic.envs.motion_library.MotionLibrary`
exactly: the frame position ``t · fps`` is clamped to ``[0, frames − 1]``; joint arrays are
linearly interpolated between the two neighbouring frames, the root quaternion is slerped
(w-first). Joints are matched to the controller's joint order by name.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from humimic.errors import InputFileError
from humimic.geometry import quat_np

ROOT_BODY = "pelvis"
"""The clip's root body (``root_pos_w`` is its position): the G1's floating base."""


class ReferenceTrack:
    """Reference arrays of one clip, queried by clip time (s).

    Args:
        joint_pos: (T, J) rad, in controller joint order.
        joint_vel: (T, J) rad/s.
        root_quat_w: (T, 4) w-first.
        root_lin_vel_w: (T, 3) root linear velocity in the world frame, m/s.
        fps: Frames per second.
    """

    def __init__(
        self,
        joint_pos: np.ndarray,
        joint_vel: np.ndarray,
        root_quat_w: np.ndarray,
        root_lin_vel_w: np.ndarray,
        fps: float,
    ) -> None:
        self.joint_pos = np.asarray(joint_pos, np.float64)
        self.joint_vel = np.asarray(joint_vel, np.float64)
        self.root_quat_w = np.asarray(root_quat_w, np.float64)
        self.root_lin_vel_w = np.asarray(root_lin_vel_w, np.float64)
        self.fps = float(fps)
        self.num_frames = len(self.joint_pos)

    @classmethod
    def load(cls, path: Path, joint_names: list[str], root_body: str = ROOT_BODY) -> ReferenceTrack:
        """Read a humimic clip (``reference.npz``), joints reordered to ``joint_names``; the
        root velocity is the ``body_lin_vel_w`` row of ``root_body``, as in training.

        Raises:
            InputFileError: Unreadable file, missing arrays, joints or root body.
        """
        keys = ("joint_pos", "joint_vel", "root_quat_w", "body_lin_vel_w")
        try:
            with np.load(path, allow_pickle=False) as data:
                names = [str(n) for n in data["joint_names"]]
                bodies = [str(n) for n in data["body_names"]]
                arrays = {k: np.asarray(data[k]) for k in keys}
                fps = float(data["fps"])
        except (OSError, ValueError, KeyError) as err:
            raise InputFileError(path, f"not a readable reference clip ({err})") from None
        missing = [n for n in joint_names if n not in names]
        if missing:
            raise InputFileError(path, f"reference clip lacks joints {missing}")
        if root_body not in bodies:
            raise InputFileError(path, f"reference clip lacks the root body '{root_body}'")
        cols = [names.index(n) for n in joint_names]
        if len(arrays["joint_pos"]) < 2 or not fps > 0:
            raise InputFileError(path, "reference clip needs >= 2 frames and fps > 0")
        root_vel = arrays["body_lin_vel_w"][:, bodies.index(root_body)]
        return cls(arrays["joint_pos"][:, cols], arrays["joint_vel"][:, cols],
                   arrays["root_quat_w"], root_vel, fps)  # fmt: skip

    def _frames(self, time_s: float) -> tuple[int, int, float]:
        """Neighbouring frame indices and the blend weight of the second one."""
        last = self.num_frames - 1
        pos = max(time_s * self.fps, 0.0)
        i0 = min(int(np.floor(pos)), last)
        i1 = min(i0 + 1, last)
        return i0, i1, float(np.clip(pos - i0, 0.0, 1.0))

    def joint_pos_at(self, time_s: float) -> np.ndarray:
        """(J,) reference joint angles at ``time_s``, rad."""
        i0, i1, a = self._frames(time_s)
        return self.joint_pos[i0] + a * (self.joint_pos[i1] - self.joint_pos[i0])

    def joint_vel_at(self, time_s: float) -> np.ndarray:
        """(J,) reference joint velocities at ``time_s``, rad/s."""
        i0, i1, a = self._frames(time_s)
        return self.joint_vel[i0] + a * (self.joint_vel[i1] - self.joint_vel[i0])

    def root_quat_at(self, time_s: float) -> np.ndarray:
        """(4,) reference root orientation at ``time_s``, w-first."""
        i0, i1, a = self._frames(time_s)
        return quat_np.slerp(self.root_quat_w[i0], self.root_quat_w[i1], a)

    def root_lin_vel_at(self, time_s: float) -> np.ndarray:
        """(3,) reference root linear velocity at ``time_s``, world frame, m/s."""
        i0, i1, a = self._frames(time_s)
        return self.root_lin_vel_w[i0] + a * (self.root_lin_vel_w[i1] - self.root_lin_vel_w[i0])
