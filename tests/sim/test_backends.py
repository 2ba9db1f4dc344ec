"""Simulation backends: state conventions, isolation, determinism, physics sanity, domain
randomisation, divergence handling, and C MuJoCo vs MuJoCo Warp parity.

Warp tests carry ``@pytest.mark.gpu`` but run on Warp's CPU device here (the first run
compiles kernels, ~30 s, cached in ``~/.cache/warp``).
"""

from __future__ import annotations

import copy
import dataclasses
import math
from dataclasses import fields

import mujoco
import numpy as np
import pytest
import torch

from humimic.errors import ConfigError
from humimic.robot.model import build_model, build_scene_spec, default_qpos
from humimic.robot.spec import RobotSpec, load_robot_spec
from humimic.sim import SimBackend, SimState, default_reset_state, make_backend, reset_nan_worlds
from humimic.sim.backend import validate_device

BODIES = ["pelvis", "left_ankle_roll_link", "right_ankle_roll_link", "torso_link"]
G = 9.81


@pytest.fixture(scope="module")
def robot() -> tuple[RobotSpec, mujoco.MjModel]:
    spec = load_robot_spec("g1_29dof")
    return spec, build_model(spec)


def _make(robot, n: int, name: str = "mujoco", stand: bool = True, **opts) -> SimBackend:
    """Backend with the spec's standing gains (the nominal gains cannot hold the pose)."""
    spec, model = robot
    backend = make_backend(name, model, spec, n, BODIES, **opts)
    if stand:
        scale = torch.full((n,), spec.standing_gains_scale)
        backend.set_params(torch.arange(n), kp_scale=scale, kd_scale=scale)
    return backend


def _default_targets(spec: RobotSpec, n: int) -> torch.Tensor:
    return torch.as_tensor(spec.default_joint_pos, dtype=torch.float32).expand(n, -1).clone()


def _sine_targets(spec: RobotSpec, n: int, k: int, control_dt: float = 0.02) -> torch.Tensor:
    """Default pose + 0.1 rad, 2 Hz sinusoid with a per-joint and per-world phase."""
    phase = torch.linspace(0, 2 * math.pi, spec.num_joints) + torch.arange(n)[:, None]
    return _default_targets(spec, n) + 0.1 * torch.sin(4 * math.pi * k * control_dt + phase)


def _rollout(backend: SimBackend, spec: RobotSpec, steps: int) -> list[SimState]:
    out = []
    for k in range(steps):
        backend.step(_sine_targets(spec, backend.num_worlds, k), 4)
        out.append(backend.state().clone())
    return out


def _perturbed_start(spec: RobotSpec, n: int, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    start = default_reset_state(spec, n, torch.device("cpu"))
    start["joint_pos"] += 0.05 * torch.randn(n, spec.num_joints, generator=g)
    start["root_lin_vel_w"] += 0.1 * torch.randn(n, 3, generator=g)
    start["root_ang_vel_w"] += 0.2 * torch.randn(n, 3, generator=g)
    return start


def _random_quat(g: torch.Generator, n: int) -> torch.Tensor:
    q = torch.randn(n, 4, generator=g)
    q = q / q.norm(dim=1, keepdim=True)
    return torch.where(q[:, :1] < 0, -q, q)


def _assert_states_equal(a: SimState, b: SimState, world: slice | int = slice(None)) -> None:
    for f in fields(SimState):
        assert torch.equal(getattr(a, f.name)[world], getattr(b, f.name)[world]), f.name


# ---------------------------------------------------------------------------- factory


def test_make_backend_rejects_unknown_name_and_option(robot) -> None:
    spec, model = robot
    with pytest.raises(ConfigError, match="valid: mujoco, mujoco_warp"):
        make_backend("physx", model, spec, 2, BODIES)
    with pytest.raises(ConfigError, match="unknown options"):
        make_backend("mujoco", model, spec, 2, BODIES, nthreads=2)
    with pytest.raises(ConfigError, match="no body named 'nose'"):
        make_backend("mujoco", model, spec, 2, ["nose"])
    backend = make_backend("mujoco", model, spec, 2, BODIES)
    assert isinstance(backend, SimBackend)
    assert backend.physics_dt == pytest.approx(model.opt.timestep)


def test_actuators_are_matched_by_joint_not_position(robot) -> None:
    """A scene whose actuators are in reverse order behaves exactly like the normal one."""
    spec, _ = robot
    per_joint = ("kp", "kd", "effort_limit", "velocity_limit", "armature", "default_joint_pos")
    flipped = dataclasses.replace(
        spec,
        joint_names=spec.joint_names[::-1],
        motor_index=spec.motor_index[::-1],
        **{name: getattr(spec, name)[::-1].copy() for name in per_joint},
    )
    reversed_model = build_scene_spec(flipped).compile()
    assert reversed_model.actuator(0).name == spec.joint_names[-1]
    normal = _make(robot, 2)
    reordered = _make((spec, reversed_model), 2)
    for sa, sb in zip(_rollout(normal, spec, 5), _rollout(reordered, spec, 5)):
        for f in fields(SimState):
            torch.testing.assert_close(getattr(sa, f.name), getattr(sb, f.name), atol=1e-5, rtol=0)


# ---------------------------------------------------------------------------- C MuJoCo


def test_reset_sets_exact_state_and_leaves_other_worlds(robot) -> None:
    spec, _ = robot
    backend = _make(robot, 4)
    backend.step(_default_targets(spec, 4), 4)
    before = backend.state().clone()
    g = torch.Generator().manual_seed(1)
    ids = torch.tensor([3, 1])
    pos = torch.tensor([[0.3, -0.2, 0.9], [1.0, 2.0, 0.7]])
    quat = _random_quat(g, 2)
    lin, ang = torch.randn(2, 3, generator=g), torch.randn(2, 3, generator=g)
    jpos = torch.as_tensor(spec.default_joint_pos).float() + 0.1 * torch.randn(
        2, spec.num_joints, generator=g
    )
    jvel = torch.randn(2, spec.num_joints, generator=g)
    backend.reset(ids, pos, quat, lin, ang, jpos, jvel)
    s = backend.state()
    assert torch.equal(s.root_pos_w[ids], pos)
    assert torch.equal(s.root_quat_w[ids], quat)
    assert torch.equal(s.root_lin_vel_w[ids], lin)
    assert torch.equal(s.joint_pos[ids], jpos)
    assert torch.equal(s.joint_vel[ids], jvel)
    torch.testing.assert_close(s.root_ang_vel_w[ids], ang, atol=1e-6, rtol=0)
    assert torch.equal(s.body_pos_w[ids, 0], pos)  # the pelvis is the root body
    assert not s.foot_contact_force_w[ids].any() and not s.applied_torque[ids].any()
    _assert_states_equal(s, before, torch.tensor([0, 2]))


def test_root_angular_velocity_frames(robot) -> None:
    """A 90° yaw maps body y to world -x: ω_w = (1, 0, 0) is ω_b = (0, -1, 0) in qvel."""
    spec, _ = robot
    backend = _make(robot, 1)
    start = default_reset_state(spec, 1, torch.device("cpu"))
    start["root_quat_w"] = torch.tensor([[math.cos(math.pi / 4), 0.0, 0.0, math.sin(math.pi / 4)]])
    start["root_ang_vel_w"] = torch.tensor([[1.0, 0.0, 0.0]])
    backend.reset(torch.tensor([0]), **start)
    qvel = backend.raw.qvel[0].numpy()  # MuJoCo's own qvel of the world
    np.testing.assert_allclose(qvel[3:6], [0.0, -1.0, 0.0], atol=1e-7)
    s = backend.state()
    torch.testing.assert_close(
        s.root_ang_vel_b, torch.tensor([[0.0, -1.0, 0.0]]), atol=1e-7, rtol=0
    )
    torch.testing.assert_close(s.root_ang_vel_w, torch.tensor([[1.0, 0.0, 0.0]]), atol=1e-6, rtol=0)
    # MuJoCo's cvel of the pelvis (world frame) agrees with the converted value.
    torch.testing.assert_close(s.body_ang_vel_w[:, 0], s.root_ang_vel_w, atol=1e-6, rtol=0)


def test_body_velocity_matches_mj_object_velocity(robot) -> None:
    """Body velocities agree with MuJoCo's mj_objectVelocity on a fresh MjData."""
    spec, model = robot
    backend = _make(robot, 2)
    _rollout(backend, spec, 5)
    data = mujoco.MjData(model)
    data.qpos[:], data.qvel[:] = backend.raw.qpos[1].numpy(), backend.raw.qvel[1].numpy()
    mujoco.mj_forward(model, data)
    expected = np.zeros(6)
    got = backend.state()
    for k, name in enumerate(BODIES):
        body = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, name)
        mujoco.mj_objectVelocity(model, data, mujoco.mjtObj.mjOBJ_XBODY, body, expected, 0)
        np.testing.assert_allclose(got.body_ang_vel_w[1, k], expected[:3], atol=1e-5)
        np.testing.assert_allclose(got.body_lin_vel_w[1, k], expected[3:], atol=1e-5)
        np.testing.assert_allclose(got.body_pos_w[1, k], data.xpos[body], atol=1e-6)


def test_matches_plain_mujoco_loop_bit_for_bit(robot) -> None:
    """The backend's state round trip changes nothing: same qpos/qvel as one MjData per
    world stepped by plain MuJoCo with the same gains and targets."""
    spec, model = robot
    backend = _make(robot, 2)
    reference = copy.deepcopy(model)
    reference.actuator_gainprm[:, 0] *= spec.standing_gains_scale
    reference.actuator_biasprm[:, 1:3] *= spec.standing_gains_scale
    datas = [mujoco.MjData(reference) for _ in range(2)]
    for i, data in enumerate(datas):
        data.qpos[:] = backend.raw.qpos[i].numpy()  # the float32 default pose, as float64
        np.testing.assert_allclose(data.qpos, default_qpos(model, spec), atol=1e-7)
    for k in range(10):
        targets = _sine_targets(spec, 2, k)
        backend.step(targets, 4)
        for i, data in enumerate(datas):
            data.ctrl[:] = targets[i].double().numpy()
            mujoco.mj_step(reference, data, 4)
            assert np.array_equal(backend.raw.qpos[i].numpy(), data.qpos)
            assert np.array_equal(backend.raw.qvel[i].numpy(), data.qvel)


def test_worlds_are_isolated(robot) -> None:
    spec, _ = robot
    a, b = _make(robot, 2), _make(robot, 2)
    kick = default_reset_state(spec, 1, torch.device("cpu"))
    kick["root_lin_vel_w"][0] = torch.tensor([1.5, 0.0, 0.0])
    a.reset(torch.tensor([0]), **kick)
    ra, rb = _rollout(a, spec, 10), _rollout(b, spec, 10)
    for sa, sb in zip(ra, rb):
        _assert_states_equal(sa, sb, 1)
    assert not torch.equal(ra[-1].root_pos_w[0], rb[-1].root_pos_w[0])


def test_same_actions_give_same_trajectory(robot) -> None:
    spec, _ = robot
    ra, rb = (_rollout(_make(robot, 3), spec, 10) for _ in range(2))
    for sa, sb in zip(ra, rb):
        _assert_states_equal(sa, sb)


def test_threaded_equals_single_thread_bit_for_bit(robot) -> None:
    spec, _ = robot
    single, threaded = _make(robot, 5, num_threads=1), _make(robot, 5, num_threads=2)
    start = _perturbed_start(spec, 5)
    for backend in (single, threaded):
        backend.reset(torch.arange(5), **start)
    for sa, sb in zip(_rollout(single, spec, 10), _rollout(threaded, spec, 10)):
        _assert_states_equal(sa, sb)
    threaded.close()


def test_standing_keeps_height_and_feet_carry_weight(robot) -> None:
    spec, model = robot
    backend = _make(robot, 2)
    heights = []
    for _ in range(50):  # 1 s at 50 Hz
        backend.step(_default_targets(spec, 2), 4)
        heights.append(backend.state().root_pos_w[:, 2].clone())
    heights = torch.stack(heights)
    assert (heights - spec.default_root_height).abs().max() < 0.03
    s = backend.state()
    weight = float(model.body_mass.sum()) * G
    total = s.foot_contact_force_w.sum(dim=1)  # (N, 3)
    torch.testing.assert_close(total[:, 2], torch.full((2,), weight), rtol=0.05, atol=0)
    assert total[:, :2].abs().max() < 0.02 * weight
    # Symmetric pose: each foot carries about half.
    torch.testing.assert_close(s.foot_contact_force_w[:, 0, 2], total[:, 2] / 2, rtol=0.05, atol=0)


def test_nominal_gains_cannot_stand_but_kp_scale_can(robot) -> None:
    """kp/kd scaling acts: the nominal (policy) gains let the robot sink."""
    spec, _ = robot
    weak, strong = _make(robot, 1, stand=False), _make(robot, 1)
    for _ in range(50):
        weak.step(_default_targets(spec, 1), 4)
        strong.step(_default_targets(spec, 1), 4)
    assert weak.state().root_pos_w[0, 2] < spec.default_root_height - 0.08
    assert strong.state().root_pos_w[0, 2] > spec.default_root_height - 0.03


def test_mass_scale_scales_contact_force(robot) -> None:
    spec, _ = robot
    backend = _make(robot, 2)
    backend.set_params(torch.tensor([1]), body_mass_scale=torch.tensor([1.2]))
    for _ in range(50):
        backend.step(_default_targets(spec, 2), 4)
    fz = backend.state().foot_contact_force_w[..., 2].sum(dim=1)
    assert fz[1] / fz[0] == pytest.approx(1.2, rel=0.01)


def test_com_offset_shifts_load_to_that_side(robot) -> None:
    """Moving the pelvis CoM 5 cm left moves the robot CoM by m_pelvis·0.05/m; statics give
    the left foot's share of the weight grows by that over the foot separation."""
    spec, model = robot
    backend = _make(robot, 2)
    backend.set_params(torch.tensor([1]), com_offset_b=torch.tensor([[0.0, 0.05, 0.0]]))
    for _ in range(50):
        backend.step(_default_targets(spec, 2), 4)
    s = backend.state()
    share = s.foot_contact_force_w[:, 0, 2] / s.foot_contact_force_w[..., 2].sum(dim=1)
    separation = float(s.body_pos_w[0, 1, 1] - s.body_pos_w[0, 2, 1])
    shift = float(model.body("pelvis").mass[0]) * 0.05 / float(model.body_mass.sum())
    assert float(share[1] - share[0]) == pytest.approx(shift / separation, rel=0.25)


def test_low_friction_lets_feet_slide(robot) -> None:
    spec, _ = robot
    backend = _make(robot, 2)
    backend.set_params(torch.arange(2), friction=torch.tensor([1.0, 0.02]))
    for _ in range(25):
        backend.step(_default_targets(spec, 2), 4)
    s = backend.state()
    start = default_reset_state(spec, 2, torch.device("cpu"))
    start.update(root_pos_w=s.root_pos_w.clone(), joint_pos=s.joint_pos.clone())
    start["root_lin_vel_w"][:, 0] = 0.5
    backend.reset(torch.arange(2), **start)
    feet_x0 = backend.state().body_pos_w[:, 1:3, 0].clone()
    for _ in range(10):
        backend.step(_default_targets(spec, 2), 4)
    slide = (backend.state().body_pos_w[:, 1:3, 0] - feet_x0).abs().max(dim=1).values
    # Both pushed at 0.5 m/s for 0.2 s: with mu = 1 the soles stick after a few mm; with
    # mu = 0.02 friction (mu·g = 0.2 m/s²) cannot stop them and they slide for centimetres.
    assert slide[0] < 0.015
    assert slide[1] > 0.04


def test_set_params_rejects_bad_shapes(robot) -> None:
    backend = _make(robot, 2, stand=False)
    with pytest.raises(ConfigError, match="kp_scale"):
        backend.set_params(torch.arange(2), kp_scale=torch.ones(3))
    with pytest.raises(ConfigError, match="friction"):
        backend.set_params(torch.arange(2), friction=torch.tensor([1.0, -1.0]))


def test_diverged_world_is_detected_and_reset_others_continue(robot) -> None:
    spec, _ = robot
    backend, reference = _make(robot, 3), _make(robot, 3)
    bad = default_reset_state(spec, 1, torch.device("cpu"))
    bad["joint_vel"][0, 3] = float("nan")
    backend.reset(torch.tensor([1]), **bad)
    targets = _default_targets(spec, 3)
    backend.step(targets, 4)
    reference.step(targets, 4)
    assert backend.nan_worlds().tolist() == [False, True, False]
    s = backend.state()
    assert torch.isfinite(s.joint_vel).all()
    default = default_reset_state(spec, 1, torch.device("cpu"))
    assert torch.equal(s.root_pos_w[1], default["root_pos_w"][0])
    assert torch.equal(s.joint_pos[1], default["joint_pos"][0])
    _assert_states_equal(s, reference.state(), torch.tensor([0, 2]))
    backend.step(targets, 4)
    assert not backend.nan_worlds().any()


def test_reset_nan_worlds_helper_without_auto_reset(robot) -> None:
    spec, _ = robot
    backend = _make(robot, 2, auto_reset_nan=False)
    bad = default_reset_state(spec, 1, torch.device("cpu"))
    bad["root_lin_vel_w"][0, 0] = float("inf")
    backend.reset(torch.tensor([0]), **bad)
    backend.step(_default_targets(spec, 2), 4)
    assert backend.nan_worlds().tolist() == [True, False]
    assert not torch.isfinite(backend.state().root_pos_w[0]).all()
    assert reset_nan_worlds(backend, spec).tolist() == [0]
    assert not backend.nan_worlds().any()
    assert torch.isfinite(backend.state().root_pos_w).all()


# ---------------------------------------------------------------------------- MuJoCo Warp


@pytest.fixture(scope="module")
def warp_backend(robot) -> SimBackend:
    pytest.importorskip("mujoco_warp")
    backend = _make(robot, 3, "mujoco_warp", device="cpu")
    assert isinstance(backend, SimBackend)
    return backend


@pytest.mark.gpu
def test_warp_matches_c_mujoco(robot, warp_backend) -> None:
    """0.5 s of default pose + sinusoid from a perturbed start, 3 worlds.

    Measured max differences (Warp float32 vs C float64, same solver settings): root
    position 4e-7 m, joint position 1e-5 rad, joint velocity 2.4e-4 rad/s, foot force
    0.03 N, torque 4e-3 N·m. Tolerances are ~100x that, far below any physical effect,
    so a frame, ordering or sign error anywhere fails.
    """
    spec, _ = robot
    c_backend = _make(robot, 3)
    start = _perturbed_start(spec, 3)
    for backend in (c_backend, warp_backend):
        backend.reset(torch.arange(3), **start)
    tolerances = {
        "root_pos_w": 1e-4,
        "root_quat_w": 1e-4,
        "root_lin_vel_w": 1e-3,
        "root_ang_vel_w": 5e-3,
        "root_ang_vel_b": 5e-3,
        "joint_pos": 1e-3,
        "joint_vel": 0.05,
        "body_pos_w": 1e-4,
        "body_quat_w": 1e-4,
        "body_lin_vel_w": 5e-3,
        "body_ang_vel_w": 5e-3,
        "foot_contact_force_w": 1.0,
        "applied_torque": 0.5,
    }
    for sc, sw in zip(_rollout(c_backend, spec, 25), _rollout(warp_backend, spec, 25)):
        for name, tol in tolerances.items():
            err = (getattr(sc, name) - getattr(sw, name)).abs().max().item()
            assert err < tol, f"{name}: {err}"
    assert not warp_backend.nan_worlds().any()


@pytest.mark.gpu
def test_warp_reset_and_params(robot, warp_backend) -> None:
    spec, _ = robot
    g = torch.Generator().manual_seed(2)
    start = default_reset_state(spec, 3, torch.device("cpu"))
    start["root_quat_w"] = _random_quat(g, 3)
    start["root_ang_vel_w"] = torch.randn(3, 3, generator=g)
    warp_backend.reset(torch.arange(3), **start)
    s = warp_backend.state()
    assert torch.equal(s.root_quat_w, start["root_quat_w"])
    assert torch.equal(s.joint_pos, start["joint_pos"])
    torch.testing.assert_close(s.root_ang_vel_w, start["root_ang_vel_w"], atol=1e-5, rtol=0)
    torch.testing.assert_close(s.body_ang_vel_w[:, 0], s.root_ang_vel_w, atol=1e-5, rtol=0)

    warp_backend.reset(torch.arange(3), **default_reset_state(spec, 3, torch.device("cpu")))
    warp_backend.set_params(torch.tensor([2]), body_mass_scale=torch.tensor([1.2]))
    for _ in range(30):
        warp_backend.step(_default_targets(spec, 3), 4)
    fz = warp_backend.state().foot_contact_force_w[..., 2].sum(dim=1)
    assert fz[2] / fz[0] == pytest.approx(1.2, rel=0.01)
    warp_backend.set_params(torch.tensor([2]), body_mass_scale=torch.tensor([1.0]))


@pytest.mark.gpu
def test_warp_diverged_world_is_reset(robot, warp_backend) -> None:
    spec, _ = robot
    warp_backend.reset(torch.arange(3), **default_reset_state(spec, 3, torch.device("cpu")))
    bad = default_reset_state(spec, 1, torch.device("cpu"))
    bad["joint_vel"][0, 3] = float("nan")
    warp_backend.reset(torch.tensor([1]), **bad)
    warp_backend.step(_default_targets(spec, 3), 4)
    assert warp_backend.nan_worlds().tolist() == [False, True, False]
    s = warp_backend.state()
    assert torch.isfinite(s.joint_vel).all()
    assert s.root_pos_w[1, 2] == pytest.approx(spec.default_root_height)


# ---------------------------------------------------------------------------- devices


@pytest.mark.parametrize(
    ("backend", "device", "message"),
    [
        ("mujoco", "cuda", "runs on the CPU only"),
        ("mujoco", "cuda:1", "runs on the CPU only"),
        ("mujoco", "gpu", "must be cpu, cuda or cuda:K"),
        ("mujoco_warp", "cuda:x", "must be cpu, cuda or cuda:K"),
    ],
)
def test_validate_device_rejects_bad_pairs(backend: str, device: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as err:
        validate_device(backend, device)
    assert "\n" not in str(err.value) and str(err.value).startswith("sim.device")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA message")
def test_validate_device_without_cuda() -> None:
    assert validate_device("mujoco", "cpu") == torch.device("cpu")
    assert validate_device("mujoco_warp", "cpu") == torch.device("cpu")
    for device in ("cuda", "cuda:0"):
        with pytest.raises(ConfigError, match=f"sim.device={device}: CUDA is not available"):
            validate_device("mujoco_warp", device)


# ---------------------------------------------------------------------------- warp sizing


def test_contact_capacity_counts_floor_contacts_per_geom_type(robot) -> None:
    """G1: 10 spheres (pelvis, head, 8 sole points) x 1 + 19 capsules x 2 = 48 floor
    contacts, + 16 for self-contacts; pyramidal condim-3 cones take 4 rows each, plus one
    row per limited joint."""
    pytest.importorskip("mujoco_warp")
    from humimic.sim.warp_capacity import SELF_CONTACTS, contact_capacity

    _, model = robot
    colliding = (model.geom_contype | model.geom_conaffinity) > 0
    robot_geoms = np.flatnonzero(colliding & (model.geom_bodyid > 0))
    types = [mujoco.mjtGeom(int(model.geom_type[g])) for g in robot_geoms]
    assert types.count(mujoco.mjtGeom.mjGEOM_SPHERE) == 10
    assert types.count(mujoco.mjtGeom.mjGEOM_CAPSULE) == 19 and len(types) == 29
    nconmax, njmax = contact_capacity(model)
    assert nconmax == 48 + SELF_CONTACTS == 64
    assert njmax == 4 * 64 + int(np.count_nonzero(model.jnt_limited))


@pytest.mark.gpu
def test_warp_contact_overflow_is_a_clear_error(robot) -> None:
    """Standing, each foot touches with 4 sole spheres and its sole capsule (2 contacts):
    12 contacts; a 4-contact buffer overflows and the step says which buffer."""
    pytest.importorskip("mujoco_warp")
    spec, _ = robot
    backend = _make(robot, 2, "mujoco_warp", device="cpu", nconmax=4)
    assert backend.nconmax == 4
    with pytest.raises(ConfigError, match=r"contacts \(nconmax\) overflowed with nconmax=4"):
        for _ in range(5):
            backend.step(_default_targets(spec, 2), 4)
    assert backend.nan_worlds().all()  # their physics was wrong: marked for reset


@pytest.mark.gpu
def test_warp_graph_replay_equals_eager_steps_including_a_reset(robot) -> None:
    """The graph path (first step eager, then capture and replay) on Warp's CPU graphs:
    bit-identical to eager steps, with a diverged world reset inside the replayed graph
    and a change of targets and parameters between replays (in-place writes)."""
    pytest.importorskip("mujoco_warp")
    spec, _ = robot
    eager = _make(robot, 3, "mujoco_warp", device="cpu")
    graph = _make(robot, 3, "mujoco_warp", device="cpu")
    graph._graph_on_cpu = True
    assert graph.graph_active and not eager.graph_active
    bad = default_reset_state(spec, 1, torch.device("cpu"))
    bad["joint_vel"][0, 3] = float("nan")
    for k in range(6):
        if k == 3:
            for backend in (eager, graph):
                backend.reset(torch.tensor([1]), **bad)
                backend.set_params(torch.tensor([2]), friction=torch.tensor([0.3]))
        for backend in (eager, graph):
            try:
                backend.step(_sine_targets(spec, 3, k), 4)
            except RuntimeError as err:  # Warp without CPU graph capture
                pytest.skip(f"Warp cannot capture on the CPU: {err}")
        assert torch.equal(eager.nan_worlds(), graph.nan_worlds())
        assert eager.nan_worlds().tolist() == [False, k == 3, False]
        _assert_states_equal(eager.state(), graph.state())
    assert set(graph._graphs) == {4}  # captured once, replayed four times
