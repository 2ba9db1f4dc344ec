"""Joint torque bias (``set_joint_torque_bias``, PBHC's RFI/RAO hook) in both backends.

References are plain ``mujoco.MjData`` worlds stepped by hand with the same gains, targets
and ``qfrc_applied``. Warp tests carry ``@pytest.mark.gpu`` but run on Warp's CPU device
(kernels are cached in ``~/.cache/warp`` after the first compile).
"""

from __future__ import annotations

import copy

import mujoco
import numpy as np
import pytest
import torch

from humimic.errors import ConfigError
from humimic.robot.model import build_model
from humimic.robot.spec import RobotSpec, load_robot_spec
from humimic.sim import SimBackend, default_reset_state, make_backend
from humimic.sim.layout import ModelLayout

BODIES = ["pelvis", "left_ankle_roll_link", "right_ankle_roll_link", "torso_link"]
ELBOW = "left_elbow_joint"


@pytest.fixture(scope="module")
def robot() -> tuple[RobotSpec, mujoco.MjModel]:
    spec = load_robot_spec("g1_29dof")
    return spec, build_model(spec)


def _make(robot, n: int, name: str = "mujoco", **opts) -> SimBackend:
    """Backend with the spec's standing gains (the robot stands still on the floor)."""
    spec, model = robot
    backend = make_backend(name, model, spec, n, BODIES, **opts)
    scale = torch.full((n,), spec.standing_gains_scale)
    backend.set_params(torch.arange(n), kp_scale=scale, kd_scale=scale)
    return backend


def _targets(spec: RobotSpec, n: int, elbow: float | None = None) -> torch.Tensor:
    target = torch.as_tensor(spec.default_joint_pos, dtype=torch.float32).expand(n, -1).clone()
    if elbow is not None:
        target[:, spec.joint_names.index(ELBOW)] = elbow
    return target


def _press_elbow_on_limit(spec: RobotSpec, backend: SimBackend) -> torch.Tensor:
    """Start with the elbow at its upper limit (2.094 rad) and return targets 1 rad past it:
    the PD demand (~400 N·m) saturates the 25 N·m actuator while the joint stays still."""
    start = default_reset_state(spec, backend.num_worlds, torch.device("cpu"))
    start["joint_pos"][:, spec.joint_names.index(ELBOW)] = 2.09
    backend.reset(torch.arange(backend.num_worlds), **start)
    return _targets(spec, backend.num_worlds, elbow=3.1)


class _Reference:
    """One plain MjData per world with the standing gains, started at the backend's state."""

    def __init__(self, robot, backend: SimBackend, bias: torch.Tensor) -> None:
        spec, model = robot
        self.model = copy.deepcopy(model)
        self.model.actuator_gainprm[:, 0] *= spec.standing_gains_scale
        self.model.actuator_biasprm[:, 1:3] *= spec.standing_gains_scale
        self.lay = ModelLayout.from_model(model, list(spec.joint_names), BODIES, spec.foot_geoms)
        self.datas = [mujoco.MjData(self.model) for _ in range(backend.num_worlds)]
        raw = backend.raw  # type: ignore[attr-defined]
        for i, data in enumerate(self.datas):
            data.qpos[:] = raw.qpos[i].double().numpy()  # the backend's (reset) start
            data.qvel[:] = raw.qvel[i].double().numpy()
            data.qfrc_applied[self.lay.joint_dof] = bias[i].double().numpy()

    def step(self, target: torch.Tensor, decimation: int = 4) -> list[np.ndarray]:
        """Step every world; returns the actuator forces (J,) of every physics step."""
        forces = []
        for i, data in enumerate(self.datas):
            data.ctrl[self.lay.actuator] = target[i].double().numpy()
            for _ in range(decimation):
                mujoco.mj_step(self.model, data)
                forces.append(data.actuator_force[self.lay.actuator].copy())
        return forces

    def joint_pos(self) -> np.ndarray:
        return np.stack([d.qpos[self.lay.joint_qpos] for d in self.datas])


# ---------------------------------------------------------------------------- C MuJoCo


def test_bias_matches_plain_mujoco_with_qfrc_applied(robot) -> None:
    """Standing robot, +4 N·m on the left elbow of world 1 only: the backend equals plain
    MuJoCo with that ``qfrc_applied``, and the elbow settles b/kp = 4/400 rad further."""
    spec, _ = robot
    backend = _make(robot, 2)
    j = spec.joint_names.index(ELBOW)
    bias = torch.zeros(2, spec.num_joints)
    bias[1, j] = 4.0
    backend.set_joint_torque_bias(bias)
    reference = _Reference(robot, backend, bias)
    target = _targets(spec, 2)
    for _ in range(25):  # 0.5 s, held constant
        backend.step(target, 4)
        reference.step(target)
        np.testing.assert_allclose(backend.state().joint_pos, reference.joint_pos(), atol=1e-6)
    for i, data in enumerate(reference.datas):
        np.testing.assert_allclose(backend.raw.qpos[i].numpy(), data.qpos, atol=1e-9)
        np.testing.assert_allclose(backend.raw.qvel[i].numpy(), data.qvel, atol=1e-9)
    s = backend.state()
    kp = spec.kp[j] * spec.standing_gains_scale
    assert float(s.joint_pos[1, j] - s.joint_pos[0, j]) == pytest.approx(4.0 / kp, rel=0.03)
    # applied_torque is the total joint torque: actuator force plus the bias.
    total = reference.datas[1].actuator_force[reference.lay.actuator[j]] + 4.0
    assert float(s.applied_torque[1, j]) == pytest.approx(total, abs=1e-4)


def test_total_torque_is_clipped_to_the_effort_limit(robot) -> None:
    """The elbow is pressed on its limit so the PD torque saturates at +25 N·m. With a
    ±2.5 N·m bias the total stays at the limit: the motion equals the unbiased one, while
    adding the bias on top of the saturated actuator would not."""
    spec, _ = robot
    j = spec.joint_names.index(ELBOW)
    effort = float(spec.effort_limit[j])
    backend = _make(robot, 2)
    target = _press_elbow_on_limit(spec, backend)
    bias = torch.zeros(2, spec.num_joints)
    bias[:, j] = torch.tensor([0.1 * effort, -0.1 * effort])
    backend.set_joint_torque_bias(bias)
    unbiased = _Reference(robot, backend, torch.zeros(2, spec.num_joints))
    on_top = _Reference(robot, backend, bias)  # naive: bias added after the clip
    for _ in range(10):
        backend.step(target, 4)
        forces = unbiased.step(target)
        on_top.step(target)
        # The premise: the PD demand exceeds effort + |bias| at every physics step.
        assert all(f[j] == effort for f in forces)
        np.testing.assert_allclose(backend.state().joint_pos, unbiased.joint_pos(), atol=1e-6)
        torch.testing.assert_close(
            backend.state().applied_torque[:, j], torch.full((2,), effort), atol=1e-5, rtol=0
        )
    assert np.abs(on_top.joint_pos()[:, j] - unbiased.joint_pos()[:, j]).max() > 1e-4


def test_reset_clears_bias_of_reset_worlds_only(robot) -> None:
    spec, _ = robot
    backend, plain = _make(robot, 2), _make(robot, 2)
    bias = torch.zeros(2, spec.num_joints)
    bias[:, spec.joint_names.index(ELBOW)] = 4.0
    backend.set_joint_torque_bias(bias)
    backend.step(_targets(spec, 2), 4)
    start = default_reset_state(spec, 1, torch.device("cpu"))
    backend.reset(torch.tensor([0]), **start)
    plain.reset(torch.tensor([0]), **start)
    for _ in range(10):
        backend.step(_targets(spec, 2), 4)
        plain.step(_targets(spec, 2), 4)
    a, b = backend.state(), plain.state()
    assert torch.equal(a.joint_pos[0], b.joint_pos[0])
    assert torch.equal(a.applied_torque[0], b.applied_torque[0])
    assert not torch.allclose(a.joint_pos[1], b.joint_pos[1], atol=1e-4)


def test_bias_rejects_bad_shape_and_values(robot) -> None:
    spec, _ = robot
    backend = _make(robot, 2)
    with pytest.raises(ConfigError, match="joint torque bias must have shape"):
        backend.set_joint_torque_bias(torch.zeros(2, spec.num_joints - 1))
    bad = torch.zeros(2, spec.num_joints)
    bad[0, 0] = float("nan")
    with pytest.raises(ConfigError, match="joint torque bias must be finite"):
        backend.set_joint_torque_bias(bad)


# ---------------------------------------------------------------------------- MuJoCo Warp


@pytest.fixture(scope="module")
def warp_backend(robot) -> SimBackend:
    pytest.importorskip("mujoco_warp")
    return _make(robot, 2, "mujoco_warp", device="cpu")


@pytest.mark.gpu
def test_warp_bias_matches_plain_mujoco(robot, warp_backend) -> None:
    """Same experiment as the C test; tolerances of the Warp/C parity test."""
    spec, _ = robot
    warp_backend.reset(torch.arange(2), **default_reset_state(spec, 2, torch.device("cpu")))
    j = spec.joint_names.index(ELBOW)
    bias = torch.zeros(2, spec.num_joints)
    bias[1, j] = 4.0
    warp_backend.set_joint_torque_bias(bias)
    reference = _Reference(robot, warp_backend, bias)
    target = _targets(spec, 2)
    for _ in range(25):
        warp_backend.step(target, 4)
        reference.step(target)
        np.testing.assert_allclose(warp_backend.state().joint_pos, reference.joint_pos(), atol=1e-3)
    s = warp_backend.state()
    kp = spec.kp[j] * spec.standing_gains_scale
    assert float(s.joint_pos[1, j] - s.joint_pos[0, j]) == pytest.approx(4.0 / kp, rel=0.03)
    total = reference.datas[1].actuator_force[reference.lay.actuator[j]] + 4.0
    assert float(s.applied_torque[1, j]) == pytest.approx(total, abs=0.5)


@pytest.mark.gpu
def test_warp_clip_and_reset(robot, warp_backend) -> None:
    spec, _ = robot
    target = _press_elbow_on_limit(spec, warp_backend)
    j = spec.joint_names.index(ELBOW)
    effort = float(spec.effort_limit[j])
    bias = torch.zeros(2, spec.num_joints)
    bias[:, j] = torch.tensor([0.1 * effort, -0.1 * effort])
    warp_backend.set_joint_torque_bias(bias)
    unbiased = _Reference(robot, warp_backend, torch.zeros(2, spec.num_joints))
    for _ in range(10):
        warp_backend.step(target, 4)
        unbiased.step(target)
    np.testing.assert_allclose(warp_backend.state().joint_pos, unbiased.joint_pos(), atol=1e-3)
    torch.testing.assert_close(
        warp_backend.state().applied_torque[:, j], torch.full((2,), effort), atol=1e-3, rtol=0
    )
    # Reset clears world 0's bias: its qfrc_applied and force range are nominal again.
    warp_backend.reset(torch.tensor([0]), **default_reset_state(spec, 1, torch.device("cpu")))
    qfrc = warp_backend._qfrc_applied  # type: ignore[attr-defined]
    force_range = warp_backend._model_views["actuator_forcerange"]  # type: ignore[attr-defined]
    dof = int(warp_backend.layout.joint_dof[j])  # type: ignore[attr-defined]
    act = int(warp_backend.layout.actuator[j])  # type: ignore[attr-defined]
    assert float(qfrc[0, dof]) == 0.0 and float(qfrc[1, dof]) == pytest.approx(-0.1 * effort)
    assert force_range[0, act].tolist() == [-effort, effort]
    assert force_range[1, act].tolist() == pytest.approx([-0.9 * effort, 1.1 * effort])
    warp_backend.reset(torch.arange(2), **default_reset_state(spec, 2, torch.device("cpu")))
