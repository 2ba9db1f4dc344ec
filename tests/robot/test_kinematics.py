"""Torch forward kinematics against MuJoCo's own ``mj_kinematics``."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest
import torch

from humimic.errors import ConfigError
from humimic.geometry import quat_np
from humimic.robot.kinematics import RobotKinematics
from humimic.robot.model import build_model
from humimic.robot.spec import load_robot_spec

VARIANTS = ["g1_29dof", "g1_23dof_lock_wrist", "g1_23dof"]

# Joints with anchors away from the body origin, two hinges and a slide on one body, a hinge
# with a non-zero reference angle (qpos0) and a ball joint that the kinematics hold at qpos0.
ANCHOR_MJCF = """
<mujoco>
  <compiler angle="radian"/>
  <worldbody>
    <body name="base" pos="0.1 -0.2 0.5" quat="0.9 0.1 -0.3 0.2">
      {root_joint}
      <geom type="sphere" size="0.05"/>
      <body name="upper" pos="0.3 0 0" quat="0.7 0.7 0 0">
        <joint name="shoulder" type="hinge" axis="0 1 0" pos="-0.1 0.05 0.02"/>
        <joint name="twist" type="hinge" axis="1 1 0" pos="0.02 -0.03 0.1" ref="0.3"/>
        <geom type="capsule" size="0.03" fromto="0 0 0 0.3 0 0"/>
        <body name="lower" pos="0.3 0.01 0">
          <joint name="elbow" type="hinge" axis="0 0 1" pos="0 0.04 -0.06"/>
          <joint name="extend" type="slide" axis="1 0 0.5" pos="0.2 0 0"/>
          <geom type="capsule" size="0.03" fromto="0 0 0 0.25 0 0"/>
          <body name="hand" pos="0.25 0 0" quat="0.5 0.5 0.5 0.5">
            <joint name="wrist" type="ball" pos="0.01 0.02 0.03"/>
            <geom type="box" size="0.02 0.02 0.02"/>
            <body name="finger" pos="0.05 0 0.01">
              <joint name="knuckle" type="hinge" axis="0 -1 0.2" pos="0.03 0.01 0"/>
              <geom type="box" size="0.01 0.01 0.01"/>
            </body>
          </body>
        </body>
      </body>
    </body>
  </worldbody>
</mujoco>
"""
ANCHOR_JOINTS = ["shoulder", "twist", "elbow", "extend", "knuckle"]


@pytest.fixture(scope="module", params=VARIANTS)
def g1(request: pytest.FixtureRequest) -> tuple[mujoco.MjModel, list[str]]:
    """Project G1 model of one variant and its joint order (Unitree motor order)."""
    spec = load_robot_spec(request.param)
    return build_model(spec), list(spec.joint_names)


def _random_qpos(model: mujoco.MjModel, joints: list[str], count: int, seed: int) -> np.ndarray:
    """Random root pose (if floating) and joint values uniform inside ``jnt_range``."""
    rng = np.random.default_rng(seed)
    qpos = np.tile(model.qpos0, (count, 1))
    if model.jnt_type[0] == mujoco.mjtJoint.mjJNT_FREE:
        qpos[:, 0:3] = rng.uniform(-2.0, 2.0, (count, 3))
        qpos[:, 3:7] = quat_np.normalize(rng.normal(size=(count, 4)))
    for name in joints:
        j = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, name)
        low, high = model.jnt_range[j] if model.jnt_limited[j] else (-np.pi, np.pi)
        qpos[:, model.jnt_qposadr[j]] = rng.uniform(low, high, count)
    return qpos


def _mujoco_poses(model: mujoco.MjModel, qpos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``xpos, xquat`` of all bodies but the world from ``mj_kinematics``, (T, B, 3|4)."""
    data = mujoco.MjData(model)
    pos, quat = [], []
    for q in qpos:
        data.qpos[:] = q
        mujoco.mj_kinematics(model, data)
        pos.append(data.xpos[1:].copy())
        quat.append(data.xquat[1:].copy())
    return np.array(pos), np.array(quat)


def _inputs(model: mujoco.MjModel, joints: list[str], qpos: np.ndarray) -> list[torch.Tensor]:
    """Root pose and joint columns of ``qpos`` as float64 tensors."""
    ids = [mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, n) for n in joints]
    if model.jnt_type[0] == mujoco.mjtJoint.mjJNT_FREE:
        root_pos, root_quat = qpos[:, 0:3], qpos[:, 3:7]
    else:  # fixed base: the root inputs are the root body's offset
        root_pos = np.tile(model.body_pos[1], (len(qpos), 1))
        root_quat = np.tile(model.body_quat[1], (len(qpos), 1))
    joint_pos = qpos[:, model.jnt_qposadr[ids]]
    return [torch.from_numpy(np.ascontiguousarray(x)) for x in (root_pos, root_quat, joint_pos)]


def _geodesic(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Rotation angle (rad) between unit quaternions, either sign."""
    relative = quat_np.multiply(quat_np.conjugate(a), b)
    return 2.0 * np.arctan2(np.linalg.norm(relative[..., 1:], axis=-1), np.abs(relative[..., 0]))


def _assert_matches_mujoco(model: mujoco.MjModel, joints: list[str], count: int) -> None:
    qpos = _random_qpos(model, joints, count, seed=1)
    expected_pos, expected_quat = _mujoco_poses(model, qpos)
    body_pos, body_quat = RobotKinematics(model, joints)(*_inputs(model, joints, qpos))
    assert body_pos.shape == expected_pos.shape and body_quat.shape == expected_quat.shape
    np.testing.assert_allclose(body_pos.numpy(), expected_pos, rtol=0, atol=1e-5)
    assert _geodesic(body_quat.numpy(), expected_quat).max() < 1e-5
    np.testing.assert_allclose(np.linalg.norm(body_quat.numpy(), axis=-1), 1.0, atol=1e-9)


def _anchor_model(floating: bool) -> mujoco.MjModel:
    root_joint = '<freejoint name="root"/>' if floating else ""
    return mujoco.MjModel.from_xml_string(ANCHOR_MJCF.format(root_joint=root_joint))


def test_matches_mujoco_on_project_g1(g1: tuple[mujoco.MjModel, list[str]]) -> None:
    model, joints = g1
    _assert_matches_mujoco(model, joints, count=1000)


@pytest.mark.parametrize("floating", [True, False])
def test_matches_mujoco_with_joint_anchors(floating: bool) -> None:
    model = _anchor_model(floating)
    # The anchors must matter here, or this test would not check them.
    twist = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, "twist")
    assert np.abs(model.jnt_pos).sum() > 0.5 and model.qpos0[model.jnt_qposadr[twist]] == 0.3
    _assert_matches_mujoco(model, ANCHOR_JOINTS, count=300)


def test_default_joints_are_hinges_in_model_order() -> None:
    model = _anchor_model(floating=True)
    assert RobotKinematics(model).joint_names == ["shoulder", "twist", "elbow", "knuckle"]
    assert RobotKinematics(model).body_names == ["base", "upper", "lower", "hand", "finger"]


def test_unlisted_joints_are_held_at_qpos0() -> None:
    model = _anchor_model(floating=False)
    qpos = _random_qpos(model, ["elbow"], 20, seed=2)
    expected_pos, _ = _mujoco_poses(model, qpos)  # all other joints stay at qpos0
    body_pos, _ = RobotKinematics(model, ["elbow"])(*_inputs(model, ["elbow"], qpos))
    np.testing.assert_allclose(body_pos.numpy(), expected_pos, rtol=0, atol=1e-10)


def _assert_gradients_match(kinematics: RobotKinematics, inputs: list[torch.Tensor]) -> None:
    """Autograd Jacobian of all outputs w.r.t. all inputs vs. central differences (float64)."""
    sizes = [x.shape[-1] for x in inputs]
    frames = inputs[0].shape[0]
    x0 = torch.cat(inputs, dim=-1).reshape(-1)

    def outputs(x: torch.Tensor) -> torch.Tensor:
        parts = x.reshape(*x.shape[:-1], frames, sum(sizes)).split(sizes, dim=-1)
        body_pos, body_quat = kinematics(*parts)
        return torch.cat((body_pos.flatten(-3), body_quat.flatten(-3)), dim=-1)

    analytic = torch.autograd.functional.jacobian(outputs, x0, vectorize=True)
    eps = 1e-6
    steps = eps * torch.eye(x0.numel(), dtype=x0.dtype)  # one perturbed input per row
    numeric = ((outputs(x0 + steps) - outputs(x0 - steps)) / (2 * eps)).T
    assert analytic.abs().max() > 0.1  # a zero Jacobian would pass trivially
    torch.testing.assert_close(analytic, numeric, rtol=0, atol=1e-7)


def test_gradients_match_finite_differences(g1: tuple[mujoco.MjModel, list[str]]) -> None:
    model, joints = g1
    inputs = _inputs(model, joints, _random_qpos(model, joints, 2, seed=3))
    inputs[1] = inputs[1] * 1.3  # off the unit sphere: the normalization is differentiated too
    _assert_gradients_match(RobotKinematics(model, joints), inputs)


def test_gradients_with_anchors_and_slide() -> None:
    model = _anchor_model(floating=True)
    inputs = _inputs(model, ANCHOR_JOINTS, _random_qpos(model, ANCHOR_JOINTS, 3, seed=4))
    _assert_gradients_match(RobotKinematics(model, ANCHOR_JOINTS), inputs)


def test_joint_order_follows_joint_names(g1: tuple[mujoco.MjModel, list[str]]) -> None:
    model, joints = g1
    root_pos, root_quat, joint_pos = _inputs(model, joints, _random_qpos(model, joints, 50, 5))
    permutation = np.random.default_rng(6).permutation(len(joints))
    permuted = RobotKinematics(model, [joints[i] for i in permutation])
    reference = RobotKinematics(model, joints)(root_pos, root_quat, joint_pos)
    result = permuted(root_pos, root_quat, joint_pos[:, torch.from_numpy(permutation)])
    torch.testing.assert_close(result, reference, rtol=0, atol=1e-12)
    # A wrong column order must change the result, or the check above proves nothing.
    shuffled = permuted(root_pos, root_quat, joint_pos)
    assert (shuffled[0] - reference[0]).abs().max() > 1e-2


def test_float32_close_to_float64(g1: tuple[mujoco.MjModel, list[str]]) -> None:
    model, joints = g1
    inputs = _inputs(model, joints, _random_qpos(model, joints, 200, seed=7))
    pos64, quat64 = RobotKinematics(model, joints)(*inputs)
    pos32, quat32 = RobotKinematics(model, joints, dtype=torch.float32)(
        *[x.float() for x in inputs]
    )
    assert pos32.dtype == quat32.dtype == torch.float32
    np.testing.assert_allclose(pos32.double().numpy(), pos64.numpy(), rtol=0, atol=1e-4)
    angle = _geodesic(quat32.double().numpy(), quat64.numpy())
    assert angle.max() < 1e-4


def test_leading_dimensions_broadcast() -> None:
    model = _anchor_model(floating=True)
    kinematics = RobotKinematics(model, ANCHOR_JOINTS)
    root_pos, root_quat, joint_pos = _inputs(
        model, ANCHOR_JOINTS, _random_qpos(model, ANCHOR_JOINTS, 6, 8)
    )
    # One root pose per row of a (2, 3) grid of joint configurations.
    grid = joint_pos.reshape(2, 3, -1)
    body_pos, body_quat = kinematics(root_pos[:2, None], root_quat[:2, None], grid)
    assert body_pos.shape == (2, 3, 5, 3) and body_quat.shape == (2, 3, 5, 4)
    flat_pos, _ = kinematics(root_pos[[0, 0, 0, 1, 1, 1]], root_quat[[0, 0, 0, 1, 1, 1]], joint_pos)
    torch.testing.assert_close(body_pos.reshape(6, 5, 3), flat_pos, rtol=0, atol=1e-12)


def test_body_indices_and_name_errors() -> None:
    model = _anchor_model(floating=True)
    kinematics = RobotKinematics(model, ANCHOR_JOINTS)
    indices = kinematics.body_indices(["finger", "base", "lower"])
    assert indices.dtype == torch.long and indices.tolist() == [4, 0, 2]
    with pytest.raises(ConfigError, match="nose"):
        kinematics.body_indices(["base", "nose"])
    with pytest.raises(ConfigError, match="knee"):
        RobotKinematics(model, ["shoulder", "knee"])
    with pytest.raises(ConfigError, match="wrist"):
        RobotKinematics(model, ["wrist"])  # a ball joint cannot be a joint_pos column
    with pytest.raises(ConfigError, match="repeated"):
        RobotKinematics(model, ["elbow", "elbow"])
    root_pos, root_quat, joint_pos = _inputs(model, ANCHOR_JOINTS, model.qpos0[None])
    with pytest.raises(ConfigError, match="expected 5 columns"):
        kinematics(root_pos, root_quat, joint_pos[:, :4])
    with pytest.raises(ConfigError, match="float32"):
        kinematics(root_pos, root_quat.float(), joint_pos)


def test_unsupported_trees_are_refused() -> None:
    two_trees = "<mujoco><worldbody>" + "<body><freejoint/><geom size='0.1'/></body>" * 2
    with pytest.raises(ConfigError, match="one body tree"):
        RobotKinematics(mujoco.MjModel.from_xml_string(two_trees + "</worldbody></mujoco>"))


def test_empty_batch() -> None:
    kinematics = RobotKinematics(_anchor_model(floating=True), ANCHOR_JOINTS)
    zeros = [torch.zeros(0, n, dtype=torch.float64) for n in (3, 4, 5)]
    body_pos, body_quat = kinematics(*zeros)
    assert body_pos.shape == (0, 5, 3) and body_quat.shape == (0, 5, 4)


def test_to_changes_dtype_and_keeps_values() -> None:
    model = _anchor_model(floating=True)
    inputs = _inputs(model, ANCHOR_JOINTS, _random_qpos(model, ANCHOR_JOINTS, 4, 9))
    kinematics = RobotKinematics(model, ANCHOR_JOINTS)
    reference, _ = kinematics(*inputs)
    moved = kinematics.to("cpu", dtype=torch.float32)
    assert moved is kinematics and moved.dtype == torch.float32
    body_pos, _ = moved(*[x.float() for x in inputs])
    torch.testing.assert_close(body_pos.double(), reference, rtol=0, atol=1e-5)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu() -> None:
    model = _anchor_model(floating=True)
    inputs = _inputs(model, ANCHOR_JOINTS, _random_qpos(model, ANCHOR_JOINTS, 16, 10))
    reference, _ = RobotKinematics(model, ANCHOR_JOINTS)(*inputs)
    body_pos, _ = RobotKinematics(model, ANCHOR_JOINTS, device="cuda")(*[x.cuda() for x in inputs])
    assert body_pos.device.type == "cuda"
    torch.testing.assert_close(body_pos.cpu(), reference, rtol=0, atol=1e-10)
