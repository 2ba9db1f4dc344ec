"""The actor observation vector at deploy time, built from robot state and the manifest only.

Mirrors the training observation group (``humimic.envs.managers.ObservationGroup`` with
noise off) without importing it: current terms in manifest order, each multiplied by its
scale, then ``history_length`` past frames of the ``history_terms`` (newest first, zero after
a reset), the whole vector clipped to ``±clip``. The history is pushed after the vector is
built, so it never contains the current frame. Numpy only.

Deployable terms (the training term functions of the same name):

* ``actions``: the last policy output (after the ±action_clip clamp), zero after a reset.
* ``root_ang_vel_b``: pelvis angular velocity in the pelvis frame (IMU gyro), rad/s.
* ``joint_pos_rel``: joint positions minus the default pose, rad.
* ``joint_vel``: joint velocities, rad/s.

Manifests of older exports name terms by PBHC's words (``base_ang_vel``, ``dof_pos``,
``dof_vel``); they are read through :data:`humimic.config.task.TERM_ALIASES`.
* ``projected_gravity``: ``(0, 0, −1)`` in the pelvis frame, from the IMU quaternion (wxyz).
* ``ref_motion_phase``: ``clamp(t / duration, 0, 1)`` with ``t`` the clip clock.
* ``ref_joint_pos`` / ``ref_joint_vel`` / ``ref_projected_gravity`` /
  ``ref_root_lin_vel_b``: the controller's reference clip
  (:class:`~humimic.deploy.reference.ReferenceTrack`) at ``t + ahead_steps · control_dt``:
  joint angles minus the default pose (rad), joint velocities (rad/s), gravity and the root
  linear velocity (m/s) in the reference root frame.
* ``ref_heading_error``: (sin, cos) of the reference root yaw at ``t + ahead_steps ·
  control_dt`` minus the robot's yaw from the IMU quaternion. The IMU's yaw origin is
  arbitrary, so the robot's yaw is re-based onto the clip's at the first step after
  :meth:`ObservationBuilder.reset` (training starts every episode on the reference).
* ``ref_torso_heading_error``: the same for the torso, whose yaw is the pelvis orientation
  turned through the waist joints (:func:`torso_yaw`, the training term's formula), for
  the clip and for the robot (IMU quaternion and joint encoders).

Terms that need the robot's world position (e.g. ``ref_future``) are refused: the G1 has no
state estimator here.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from humimic.config.task import canonical_term
from humimic.deploy.controller import RobotState
from humimic.deploy.reference import ReferenceTrack
from humimic.errors import ConfigError
from humimic.export.manifest import ControllerManifest
from humimic.geometry import quat_np
from humimic.robot.torso import Axis, waist_columns

_DOWN = np.array([0.0, 0.0, -1.0])

TermFn = Callable[[RobotState, np.ndarray, float, float], np.ndarray]
"""(state, last action, phase, clip time s) -> term values."""

REFERENCE_TERMS = (
    "ref_joint_pos", "ref_joint_vel", "ref_projected_gravity", "ref_heading_error",
    "ref_root_lin_vel_b", "ref_torso_heading_error",
)  # fmt: skip
"""Terms read from the reference clip (need a :class:`ReferenceTrack`)."""


def _gravity_b(quat_wxyz: np.ndarray) -> np.ndarray:
    q = quat_np.normalize(quat_wxyz)
    return quat_np.rotate(quat_np.conjugate(q), _DOWN)


def torso_yaw(
    quat_wxyz: np.ndarray, joint_pos: np.ndarray, chain: tuple[tuple[int, Axis], ...]
) -> np.ndarray:
    """Yaw (rad), shape (...), of the torso: the pelvis orientation (..., 4) wxyz turned
    through the waist ``chain`` (:func:`humimic.robot.torso.waist_columns`) by ``joint_pos``
    (..., J) rad; the training term's formula."""
    q = quat_np.normalize(quat_wxyz)
    for col, axis in chain:
        q = quat_np.multiply(q, quat_np.from_axis_angle(np.asarray(axis), joint_pos[..., col]))
    return quat_np.yaw(q)


class HeadingAlignment:
    """A robot yaw measured on the robot (IMU), in the reference clip's yaw frame, held for
    an episode.

    Args:
        ref_yaw_at: Clip time (s) -> the reference's yaw of the same body, rad.
    """

    def __init__(self, ref_yaw_at: Callable[[float], float]) -> None:
        self.ref_yaw_at = ref_yaw_at
        self.offset_rad: float | None = None
        """Measured yaw minus clip yaw at the episode's first step; None until that step."""

    def reset(self) -> None:
        """Forget the offset: the next call re-bases onto the clip."""
        self.offset_rad = None

    def robot_yaw(self, measured_yaw: float, time_s: float) -> float:
        """Robot yaw (rad) in the clip's frame; the first call after a reset sets the offset
        so that the robot faces the clip's heading at ``time_s``."""
        if self.offset_rad is None:
            self.offset_rad = measured_yaw - self.ref_yaw_at(time_s)
        return measured_yaw - self.offset_rad


def _heading_error(ref_yaw: float, robot_yaw: float) -> np.ndarray:
    diff = ref_yaw - robot_yaw
    return np.array([np.sin(diff), np.cos(diff)])


def _term_fns(
    default_pos: np.ndarray,
    reference: ReferenceTrack | None,
    joint_names: list[str],
    alignments: list[HeadingAlignment],
    control_dt: float,
) -> dict[str, Callable[..., TermFn]]:
    """Term name -> factory taking the term's params and returning its function; each
    heading term's factory appends its :class:`HeadingAlignment` to ``alignments``."""

    def ahead(fn: Callable[[float], np.ndarray]) -> Callable[..., TermFn]:
        def make(ahead_steps: int = 1) -> TermFn:
            return lambda s, a, p, t: fn(t + ahead_steps * control_dt)

        return make

    fns: dict[str, Callable[..., TermFn]] = {
        "actions": lambda: lambda s, a, p, t: a,
        "root_ang_vel_b": lambda: lambda s, a, p, t: np.asarray(s.gyro_b, np.float64),
        "joint_pos_rel": lambda: (
            lambda s, a, p, t: np.asarray(s.joint_pos, np.float64) - default_pos
        ),
        "joint_vel": lambda: lambda s, a, p, t: np.asarray(s.joint_vel, np.float64),
        "projected_gravity": lambda: lambda s, a, p, t: _gravity_b(s.quat_wxyz),
        "ref_motion_phase": lambda: lambda s, a, p, t: np.array([p]),
    }
    if reference is None:
        return fns
    ref = reference
    fns["ref_joint_pos"] = ahead(lambda t: ref.joint_pos_at(t) - default_pos)
    fns["ref_joint_vel"] = ahead(ref.joint_vel_at)
    fns["ref_projected_gravity"] = ahead(lambda t: _gravity_b(ref.root_quat_at(t)))
    fns["ref_root_lin_vel_b"] = ahead(
        lambda t: quat_np.rotate(
            quat_np.conjugate(quat_np.normalize(ref.root_quat_at(t))), ref.root_lin_vel_at(t)
        )
    )

    def heading_term(
        ref_yaw_at: Callable[[float], float], measured_yaw: Callable[[RobotState], float],
        ahead_steps: int,
    ) -> TermFn:  # fmt: skip
        align = HeadingAlignment(ref_yaw_at)
        alignments.append(align)

        def fn(s: RobotState, a: np.ndarray, p: float, t: float) -> np.ndarray:
            robot = align.robot_yaw(measured_yaw(s), t)
            return _heading_error(ref_yaw_at(t + ahead_steps * control_dt), robot)

        return fn

    def pelvis_heading(ahead_steps: int = 1) -> TermFn:
        return heading_term(
            lambda t: float(quat_np.yaw(quat_np.normalize(ref.root_quat_at(t)))),
            lambda s: float(quat_np.yaw(quat_np.normalize(s.quat_wxyz))),
            ahead_steps,
        )

    def torso_heading(ahead_steps: int = 1) -> TermFn:
        chain = waist_columns(tuple(joint_names))
        return heading_term(
            lambda t: float(torso_yaw(ref.root_quat_at(t), ref.joint_pos_at(t), chain)),
            lambda s: float(torso_yaw(s.quat_wxyz, np.asarray(s.joint_pos, np.float64), chain)),
            ahead_steps,
        )

    fns["ref_heading_error"] = pelvis_heading
    fns["ref_torso_heading_error"] = torso_heading
    return fns


def expected_sizes(num_joints: int) -> dict[str, int]:
    """Width of each deployable term for ``num_joints`` joints."""
    j = num_joints
    return {"actions": j, "root_ang_vel_b": 3, "joint_pos_rel": j, "joint_vel": j,
            "projected_gravity": 3, "ref_motion_phase": 1, "ref_joint_pos": j,
            "ref_joint_vel": j, "ref_projected_gravity": 3, "ref_heading_error": 2,
            "ref_root_lin_vel_b": 3, "ref_torso_heading_error": 2}  # fmt: skip


class ObservationBuilder:
    """Builds the actor vector (D,) step by step; keeps the history between calls.

    Args:
        manifest: The controller manifest (observation layout, default pose).
        reference: The controller's reference clip; needed by the ``ref_*`` clip terms.

    Raises:
        ConfigError: A term is not deployable, needs a reference that is not given, or its
            size does not match the robot.
    """

    def __init__(
        self, manifest: ControllerManifest, reference: ReferenceTrack | None = None
    ) -> None:
        obs = manifest.observation
        default = np.asarray(manifest.default_joint_pos, np.float64)
        self.alignments: list[HeadingAlignment] = []
        """One per heading term, re-based at the first step after :meth:`reset`."""
        fns = _term_fns(
            default, reference, list(manifest.joint_names), self.alignments,
            float(manifest.control_dt),
        )  # fmt: skip
        sizes = expected_sizes(manifest.num_joints)
        kinds = [canonical_term("observation", t.fn) for t in obs.terms]
        for t, fn in zip(obs.terms, kinds, strict=True):
            if fn in REFERENCE_TERMS and reference is None:
                raise ConfigError(
                    f"controller observation term '{t.name}' ({t.fn}) needs the reference clip"
                )
            if fn not in fns:
                raise ConfigError(
                    f"controller observation term '{t.name}' ({t.fn}) cannot be built on the"
                    f" robot; deployable terms: {sorted(fns)}"
                )
            if t.size != sizes[fn]:
                raise ConfigError(
                    f"controller observation term '{t.name}' has size {t.size}, expected"
                    f" {sizes[fn]} for {manifest.num_joints} joints"
                )
        self.dim = obs.dim
        self.clip = float(obs.clip)
        try:
            self._fns = [fns[fn](**t.params) for t, fn in zip(obs.terms, kinds, strict=True)]
        except TypeError as err:
            raise ConfigError(f"controller observation term parameters: {err}") from None
        self._scale = np.concatenate([np.full(t.size, t.scale) for t in obs.terms])
        spans, start = {}, 0
        for t in obs.terms:
            spans[t.name] = np.arange(start, start + t.size)
            start += t.size
        self._width = start
        self._hist_cols = (
            np.concatenate([spans[n] for n in obs.history_terms])
            if obs.history_terms
            else np.zeros(0, np.int64)
        )
        self.history = np.zeros((obs.history_length, len(self._hist_cols)))

    def reset(self) -> None:
        """Zero the history and re-base the heading (start of an episode)."""
        self.history[:] = 0.0
        for align in self.alignments:
            align.reset()

    def build(
        self, state: RobotState, last_action: np.ndarray, phase: float, time_s: float = 0.0
    ) -> np.ndarray:
        """The observation for this step; then pushes this step into the history.

        Args:
            state: Robot state (policy joint order, pelvis IMU).
            last_action: (J,) previous policy output (zeros right after a reset).
            phase: Clip phase in [0, 1].
            time_s: Clip time of this step, s (the reference terms read the clip there).

        Returns:
            (D,) float32 observation.
        """
        action = np.asarray(last_action, np.float64)
        current = np.concatenate([fn(state, action, phase, time_s) for fn in self._fns])
        if current.shape[0] != self._width:
            raise ConfigError(
                f"robot state gives {current.shape[0]} observation values, expected {self._width}"
            )
        current = current * self._scale
        out = np.concatenate((current, self.history.ravel()))
        np.clip(out, -self.clip, self.clip, out=out)
        if len(self.history):
            self.history[1:] = self.history[:-1].copy()
            self.history[0] = current[self._hist_cols]
        return out.astype(np.float32)
