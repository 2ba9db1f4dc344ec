"""Whole-sequence retargeting: one Gauss-Newton problem over every frame at once.

Unknowns per frame ``t``: root position (3), a root rotation increment (3, world frame,
applied on the left) and the joint angles (J): ``V = 6 + J`` values. Residuals:

* key points: ``sqrt(w_k) (p_k(x_t) - target_k,t)`` for every matched body;
* posture: ``w_p (q_t - q_default)``, a weak pull that decides what targets leave free;
* ground: sole points of a foot in contact sit on ``z = 0``; any sole point below ground is
  pushed up (one-sided);
* contact pinning: a foot in contact at ``t - 1`` and ``t`` keeps its sole points still in
  x-y (no skating);
* smoothness: second differences of root position, root rotation and joints;
* root velocity: the root's steps between frames follow the human pelvis's steps;
* joint speed: ``|q_t - q_{t-1}| fps`` above a fraction of the joint's velocity limit.

Key-point and ground Jacobians come from the batched torch kinematics (joint axes and
anchors in world); temporal terms (:mod:`~humimic.motion.retarget.temporal`) couple
neighbouring frames only, so the normal matrix is banded and each step is a banded
Cholesky solve. Joint limits are hard: each step is clamped into the limits.
Dimension names: ``T`` frames, ``P`` points, ``J`` joints.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import mujoco
import numpy as np
from numpy.typing import NDArray
from threadpoolctl import threadpool_limits

from humimic.config.motion_schema import SolverCfg
from humimic.geometry import quat_np
from humimic.motion.retarget.banded import (
    System,
    add_block,
    add_gradient,
    add_rows,
    band_matrix,
    gram,
    solve_band,
    solve_banded,
    zero_system,
)
from humimic.motion.retarget.coarse import subsample, take, upsample
from humimic.motion.retarget.collision import (
    add_collision_terms,
    add_ground_terms,
    model_capsules,
)
from humimic.motion.retarget.jacobian import BodyJacobians, Pose, State
from humimic.motion.retarget.temporal import joint_speed, root_velocity, smoothness

F64 = NDArray[np.float64]
_solve_banded = solve_banded  # former name, kept for callers


@dataclass
class PointSet:
    """Points rigidly attached to robot bodies.

    Attributes:
        body: ``(P,)`` indices into the kinematics' body list.
        offset_b: ``(P, 3)`` offsets in the body frame, m.
    """

    body: NDArray[np.int64]
    offset_b: F64


@dataclass
class SolveProblem:
    """Everything the solver needs about one clip.

    Attributes:
        targets_w: ``(T, P, 3)`` key-point targets (NaN = unused), m.
        weights: ``(P,)`` key-point weights.
        key_points: The bodies matched to the targets.
        soles: ``{"left", "right"}`` sole points of each foot.
        contact: ``(T, 2)`` bool foot contact [left, right].
        fps: Frame rate, Hz.
        root_pos_w: ``(T, 3)`` initial root positions.
        root_quat_w: ``(T, 4)`` initial root orientations (wxyz).
    """

    targets_w: F64
    weights: F64
    key_points: PointSet
    soles: dict[str, PointSet]
    contact: NDArray[np.bool_]
    fps: float
    root_pos_w: F64
    root_quat_w: F64


@dataclass
class SolveResult:
    """The solved trajectory and how the solve went."""

    root_pos_w: F64
    root_quat_w: F64
    joint_pos: F64
    cost_history: list[float] = field(default_factory=list)


class SequenceSolver:
    """Gauss-Newton retargeting of whole clips onto one robot model.

    Args:
        model: Compiled robot model (for joint axes, anchors and the body tree).
        joint_names: Solved joints, in output column order.
        lower, upper: ``(J,)`` joint limits, rad.
        velocity_limit: ``(J,)`` joint speed limits, rad/s.
        default_pos: ``(J,)`` default joint angles, rad.
        cfg: Weights and iterations.
    """

    def __init__(
        self,
        model: mujoco.MjModel,
        joint_names: list[str],
        lower: F64,
        upper: F64,
        velocity_limit: F64,
        default_pos: F64,
        cfg: SolverCfg,
    ) -> None:
        self.bodies = BodyJacobians(model, joint_names)
        self.capsules = model_capsules(model)
        self.cfg = cfg
        self.lower = lower + cfg.limit_margin_rad
        self.upper = upper - cfg.limit_margin_rad
        self.velocity_limit = velocity_limit
        self.default_pos = np.clip(default_pos, self.lower, self.upper)
        self.num_joints = len(joint_names)

    def point_positions(self, state: State, points: PointSet) -> F64:
        """World positions ``(T, P, 3)`` of a point set at ``state``."""
        return self.bodies.points_w(self.bodies.pose(state), points.body, points.offset_b).copy()

    # ------------------------------------------------------------------- solving
    def solve(self, problem: SolveProblem, joint_pos_init: F64 | None = None) -> SolveResult:
        """Minimise the weighted residuals over the whole clip; returns the trajectory."""
        num_frames = problem.targets_w.shape[0]
        joint_pos = (
            np.tile(self.default_pos, (num_frames, 1))
            if joint_pos_init is None
            else joint_pos_init.copy()
        )
        state = (problem.root_pos_w.copy(), quat_np.normalize(problem.root_quat_w), joint_pos)
        state = (state[0], state[1], np.clip(state[2], self.lower, self.upper))
        with threadpool_limits(1):  # banded Cholesky is memory-bound: threads only contend
            stride = self.cfg.coarse_stride
            if stride > 1 and num_frames >= 4 * stride:
                # Coarse to fine: most of the work happens on every stride-th frame.
                coarse = self._iterate(subsample(problem, stride), take(state, stride), 1e-3)
                state = upsample(coarse, num_frames, stride)
            result = self._iterate(problem, state, 1e-3)
            if self.cfg.speed_repair_weight > 0 and self._too_fast(result.joint_pos, problem.fps):
                result = self._repair_speed(problem, result)
            return result

    def _too_fast(self, joint_pos: F64, fps: float) -> bool:
        """Whether a joint moves faster than its velocity limit between two frames."""
        return bool(np.any(np.abs(np.diff(joint_pos, axis=0)) * fps > self.velocity_limit))

    def _repair_speed(self, problem: SolveProblem, result: SolveResult) -> SolveResult:
        """Re-solve from ``result`` with a strong joint-speed term, keeping it if it is better
        by its own (normal) cost or removes the over-speed steps."""
        normal = self.cfg
        self.cfg = replace(normal, velocity_limit_weight=normal.speed_repair_weight)
        try:
            state = (result.root_pos_w, result.root_quat_w, result.joint_pos)
            repaired = self._iterate(problem, state, 1e-3)
        finally:
            self.cfg = normal
        repaired.cost_history = result.cost_history + repaired.cost_history[1:]
        return repaired

    def _iterate(self, problem: SolveProblem, state: State, damping: float) -> SolveResult:
        """Levenberg-Marquardt loop over whole-clip Gauss-Newton steps.

        A candidate step is scored by its cost alone; Jacobians and normal equations are
        built only for accepted states that another step will start from.
        """
        num_frames = problem.targets_w.shape[0]
        pose = self.bodies.pose(state)
        cost, first = self._normal_equations(problem, state, pose)
        linear: tuple[F64, F64] | None = first  # None once the state moved: linearise again
        history = [cost]
        for _ in range(self.cfg.iterations):
            if linear is None:  # the state moved: linearise there
                linear = self._normal_equations(problem, state, pose)[1]
            step = solve_band(linear[1], linear[0], damping)
            candidate = self._apply(state, step.reshape(num_frames, -1))
            candidate_pose = self.bodies.pose(candidate)
            new_cost = self._evaluate(problem, candidate, candidate_pose, None)
            if new_cost < cost:
                state, pose, cost, linear = candidate, candidate_pose, new_cost, None
                damping = max(damping / 3.0, 1e-6)
                history.append(cost)
                if history[-2] - cost < self.cfg.tolerance * history[-2]:
                    break
            else:
                damping *= 10.0
        return SolveResult(state[0], state[1], state[2], history)

    def _apply(self, state: State, step: F64) -> State:
        """Add a step to the state: translate, rotate on the left, clamp joints."""
        root_pos = state[0] + step[:, :3]
        root_quat = quat_np.normalize(quat_np.multiply(quat_np.from_rotvec(step[:, 3:6]), state[1]))
        joint_pos = np.clip(state[2] + step[:, 6:], self.lower, self.upper)
        return root_pos, root_quat, joint_pos

    def _normal_equations(
        self, problem: SolveProblem, state: State, pose: Pose
    ) -> tuple[float, tuple[F64, F64]]:
        """Cost, gradient ``(T, V)`` and band storage of ``H`` (for :func:`solve_band`)."""
        system = zero_system(state[0].shape[0], 6 + self.num_joints)
        cost = self._evaluate(problem, state, pose, system)
        return cost, (system[3], band_matrix(system))

    def _linearise(self, problem: SolveProblem, state: State) -> tuple[float, System]:
        """Cost and the banded normal equations ``(H_diag, H_off1, h_off2, g)`` at ``state``.

        ``H_diag (T, V, V)`` and ``H_off1 (T-1, V, V)`` are full blocks; frames two apart are
        coupled only by smoothness, which is diagonal, so ``h_off2 (T-2, V)`` holds diagonals.
        """
        system = zero_system(state[0].shape[0], 6 + self.num_joints)
        cost = self._evaluate(problem, state, self.bodies.pose(state), system)
        return cost, system

    def _evaluate(
        self, problem: SolveProblem, state: State, pose: Pose, system: System | None
    ) -> float:
        """Cost at ``state``; with ``system``, also add every term's normal equations to it."""
        cfg = self.cfg
        bodies = self.bodies
        diag, _, _, grad = system if system is not None else (None,) * 4
        cost = 0.0

        cost += self._key_points(problem, pose, system)

        # Posture (per frame, joint columns only).
        w_post = cfg.posture_weight
        res_post = w_post * (state[2] - self.default_pos)
        cost += float(np.sum(res_post**2))
        if diag is not None and grad is not None:  # both set exactly when system is
            dim = diag.shape[-1]
            diag.reshape(len(diag), -1)[:, 6 * (dim + 1) :: dim + 1] += w_post**2
            grad[:, 6:] += w_post * res_post

        for column, side in enumerate(("left", "right")):
            cost += self._foot(pose, problem.soles[side], problem.contact[:, column], system)
        cost += add_collision_terms(
            bodies, pose, self.capsules, cfg.collision_weight, cfg.collision_margin_m, diag, grad
        )
        feet = np.concatenate([sole.body for sole in problem.soles.values()])
        cost += add_ground_terms(
            bodies, pose, self.capsules, cfg.penetration_weight, diag, grad, skip_bodies=feet
        )

        cost += smoothness(state, problem.fps, cfg.smooth_weight, system)
        reference = (problem.root_pos_w, problem.root_quat_w)
        cost += root_velocity(reference, state, problem.fps, cfg.root_velocity_weight, system)
        allowed = cfg.velocity_limit_fraction * self.velocity_limit
        cost += joint_speed(state[2], problem.fps, allowed, cfg.velocity_limit_weight, system)
        return cost

    def _key_points(self, problem: SolveProblem, pose: Pose, system: System | None) -> float:
        """Weighted key-point errors; normal equations per kinematic branch."""
        points = problem.key_points
        key_pos = self.bodies.points_w(pose, points.body, points.offset_b)
        valid = np.isfinite(problem.targets_w[..., 0])
        sqrt_w = np.sqrt(problem.weights)[None, :] * valid  # (T, P)
        res = np.where(valid[..., None], key_pos - np.nan_to_num(problem.targets_w), 0.0)
        res *= sqrt_w[..., None]
        if system is not None:
            num_frames = len(res)
            for group in self.bodies.groups(points.body):
                jac = self.bodies.group_jacobian(pose, group, key_pos[:, group.points])
                jac *= sqrt_w[:, group.points, None, None]
                flat = jac.reshape(num_frames, -1, jac.shape[-1])
                add_rows(system, group.span, res[:, group.points].reshape(num_frames, -1), flat)
        return float(np.sum(res**2))

    def _foot(
        self, pose: Pose, sole: PointSet, in_contact: NDArray[np.bool_], system: System | None
    ) -> float:
        """Ground contact and pinning of one foot's sole points.

        A contact foot touches ``z = 0`` with its lowest sole points (a rolling foot pivots
        on heel or toe) and those points keep their x-y between frames (no skating);
        nothing sinks below the ground.
        """
        cfg = self.cfg
        pos = self.bodies.points_w(pose, sole.body, sole.offset_b)  # (T, P, 3)
        height = pos[..., 2]
        below = height < 0.0
        pinned = in_contact[:, None] & (
            height <= height.min(axis=1, keepdims=True) + cfg.sole_band_m
        )
        weight_z = np.where(below, cfg.penetration_weight, cfg.ground_weight) * (pinned | below)
        res_z = weight_z * height
        w_pin = cfg.contact_pin_weight * (pinned[1:] & pinned[:-1])  # (T-1, P)
        res_xy = w_pin[..., None] * (pos[1:, :, :2] - pos[:-1, :, :2])  # (T-1, P, 2)
        cost = float(np.sum(res_z**2)) + float(np.sum(res_xy**2))
        if system is not None:
            self._foot_system(pose, sole, pos, weight_z, res_z, w_pin, res_xy, system)
        return cost

    def _foot_system(
        self, pose: Pose, sole: PointSet, pos: F64, weight_z: F64, res_z: F64,
        w_pin: F64, res_xy: F64, system: System,
    ) -> None:  # fmt: skip
        """Normal equations of :meth:`_foot`: per-frame rows, and pin pairs across frames.

        A pin residual ``w (p_{t+1} - p_t)`` adds ``w² JᵀJ`` to both frames' blocks and
        ``-w² J_tᵀ J_{t+1}`` to the block between them; per frame, the ground row and both
        pins fold into one scaled Gram product.
        """
        num_frames = len(pos)
        pin2 = np.zeros(weight_z.shape)
        pin2[1:] += w_pin**2
        pin2[:-1] += w_pin**2
        scale = np.sqrt(pin2)[..., None].repeat(3, axis=-1)
        scale[..., 2] = weight_z
        eff = np.zeros(pos.shape)  # per-frame residual whose product with J is the gradient
        eff[1:, :, :2] += w_pin[..., None] * res_xy
        eff[:-1, :, :2] -= w_pin[..., None] * res_xy
        eff[..., 2] = weight_z * res_z
        for group in self.bodies.groups(sole.body):
            pts, span = group.points, group.span
            jac = self.bodies.group_jacobian(pose, group, pos[:, pts])  # (T, p, 3, C)
            width = jac.shape[-1]
            scaled = (jac * scale[:, pts, :, None]).reshape(num_frames, -1, width)
            add_block(system[0], span, gram(scaled, scaled))
            flat = jac.reshape(num_frames, -1, width)
            add_gradient(system[3], span, eff[:, pts].reshape(num_frames, -1), flat)
            frames = np.flatnonzero(np.any(w_pin[:, pts] > 0, axis=1))
            if frames.size == 0:
                continue
            w = w_pin[frames][:, pts, None, None]
            prev = (w * jac[frames, :, :2]).reshape(len(frames), -1, width)
            nxt = (w * jac[frames + 1, :, :2]).reshape(len(frames), -1, width)
            add_block(system[1], span, -gram(prev, nxt), frames)
