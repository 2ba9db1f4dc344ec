"""The whole-sequence retarget solver on problems with known answers."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest

from humimic.geometry import quat_np
from humimic.motion.retarget.collision import closest_points, model_capsules
from humimic.motion.retarget.retarget import Retargeter
from humimic.motion.retarget.solver import SolveProblem, SolverCfg
from humimic.robot.model import build_model
from humimic.robot.spec import load_robot_spec

VARIANT = "g1_23dof_lock_wrist"


@pytest.fixture(scope="module")
def setup() -> tuple[Retargeter, mujoco.MjModel]:
    spec = load_robot_spec(VARIANT)
    model = build_model(spec)
    # Key-point fitting alone: the synthetic motions below swing through the floor and the
    # body, which the ground and collision terms would (rightly) refuse to follow.
    cfg = SolverCfg(
        posture_weight=1e-4,
        smooth_weight=0.0,
        iterations=30,
        penetration_weight=0.0,
        collision_weight=0.0,
    )
    return Retargeter(spec, model, cfg), model


def robot_trajectory(spec_default: np.ndarray, num_frames: int = 40) -> tuple[np.ndarray, ...]:
    """A smooth, reachable robot motion: walking-like joint swings and a drifting root."""
    t = np.linspace(0.0, 1.0, num_frames)[:, None]
    joints = spec_default + 0.3 * np.sin(2 * np.pi * t + np.arange(len(spec_default)))
    joints[:, 3] = 0.6 + 0.3 * np.sin(2 * np.pi * t[:, 0])  # left knee stays bent
    joints[:, 9] = 0.6 + 0.3 * np.cos(2 * np.pi * t[:, 0])
    root = np.concatenate([0.5 * t, 0.1 * t, 0.75 + 0.02 * np.sin(4 * np.pi * t)], axis=1)
    yaw = quat_np.from_axis_angle(np.array([0.0, 0.0, 1.0]), 0.4 * t[:, 0])
    return root, yaw, joints


def test_recovers_a_trajectory_from_its_own_key_points(setup) -> None:
    retargeter, model = setup
    spec = retargeter.spec
    root, quat, joints = robot_trajectory(np.asarray(spec.default_joint_pos))
    lower = model.jnt_range[[model.joint(n).id for n in spec.joint_names]][:, 0] + 0.02
    upper = model.jnt_range[[model.joint(n).id for n in spec.joint_names]][:, 1] - 0.02
    joints = np.clip(joints, lower, upper)
    targets = retargeter.solver.point_positions((root, quat, joints), retargeter.key_points)
    no_contact = np.zeros((len(root), 2), bool)
    problem = SolveProblem(
        targets_w=targets,
        weights=np.ones(targets.shape[1]),
        key_points=retargeter.key_points,
        soles=retargeter.soles,
        contact=no_contact,
        fps=50.0,
        root_pos_w=root + 0.05,  # start away from the answer
        # a body-frame offset, as between a human pelvis frame and the robot's: the root
        # velocity term follows the steps of this guess, which such an offset leaves alone
        root_quat_w=quat_np.multiply(quat, quat_np.from_rotvec(np.array([0.1, -0.1, 0.2]))),
    )
    result = retargeter.solver.solve(problem)
    solved = retargeter.solver.point_positions(
        (result.root_pos_w, result.root_quat_w, result.joint_pos), retargeter.key_points
    )
    assert np.abs(solved - targets).max() < 2e-3  # m
    assert result.cost_history[-1] < 1e-3 * result.cost_history[0]


def test_joint_limits_are_hard(setup) -> None:
    retargeter, model = setup
    spec = retargeter.spec
    root, quat, joints = robot_trajectory(np.asarray(spec.default_joint_pos), 10)
    knee = spec.joint_index("left_knee_joint")
    joints[:, knee] = -0.6  # hyper-extended: beyond the knee's lower limit of -0.087 rad
    targets = retargeter.solver.point_positions((root, quat, joints), retargeter.key_points)
    problem = SolveProblem(
        targets, np.ones(targets.shape[1]), retargeter.key_points, retargeter.soles,
        np.zeros((10, 2), bool), 50.0, root, quat,
    )  # fmt: skip
    result = retargeter.solver.solve(problem)
    low = model.jnt_range[model.joint("left_knee_joint").id][0]
    assert result.joint_pos[:, knee].min() >= low
    assert result.joint_pos[:, knee].min() == pytest.approx(low + 0.01, abs=1e-9)  # margin


def test_stance_foot_is_pinned_while_its_targets_slide(setup) -> None:
    retargeter, _ = setup
    spec = retargeter.spec
    frames = 30
    root = np.tile([0.0, 0.0, 0.78], (frames, 1))
    quat = np.tile([1.0, 0.0, 0.0, 0.0], (frames, 1))
    joints = np.tile(np.asarray(spec.default_joint_pos), (frames, 1))
    soles = retargeter.solver.point_positions((root, quat, joints), retargeter.soles["left"])
    root[:, 2] -= soles[0, :, 2].min()  # stand exactly on the floor
    targets = retargeter.solver.point_positions((root, quat, joints), retargeter.key_points)
    targets[:, :, 0] += np.linspace(0.0, 0.06, frames)[:, None]  # everything drifts 6 cm
    cfg = retargeter.solver.cfg
    problem = SolveProblem(
        targets, np.ones(targets.shape[1]), retargeter.key_points, retargeter.soles,
        np.ones((frames, 2), bool), 50.0, root, quat,
    )  # fmt: skip
    sole = retargeter.soles["left"]

    def foot_drift(contact: bool) -> tuple[float, np.ndarray]:
        problem.contact = np.full((frames, 2), contact)
        result = retargeter.solver.solve(problem)
        feet = retargeter.solver.point_positions(
            (result.root_pos_w, result.root_quat_w, result.joint_pos), sole
        )
        return float(np.linalg.norm(feet[-1, :, :2] - feet[0, :, :2], axis=-1).min()), feet

    free, _ = foot_drift(False)
    pinned, feet = foot_drift(True)
    assert free > 0.05  # without contact the foot follows its 6 cm drift
    assert pinned < 0.1 * free, f"stance foot slid {pinned:.4f} m of {free:.4f} m"
    assert np.abs(feet[..., 2].min(axis=1)).max() < 0.01  # and stays on the ground (soft term)
    assert cfg.contact_pin_weight > 0


def test_closest_points_match_brute_force() -> None:
    rng = np.random.default_rng(3)
    p1, q1, p2, q2 = (rng.normal(size=(200, 3)) for _ in range(4))
    q2[:20] = p2[:20]  # some degenerate segments (spheres)
    a, b = closest_points(p1, q1, p2, q2)
    s = np.linspace(0, 1, 201)
    seg1 = p1[:, None] + s[None, :, None] * (q1 - p1)[:, None]
    seg2 = p2[:, None] + s[None, :, None] * (q2 - p2)[:, None]
    brute = np.linalg.norm(seg1[:, :, None] - seg2[:, None], axis=-1).min(axis=(1, 2))
    exact = np.linalg.norm(a - b, axis=-1)
    assert np.all(exact <= brute + 1e-9)
    assert np.all(brute - exact < 2e-2)  # the grid step bounds how far brute force overshoots


def test_capsule_pairs_follow_mujoco_filters() -> None:
    model = build_model(load_robot_spec(VARIANT))
    caps = model_capsules(model)
    names = {(caps.names[a], caps.names[b]) for a, b in caps.pairs}
    names |= {(b, a) for a, b in names}
    assert ("left_hand_col", "left_hip_col") in names  # arm vs hip can collide
    assert ("left_thigh_col", "left_shin_col") not in names  # excluded pair in the model
    assert ("pelvis_col", "left_hip_col") not in names  # excluded in the model
    assert ("left_upper_arm_col", "left_forearm_col") not in names  # parent and child


def test_coarse_pass_reaches_the_same_solution(setup) -> None:
    """Coarse-to-fine is a speed-up only: it must land where the plain solve lands."""
    retargeter, model = setup
    spec = retargeter.spec
    root, quat, joints = robot_trajectory(np.asarray(spec.default_joint_pos), 48)
    ids = [model.joint(n).id for n in spec.joint_names]
    joints = np.clip(joints, model.jnt_range[ids][:, 0] + 0.02, model.jnt_range[ids][:, 1] - 0.02)
    targets = retargeter.solver.point_positions((root, quat, joints), retargeter.key_points)
    problem = SolveProblem(
        targets, np.ones(targets.shape[1]), retargeter.key_points, retargeter.soles,
        np.zeros((48, 2), bool), 50.0, root + 0.03, quat,
    )  # fmt: skip
    solver = retargeter.solver
    results = {}
    for stride in (1, 4):
        solver.cfg.coarse_stride = stride
        r = solver.solve(problem)
        results[stride] = solver.point_positions(
            (r.root_pos_w, r.root_quat_w, r.joint_pos), retargeter.key_points
        )
    solver.cfg.coarse_stride = 4
    assert np.abs(results[4] - targets).max() < 2e-3
    assert np.abs(results[4] - results[1]).max() < 2e-3


@pytest.mark.parametrize(("frames", "dim"), [(1, 3), (2, 3), (3, 3), (7, 4)])
def test_banded_solve_matches_a_dense_solve(frames: int, dim: int) -> None:
    from humimic.motion.retarget.solver import _solve_banded

    rng = np.random.default_rng(frames)
    n = frames * dim
    diag = rng.normal(size=(frames, dim, dim))
    diag = diag @ diag.transpose(0, 2, 1) + 5 * np.eye(dim)
    off1 = 0.3 * rng.normal(size=(max(frames - 1, 0), dim, dim))
    off2 = 0.3 * rng.normal(size=(max(frames - 2, 0), dim))  # frames two apart: diagonal only
    dense = np.zeros((n, n))
    for t in range(frames):
        dense[t * dim : (t + 1) * dim, t * dim : (t + 1) * dim] = diag[t]
    for t in range(frames - 1):
        block = slice(t * dim, (t + 1) * dim), slice((t + 1) * dim, (t + 2) * dim)
        dense[block] = off1[t]
        dense[block[1], block[0]] = off1[t].T
    for t in range(frames - 2):
        for a in range(dim):
            dense[t * dim + a, (t + 2) * dim + a] = dense[(t + 2) * dim + a, t * dim + a] = off2[
                t, a
            ]
    grad = rng.normal(size=(frames, dim))
    expected = np.linalg.solve(dense + 1e-9 * np.eye(n), -grad.ravel())
    np.testing.assert_allclose(_solve_banded(diag, off1, off2, grad, 0.0), expected, atol=1e-12)


@pytest.mark.parametrize("repair", [0.0, 100.0])
def test_speed_repair_spreads_a_jump_the_targets_demand(setup, repair: float) -> None:
    # Targets whose left elbow jumps 1.5 rad between two frames at 50 fps (75 rad/s), with
    # the normal speed term off so that the first pass keeps the jump, as a branch flip it
    # cannot leave would: the repair pass spreads it over frames the robot can do.
    from dataclasses import replace

    retargeter, _ = setup
    spec = retargeter.spec
    root, quat, joints = robot_trajectory(np.asarray(spec.default_joint_pos))
    elbow = spec.joint_names.index("left_elbow_joint")
    joints[:20, elbow], joints[20:, elbow] = -0.5, 1.0
    targets = retargeter.solver.point_positions((root, quat, joints), retargeter.key_points)
    problem = SolveProblem(
        targets,
        np.full(targets.shape[1], 30.0),
        retargeter.key_points,
        retargeter.soles,
        np.zeros((len(root), 2), bool),
        50.0,
        root,
        quat,
    )  # fmt: skip  (heavy key points: the normal speed term alone gives way to them)
    solver = retargeter.solver
    normal = solver.cfg
    solver.cfg = replace(normal, speed_repair_weight=repair, velocity_limit_weight=0.0)
    try:
        result = solver.solve(problem, joint_pos_init=joints)  # start on the jumping answer
    finally:
        solver.cfg = normal
    limit = spec.velocity_limit[elbow]
    peak = np.abs(np.diff(result.joint_pos[:, elbow])).max() * 50.0 / limit
    if repair:
        assert peak <= 1.05, peak
    else:
        assert peak > 2.0, peak
