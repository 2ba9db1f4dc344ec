"""The solver's normal equations against a dense assembly and finite differences."""

from __future__ import annotations

import numpy as np
import pytest

from humimic.geometry import quat_np
from humimic.motion.retarget.banded import band_matrix, solve_band, solve_banded, zero_system
from humimic.motion.retarget.retarget import Retargeter
from humimic.motion.retarget.solver import SequenceSolver, SolveProblem, SolverCfg
from humimic.robot.model import build_model
from humimic.robot.spec import load_robot_spec

VARIANT = "g1_23dof_lock_wrist"
FRAMES = 8


@pytest.fixture(scope="module")
def robot() -> tuple:
    spec = load_robot_spec(VARIANT)
    return spec, build_model(spec)


def standing_problem(retargeter: Retargeter, seed: int = 0) -> tuple[SolveProblem, tuple]:
    """A few frames near a standing pose, soles within millimetres of the floor."""
    spec, solver = retargeter.spec, retargeter.solver
    rng = np.random.default_rng(seed)
    joints = np.asarray(spec.default_joint_pos) + 0.05 * rng.normal(size=(FRAMES, 23))
    joints = np.clip(joints, solver.lower, solver.upper)
    root = np.tile([0.0, 0.0, 0.78], (FRAMES, 1)) + 0.01 * rng.normal(size=(FRAMES, 3))
    quat = quat_np.from_rotvec(0.03 * rng.normal(size=(FRAMES, 3)))
    soles = np.concatenate(
        [
            solver.point_positions((root, quat, joints), retargeter.soles[s])
            for s in ("left", "right")
        ],
        axis=1,
    )
    root[:, 2] -= soles[..., 2].min(axis=1) + rng.uniform(-0.004, 0.004, FRAMES)
    state = (root, quat, joints)
    targets = solver.point_positions(state, retargeter.key_points)
    targets += 0.02 * rng.normal(size=targets.shape)
    targets[2, 3] = np.nan  # a missing target
    contact = np.ones((FRAMES, 2), bool)
    contact[5:, 1] = False
    problem = SolveProblem(
        targets, rng.uniform(0.5, 2.0, targets.shape[1]), retargeter.key_points,
        retargeter.soles, contact, 50.0, root, quat,
    )  # fmt: skip
    return problem, state


def dense_reference(solver: SequenceSolver, problem: SolveProblem, state: tuple) -> tuple:
    """``JᵀJ``, ``Jᵀr`` and ``rᵀr`` of key-point, ground and pin residuals, row by row."""
    bodies, cfg = solver.bodies, solver.cfg
    pose = bodies.pose(state)
    dim = bodies.dim
    rows: list[np.ndarray] = []
    res: list[float] = []

    def add(entries: list[tuple[int, np.ndarray]], value: float) -> None:
        row = np.zeros(FRAMES * dim)
        for frame, jac_row in entries:
            row[frame * dim : (frame + 1) * dim] += jac_row
        rows.append(row)
        res.append(value)

    kp = problem.key_points
    pos = bodies.points_w(pose, kp.body, kp.offset_b)
    jac = bodies.jacobian(pose, kp.body, pos)
    for t, p, axis in np.ndindex(FRAMES, len(kp.body), 3):
        if np.isfinite(problem.targets_w[t, p, 0]):
            w = np.sqrt(problem.weights[p])
            add([(t, w * jac[t, p, axis])], w * (pos[t, p, axis] - problem.targets_w[t, p, axis]))
    for column, side in enumerate(("left", "right")):
        sole = problem.soles[side]
        pos = bodies.points_w(pose, sole.body, sole.offset_b)
        jac = bodies.jacobian(pose, sole.body, pos)
        z = pos[..., 2]
        pinned = problem.contact[:, column, None] & (z <= z.min(axis=1, keepdims=True) + 0.01)
        for t, p in np.ndindex(*z.shape):
            w = cfg.penetration_weight if z[t, p] < 0 else cfg.ground_weight * pinned[t, p]
            if w:
                add([(t, w * jac[t, p, 2])], w * z[t, p])
        w = cfg.contact_pin_weight
        for t, p, axis in np.ndindex(FRAMES - 1, z.shape[1], 2):
            if pinned[t, p] and pinned[t + 1, p]:
                entries = [(t, -w * jac[t, p, axis]), (t + 1, w * jac[t + 1, p, axis])]
                add(entries, w * (pos[t + 1, p, axis] - pos[t, p, axis]))
    jac_all, r = np.array(rows), np.array(res)
    return jac_all.T @ jac_all, jac_all.T @ r, float(r @ r)


def test_point_terms_match_a_dense_assembly(robot) -> None:
    spec, model = robot
    cfg = SolverCfg(
        posture_weight=0.0, smooth_weight=0.0, velocity_limit_weight=0.0, collision_weight=0.0,
        root_velocity_weight=0.0,
    )  # fmt: skip
    retargeter = Retargeter(spec, model, cfg)
    problem, state = standing_problem(retargeter)
    solver = retargeter.solver
    cost, (diag, off1, off2, grad) = solver._linearise(problem, state)
    hessian, gradient, expected_cost = dense_reference(solver, problem, state)
    dim = solver.bodies.dim
    assert cost == pytest.approx(expected_cost, rel=1e-12)
    np.testing.assert_allclose(grad.ravel(), gradient, rtol=0, atol=1e-9 * np.abs(gradient).max())
    scale = np.abs(hessian).max()
    for t in range(FRAMES):
        block = hessian[t * dim : (t + 1) * dim, t * dim : (t + 1) * dim]
        np.testing.assert_allclose(diag[t], block, rtol=0, atol=1e-11 * scale)
    for t in range(FRAMES - 1):
        block = hessian[t * dim : (t + 1) * dim, (t + 1) * dim : (t + 2) * dim]
        np.testing.assert_allclose(off1[t], block, rtol=0, atol=1e-11 * scale)
    assert np.abs(off1).max() > 1.0  # pins really couple frames
    assert not off2.any()
    # Nothing couples frames two or more apart.
    far = np.abs(np.subtract.outer(np.arange(FRAMES * dim) // dim, np.arange(FRAMES * dim) // dim))
    assert not np.any(hessian[far > 1])


def test_cost_alone_and_gradient_of_the_full_problem(robot) -> None:
    """Every term on: the cheap cost equals the linearised one, and 2 g is its gradient."""
    spec, model = robot
    retargeter = Retargeter(spec, model, SolverCfg())
    problem, state = standing_problem(retargeter, seed=1)
    solver = retargeter.solver
    cost, system = solver._linearise(problem, state)
    # Scoring a pose, then linearising the same pose from its cache, gives the same numbers.
    pose = solver.bodies.pose(state)
    assert solver._evaluate(problem, state, pose, None) == cost
    assert pose.cache  # positions and near pairs were kept
    cached = zero_system(FRAMES, solver.bodies.dim)
    assert solver._evaluate(problem, state, pose, cached) == cost
    for fresh, reused in zip(system, cached, strict=True):
        np.testing.assert_array_equal(fresh, reused)
    grad = system[3]

    def cost_at(root: np.ndarray, joints: np.ndarray) -> float:
        moved = (root, state[1], joints)
        return solver._evaluate(problem, moved, solver.bodies.pose(moved), None)

    eps = 1e-6
    # Translation and joint columns: their smoothness and speed terms are exact (linear).
    for t, column in [(0, 0), (3, 2), (7, 1), (2, 6), (4, 9), (5, 15), (6, 25), (1, 20)]:
        root, joints = state[0].copy(), state[2].copy()
        target = root if column < 3 else joints
        index = (t, column if column < 3 else column - 6)
        target[index] += eps
        up = cost_at(root, joints)
        target[index] -= 2 * eps
        down = cost_at(root, joints)
        numeric = (up - down) / (2 * eps)
        assert 2 * grad[t, column] == pytest.approx(numeric, rel=1e-4, abs=1e-6)


def test_branch_jacobians_are_the_nonzero_columns_of_the_full_one(robot) -> None:
    spec, model = robot
    retargeter = Retargeter(spec, model, SolverCfg())
    _, state = standing_problem(retargeter, seed=2)
    bodies = retargeter.solver.bodies
    pose = bodies.pose(state)
    for points in (retargeter.key_points, retargeter.soles["left"]):
        pos = bodies.points_w(pose, points.body, points.offset_b)
        full = bodies.jacobian(pose, points.body, pos)
        groups = bodies.groups(points.body)
        members = np.sort(np.concatenate([g.points for g in groups]))
        np.testing.assert_array_equal(members, np.arange(len(points.body)))  # each point once
        for group in groups:
            start, stop = group.span
            columns = np.r_[0:6, start:stop]
            part = bodies.group_jacobian(pose, group, pos[:, group.points])
            np.testing.assert_allclose(part, full[:, group.points][..., columns], atol=1e-14)
            outside = np.setdiff1d(np.arange(bodies.dim), columns)
            assert not full[:, group.points][..., outside].any()
    assert len(bodies.groups(retargeter.key_points.body)) == 4  # two legs, two arms


def test_one_band_serves_several_dampings() -> None:
    rng = np.random.default_rng(5)
    frames, dim = 6, 4
    diag = rng.normal(size=(frames, dim, dim))
    diag = diag @ diag.transpose(0, 2, 1) + 4 * np.eye(dim)
    off1 = 0.2 * rng.normal(size=(frames - 1, dim, dim))
    off2 = 0.2 * rng.normal(size=(frames - 2, dim))
    grad = rng.normal(size=(frames, dim))
    band = band_matrix((diag, off1, off2, grad))
    kept = band.copy()
    for damping in (1e-3, 1.0, 1e-3):
        np.testing.assert_array_equal(
            solve_band(band, grad, damping), solve_banded(diag, off1, off2, grad, damping)
        )
    np.testing.assert_array_equal(band, kept)
    small, large = (np.linalg.norm(solve_band(band, grad, d)) for d in (1e-3, 10.0))
    assert large < small  # more damping, shorter step
