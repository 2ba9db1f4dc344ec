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
* joint speed: ``|q_t - q_{t-1}| fps`` above a fraction of the joint's velocity limit.

Key-point and ground Jacobians come from the batched torch kinematics (joint axes and
anchors in world); temporal terms couple neighbouring frames only, so the normal matrix is
banded and each step is a banded Cholesky solve. Joint limits are hard: each step is
clamped into the limits. Dimension names: ``T`` frames, ``P`` points, ``J`` joints.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, replace

import mujoco
import numpy as np
import scipy.linalg
from numpy.typing import NDArray
from threadpoolctl import threadpool_limits

from humimic.errors import ConfigError
from humimic.geometry import quat_np
from humimic.motion.retarget.collision import (
    add_collision_terms,
    add_ground_terms,
    model_capsules,
)
from humimic.motion.retarget.jacobian import BodyJacobians, State

F64 = NDArray[np.float64]
FPS_REF = 50.0
"""Frame rate at which temporal weights are specified; other rates are rescaled."""


@dataclass
class SolverCfg:
    """Weights and iteration budget of the whole-sequence solver."""

    iterations: int = 15
    """Gauss-Newton iterations (each one banded solve over the whole clip)."""
    posture_weight: float = 0.03
    """Pull of each joint toward the default pose, per rad."""
    ground_weight: float = 20.0
    """Contact-foot sole points on the ground and no sole point below it, per m."""
    penetration_weight: float = 100.0
    """Any sole point below the ground, per m (one-sided)."""
    contact_pin_weight: float = 100.0
    """Stance-foot sole points keep still in x-y between frames, per m."""
    smooth_weight: float = 2.0
    """Second differences of root and joints at 50 fps, per m or rad."""
    velocity_limit_weight: float = 10.0
    """Joint speed beyond ``velocity_limit_fraction`` of its limit, per rad/frame."""
    velocity_limit_fraction: float = 0.9
    """Fraction of each joint's velocity limit the solution should stay under."""
    limit_margin_rad: float = 0.01
    """Solutions stay this far inside the joint limits."""
    sole_band_m: float = 0.01
    """Sole points within this height of a contact foot's lowest point bear load and are
    pinned; the others may lift, so feet can roll over heel and toe."""
    collision_weight: float = 10.0
    """Self-collision avoidance between the robot's collision capsules, per m."""
    collision_margin_m: float = 0.01
    """Extra clearance kept between collision capsules, m."""
    tolerance: float = 0.01
    """Stop when an iteration lowers the cost by less than this fraction."""
    coarse_stride: int = 4
    """Solve every n-th frame first and start the full solve from its interpolation
    (1 = no coarse pass)."""

    def __post_init__(self) -> None:
        """Reject values that make the problem meaningless."""
        if self.iterations < 1:
            raise ConfigError("solver.iterations must be >= 1")
        if self.coarse_stride < 1:
            raise ConfigError("solver.coarse_stride must be >= 1")
        if not 0.0 <= self.tolerance < 1.0:
            raise ConfigError("solver.tolerance must be in [0, 1)")
        for name in ("posture_weight", "ground_weight", "contact_pin_weight", "smooth_weight"):
            if getattr(self, name) < 0:
                raise ConfigError(f"solver.{name} must be >= 0")
        if not 0.0 < self.velocity_limit_fraction <= 1.5:
            raise ConfigError("solver.velocity_limit_fraction must be in (0, 1.5]")


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
        return self.bodies.points_w(self.bodies.pose(state), points.body, points.offset_b)

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
                coarse = self._iterate(_subsample(problem, stride), _take(state, stride), 1e-3)
                state = _upsample(coarse, num_frames, stride)
            return self._iterate(problem, state, 1e-3)

    def _iterate(self, problem: SolveProblem, state: State, damping: float) -> SolveResult:
        """Levenberg-Marquardt loop over whole-clip Gauss-Newton steps."""
        num_frames = problem.targets_w.shape[0]
        cost, system = self._linearise(problem, state)
        history = [cost]
        for _ in range(self.cfg.iterations):
            step = _solve_banded(*system, damping=damping)
            candidate = self._apply(state, step.reshape(num_frames, -1))
            new_cost, new_system = self._linearise(problem, candidate)
            if new_cost < cost:
                state, cost, system = candidate, new_cost, new_system
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

    def _linearise(
        self, problem: SolveProblem, state: State
    ) -> tuple[float, tuple[F64, F64, F64, F64]]:
        """Cost and the banded normal equations ``(H_diag, H_off1, h_off2, g)`` at ``state``.

        ``H_diag (T, V, V)`` and ``H_off1 (T-1, V, V)`` are full blocks; frames two apart are
        coupled only by smoothness, which is diagonal, so ``h_off2 (T-2, V)`` holds diagonals.
        """
        cfg = self.cfg
        num_frames, dim = state[0].shape[0], 6 + self.num_joints
        bodies = self.bodies
        pose = bodies.pose(state)
        key_pos = bodies.points_w(pose, problem.key_points.body, problem.key_points.offset_b)
        key_jac = bodies.jacobian(pose, problem.key_points.body, key_pos)
        diag = np.zeros((num_frames, dim, dim))
        off1 = np.zeros((max(num_frames - 1, 0), dim, dim))
        off2 = np.zeros((max(num_frames - 2, 0), dim))
        grad = np.zeros((num_frames, dim))
        cost = 0.0

        # Key points (per frame).
        valid = np.isfinite(problem.targets_w[..., 0])
        sqrt_w = np.sqrt(problem.weights)[None, :] * valid
        res = np.where(valid[..., None], key_pos - np.nan_to_num(problem.targets_w), 0.0)
        cost += _accumulate(diag, grad, res * sqrt_w[..., None], key_jac * sqrt_w[..., None, None])

        # Posture (per frame, joint columns only).
        w_post = cfg.posture_weight
        res_post = w_post * (state[2] - self.default_pos)
        diag[:, 6:, 6:] += w_post**2 * np.eye(self.num_joints)
        grad[:, 6:] += w_post * res_post
        cost += float(np.sum(res_post**2))

        # Ground and pinning: a contact foot touches z = 0 with its lowest sole points (a
        # rolling foot pivots on heel or toe) and those points do not slide; nothing sinks.
        for column, side in enumerate(("left", "right")):
            sole = problem.soles[side]
            pos = bodies.points_w(pose, sole.body, sole.offset_b)
            jac = bodies.jacobian(pose, sole.body, pos)
            in_contact = problem.contact[:, column]
            grounded = pos[..., 2] <= pos[..., 2].min(axis=1, keepdims=True) + cfg.sole_band_m
            weight = np.where(pos[..., 2] < 0.0, cfg.penetration_weight, cfg.ground_weight)
            weight *= (in_contact[:, None] & grounded) | (pos[..., 2] < 0.0)
            res_z = weight * pos[..., 2]
            jac_z = weight[..., None] * jac[..., 2, :]
            cost += _accumulate(diag, grad, res_z[..., None], jac_z[..., None, :])
            cost += self._pin(pos, jac, in_contact[:, None] & grounded, diag, off1, grad)
        cost += add_collision_terms(
            bodies, pose, self.capsules, cfg.collision_weight, cfg.collision_margin_m, diag, grad
        )
        feet = np.concatenate([sole.body for sole in problem.soles.values()])
        cost += add_ground_terms(
            bodies, pose, self.capsules, cfg.penetration_weight, diag, grad, skip_bodies=feet
        )

        cost += self._smoothness(state, problem.fps, diag, off1, off2, grad)
        cost += self._joint_speed(state[2], problem.fps, diag, off1, grad)
        return cost, (diag, off1, off2, grad)

    def _pin(
        self, pos: F64, jac: F64, in_contact: NDArray[np.bool_], diag: F64, off1: F64, grad: F64
    ) -> float:
        """Grounded sole points ``(T, P)`` keep their x-y between consecutive frames."""
        both = in_contact[1:] & in_contact[:-1]
        if not np.any(both):
            return 0.0
        w = self.cfg.contact_pin_weight * both[:, :, None]  # (T-1, P, 1)
        res = w * (pos[1:, :, :2] - pos[:-1, :, :2])  # (T-1, P, 2)
        jac_prev = (w[..., None] * jac[:-1, :, :2, :]).reshape(len(both), -1, jac.shape[-1])
        jac_next = (w[..., None] * jac[1:, :, :2, :]).reshape(len(both), -1, jac.shape[-1])
        res = res.reshape(len(both), -1)
        # r = A x_{t} ... with dr/dx_{t+1} = jac_next, dr/dx_t = -jac_prev.
        diag[1:] += _gram(jac_next, jac_next)
        diag[:-1] += _gram(jac_prev, jac_prev)
        off1 -= _gram(jac_prev, jac_next)
        grad[1:] += np.matmul(res[:, None, :], jac_next)[:, 0]
        grad[:-1] -= np.matmul(res[:, None, :], jac_prev)[:, 0]
        return float(np.sum(res**2))

    def _smoothness(
        self,
        state: State,
        fps: float,
        diag: F64,
        off1: F64,
        off2: F64,
        grad: F64,
    ) -> float:
        """Second differences of root position, root rotation and joints."""
        num_frames = state[0].shape[0]
        if num_frames < 3 or self.cfg.smooth_weight == 0:
            return 0.0
        # Weight defined at 50 fps: acceleration scale (fps/50)^2, per-second sum sqrt(50/fps).
        w = self.cfg.smooth_weight * (fps / FPS_REF) ** 2 * np.sqrt(FPS_REF / fps)
        rot_step = quat_np.to_rotvec(
            quat_np.multiply(state[1][1:], quat_np.conjugate(state[1][:-1]))
        )
        res = (
            np.concatenate(
                [
                    np.diff(state[0], n=2, axis=0),
                    rot_step[1:] - rot_step[:-1],
                    np.diff(state[2], n=2, axis=0),
                ],
                axis=1,
            )
            * w
        )  # (T-2, V)
        w2 = w * w
        # r_t = x_t - 2 x_{t+1} + x_{t+2}: J^T J blocks with coefficients c_a c_b.
        coeffs = (1.0, -2.0, 1.0)
        for a, ca in enumerate(coeffs):
            grad[a : num_frames - 2 + a] += w * ca * res
            for b, cb in enumerate(coeffs):
                if b < a:
                    continue
                block = w2 * ca * cb
                idx = np.arange(num_frames - 2) + a
                if b - a == 2:
                    off2[idx] += block
                else:
                    target = (diag, off1)[b - a]
                    dim = target.shape[-1]
                    # Add to the diagonal of each block through a strided view, no eye().
                    target.reshape(len(target), -1)[idx[0] : idx[-1] + 1, :: dim + 1] += block
        return float(np.sum(res**2))

    def _joint_speed(self, joint_pos: F64, fps: float, diag: F64, off1: F64, grad: F64) -> float:
        """One-sided penalty on joint steps beyond the allowed speed."""
        if joint_pos.shape[0] < 2 or self.cfg.velocity_limit_weight == 0:
            return 0.0
        step = np.diff(joint_pos, axis=0)  # (T-1, J)
        allowed = self.cfg.velocity_limit_fraction * self.velocity_limit / fps
        excess = np.abs(step) - allowed
        active = excess > 0
        if not np.any(active):
            return 0.0
        w = self.cfg.velocity_limit_weight
        res = w * np.sign(step) * excess * active  # d res / d q_{t+1} = w sign, / d q_t = -w sign
        coef = w * active
        j = np.arange(6, diag.shape[-1])
        diag[1:, j, j] += coef**2
        diag[:-1, j, j] += coef**2
        off1[:, j, j] -= coef**2
        grad[1:, 6:] += coef * np.sign(step) * res
        grad[:-1, 6:] -= coef * np.sign(step) * res
        return float(np.sum(res**2))


def _gram(a: F64, b: F64) -> F64:
    """Batched ``a_tᵀ b_t`` for ``(T, R, V)`` arrays (BLAS, unlike a plain einsum)."""
    return np.matmul(a.transpose(0, 2, 1), b)


def _accumulate(diag: F64, grad: F64, res: F64, jac: F64) -> float:
    """Add per-frame residual blocks ``res (T, ..., R)`` with ``jac (T, ..., R, V)``."""
    num_frames = res.shape[0]
    res_flat = res.reshape(num_frames, -1)
    jac_flat = jac.reshape(num_frames, -1, jac.shape[-1])
    diag += _gram(jac_flat, jac_flat)
    grad += np.matmul(res_flat[:, None, :], jac_flat)[:, 0]
    return float(np.sum(res_flat**2))


def _take(state: State, stride: int) -> State:
    """Every ``stride``-th frame of a state, always keeping the last frame."""
    index = _coarse_index(state[0].shape[0], stride)
    return state[0][index], state[1][index], state[2][index]


def _coarse_index(num_frames: int, stride: int) -> NDArray[np.int64]:
    index = np.arange(0, num_frames, stride)
    return index if index[-1] == num_frames - 1 else np.append(index, num_frames - 1)


def _subsample(problem: SolveProblem, stride: int) -> SolveProblem:
    """The same problem on every ``stride``-th frame (a contact counts if any frame had it)."""
    index = _coarse_index(problem.targets_w.shape[0], stride)
    contact = np.logical_and.reduceat(problem.contact, index, axis=0)
    return replace(
        problem,
        targets_w=problem.targets_w[index],
        contact=contact,
        fps=problem.fps / stride,
        root_pos_w=problem.root_pos_w[index],
        root_quat_w=problem.root_quat_w[index],
    )


def _upsample(coarse: SolveResult, num_frames: int, stride: int) -> State:
    """Interpolate a coarse solution back to every frame (slerp for the root)."""
    index = _coarse_index(num_frames, stride)
    t = np.arange(num_frames)
    seg = np.clip(np.searchsorted(index, t, side="right") - 1, 0, len(index) - 2)
    alpha = (t - index[seg]) / (index[seg + 1] - index[seg])
    lerp = lambda x: x[seg] + alpha[:, None] * (x[seg + 1] - x[seg])  # noqa: E731
    quat = quat_np.slerp(coarse.root_quat_w[seg], coarse.root_quat_w[seg + 1], alpha)
    return lerp(coarse.root_pos_w), quat, lerp(coarse.joint_pos)


@functools.lru_cache(maxsize=8)
def _band_layout(num_frames: int, dim: int) -> tuple[int, list[tuple[NDArray[np.int64], ...]]]:
    """Bandwidth and, per block diagonal, flat source and band-storage indices.

    Full blocks couple neighbouring frames (distance up to ``2V - 1``); frames two apart are
    coupled on the diagonal only (distance ``2V``), so the bandwidth is ``2V``, not ``3V - 1``.
    """
    bandwidth = min(2 * dim, num_frames * dim - 1)
    n = num_frames * dim
    idx = np.arange(dim)
    layout = []
    for offset in range(min(2, num_frames)):
        t = np.arange(num_frames - offset)[:, None, None]
        rows, cols = np.broadcast_arrays(t * dim + idx[None, :, None], (t + offset) * dim + idx)
        upper = (rows <= cols).ravel()
        src = np.flatnonzero(upper)
        dst = (bandwidth + rows.ravel()[src] - cols.ravel()[src]) * n + cols.ravel()[src]
        layout.append((src, dst))
    if num_frames > 2:
        rows = np.arange((num_frames - 2) * dim)
        layout.append((rows, (bandwidth - 2 * dim) * n + rows + 2 * dim))
    return bandwidth, layout


def _solve_banded(diag: F64, off1: F64, off2: F64, grad: F64, damping: float) -> F64:
    """Solve ``(H + λ diag(H)) dx = -g`` for the block-banded ``H``; returns ``dx``."""
    num_frames, dim = grad.shape
    bandwidth, layout = _band_layout(num_frames, dim)
    ab = np.zeros((bandwidth + 1, num_frames * dim))
    flat = ab.reshape(-1)
    for blocks, (src, dst) in zip((diag, off1, off2), layout, strict=False):
        flat[dst] = np.take(blocks.reshape(-1), src)
    ab[bandwidth] = ab[bandwidth] * (1.0 + damping) + 1e-9
    return scipy.linalg.solveh_banded(ab, -grad.reshape(-1), lower=False, check_finite=False)
