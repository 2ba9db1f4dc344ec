"""The training assist servos on the root: what they measure and the force they exert,
in C MuJoCo and MuJoCo Warp."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from humimic.config.train import AssistCfg
from humimic.errors import ConfigError
from humimic.robot.assist import ASSIST_ACTUATORS, assist_actuator_ids
from humimic.robot.model import build_model
from humimic.robot.spec import RobotSpec, load_robot_spec
from humimic.sim import SimBackend, default_reset_state, make_backend

BODIES = ["pelvis", "torso_link"]
G = 9.81
GAINS = AssistCfg(enabled=True)


@pytest.fixture(scope="module")
def robot() -> tuple[RobotSpec, mujoco.MjModel]:
    spec = load_robot_spec("g1_29dof")
    return spec, build_model(spec, assist=GAINS)


def test_servos_follow_the_joint_actuators_and_measure_the_root_pose(robot) -> None:
    spec, model = robot
    ids = assist_actuator_ids(model)
    assert ids.tolist() == list(range(spec.num_joints, spec.num_joints + 6))
    assert [model.actuator(i).name for i in ids] == list(ASSIST_ACTUATORS)
    assert assist_actuator_ids(build_model(spec)).size == 0
    data = mujoco.MjData(model)
    rotvec = np.array([0.3, -0.5, 1.2])
    x, y, z, w = Rotation.from_rotvec(rotvec).as_quat()
    data.qpos[:7] = [0.5, -0.2, 0.8, w, x, y, z]
    mujoco.mj_forward(model, data)
    np.testing.assert_allclose(data.actuator_length[ids], [0.5, -0.2, 0.8, *rotvec], atol=1e-9)


def _airborne(robot, n: int, name: str = "mujoco", height: float = 1.0, **opts) -> SimBackend:
    """A backend with every world's robot at ``height`` in the default pose, at rest."""
    spec, model = robot
    backend = make_backend(name, model, spec, n, BODIES, **opts)
    start = default_reset_state(spec, n, backend.device)
    start["root_pos_w"][:, 2] = height
    backend.reset(torch.arange(n, device=backend.device), **start)
    return backend


def _hold(backend: SimBackend, spec: RobotSpec, target: torch.Tensor, scale: float, steps: int):
    pose = torch.as_tensor(spec.default_joint_pos, dtype=torch.float32)
    pose = pose.expand(backend.num_worlds, -1).to(backend.device)
    for _ in range(steps):
        backend.set_assist(target.to(backend.device), scale)
        backend.step(pose, 4)
    return backend.state()


def _total_mass(model: mujoco.MjModel) -> float:
    return float(model.body_mass.sum())


@pytest.mark.parametrize("name", ["mujoco", pytest.param("mujoco_warp", marks=pytest.mark.gpu)])
def test_full_scale_holds_the_robot_up_against_its_weight(robot, name: str) -> None:
    """At rest the vertical servo carries the whole weight: kp·(target - z) = M·g, so the
    root hangs M·g/kp below its target (35 kg, 3500 N/m: about 0.1 m). Per-world targets:
    world i is also asked to sit 0.1·i m along x."""
    if name == "mujoco_warp":
        pytest.importorskip("mujoco_warp")
    spec, model = robot
    opts = {"device": "cpu"} if name == "mujoco_warp" else {"num_threads": 2}
    backend = _airborne(robot, 3, name, **opts)
    target = torch.zeros(3, 6)
    target[:, 0] = 0.1 * torch.arange(3)
    target[:, 2] = 1.0
    state = _hold(backend, spec, target, 1.0, 150)  # 3 s at 200 Hz
    sag = _total_mass(model) * G / GAINS.kp_pos
    z = state.root_pos_w[:, 2].cpu()
    torch.testing.assert_close(z, torch.full((3,), 1.0 - sag), atol=3e-3, rtol=0)
    torch.testing.assert_close(state.root_pos_w[:, 0].cpu(), target[:, 0], atol=5e-3, rtol=0)
    assert float(state.root_lin_vel_w.abs().max()) < 0.01  # settled


def _com_z(backend: SimBackend, model: mujoco.MjModel) -> torch.Tensor:
    """Height of the robot's centre of mass in every world, m."""
    root = int(model.jnt_bodyid[0])
    return backend.raw.subtree_com[:, root, 2].clone()


def test_half_scale_halves_the_stiffness_and_zero_scale_lets_go(robot) -> None:
    """Scale 0.5 doubles the sag; then at scale 0 the centre of mass is in free fall: with
    MuJoCo's semi-implicit update its height's second difference over physics steps is
    -g·dt² (no external force but gravity; the joints' implicit damping moves it by ~1e-8,
    a residual servo force of 1 N by 7e-7)."""
    spec, model = robot
    backend = _airborne(robot, 2, height=1.3)
    target = torch.tensor([[0.0, 0.0, 1.3, 0.0, 0.0, 0.0]]).repeat(2, 1)
    state = _hold(backend, spec, target, 0.5, 150)
    sag = _total_mass(model) * G / (0.5 * GAINS.kp_pos)
    expected = torch.full((2,), 1.3 - sag)
    torch.testing.assert_close(state.root_pos_w[:, 2], expected, atol=3e-3, rtol=0)
    pose = torch.as_tensor(spec.default_joint_pos, dtype=torch.float32).expand(2, -1)
    heights = [_com_z(backend, model)]
    for _ in range(2):
        backend.set_assist(target, 0.0)
        backend.step(pose, 1)
        heights.append(_com_z(backend, model))
    second_difference = heights[2] - 2 * heights[1] + heights[0]
    dt = model.opt.timestep
    torch.testing.assert_close(
        second_difference, torch.full((2,), -G * dt**2, dtype=torch.float64), atol=1e-7, rtol=0
    )


def test_no_force_before_the_env_sets_a_scale(robot) -> None:
    """A backend starts with the servos at scale 0: from rest the centre of mass falls
    g·dt²·n(n+1)/2 in n physics steps (semi-implicit Euler), not towards the zero target."""
    spec, model = robot
    backend = _airborne(robot, 1)
    start = _com_z(backend, model)
    pose = torch.as_tensor(spec.default_joint_pos, dtype=torch.float32)[None]
    for _ in range(5):
        backend.step(pose, 4)
    n, dt = 20, model.opt.timestep
    drop = float(start[0] - _com_z(backend, model)[0])
    assert drop == pytest.approx(G * dt**2 * n * (n + 1) / 2, abs=1e-9)
    assert float(backend.state().root_pos_w[0, :2].abs().max()) < 1e-3


def test_set_assist_refuses_bad_requests(robot) -> None:
    spec, _ = robot
    backend = _airborne(robot, 2)
    good = torch.zeros(2, 6)
    with pytest.raises(ConfigError, match=r"shape \(2, 6\)"):
        backend.set_assist(torch.zeros(2, 3), 1.0)
    with pytest.raises(ConfigError, match=r"scale must be in \[0, 1\], got 1.5"):
        backend.set_assist(good, 1.5)
    with pytest.raises(ConfigError, match="finite"):
        backend.set_assist(torch.full((2, 6), float("nan")), 1.0)
    plain = make_backend("mujoco", build_model(spec), spec, 2, BODIES)
    with pytest.raises(ConfigError, match="no assist servos"):
        plain.set_assist(good, 1.0)


@pytest.mark.parametrize("name", ["mujoco", pytest.param("mujoco_warp", marks=pytest.mark.gpu)])
def test_a_randomised_world_keeps_the_current_assist_strength(robot, name: str) -> None:
    """Domain randomisation rewrites the gain fields of the worlds it draws for; the assist
    servos in them must stay at the env's scale (0.5 here), not jump back to nominal."""
    if name == "mujoco_warp":
        pytest.importorskip("mujoco_warp")
    spec, model = robot
    backend = _airborne(
        robot, 2, name, height=1.3, **({"device": "cpu"} if name != "mujoco" else {})
    )
    target = torch.tensor([[0.0, 0.0, 1.3, 0.0, 0.0, 0.0]]).repeat(2, 1)
    _hold(backend, spec, target, 0.5, 1)
    world0 = torch.tensor([0], device=backend.device)
    backend.set_params(world0, kp_scale=torch.tensor([1.05]), kd_scale=torch.tensor([0.95]))
    state = _hold(backend, spec, target, 0.5, 150)
    sag = _total_mass(model) * G / (0.5 * GAINS.kp_pos)
    z = state.root_pos_w[:, 2].cpu()
    torch.testing.assert_close(z, torch.full((2,), 1.3 - sag), atol=3e-3, rtol=0)
