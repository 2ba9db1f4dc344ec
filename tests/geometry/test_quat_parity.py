"""The numpy and torch quaternion helpers agree on random unit quaternions.

Kinematics, rewards and metrics use :mod:`humimic.geometry.quat_torch`; the motion front end
and the robot-side deploy code use :mod:`humimic.geometry.quat_np`. A drift between the two
would make training and deployment disagree about the same pose, so every function that
exists in both is checked here against the other, in float64 (and rotate, the hot one, in float32).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pytest
from numpy.typing import NDArray

from humimic.geometry import quat_np

if TYPE_CHECKING:
    from torch import Tensor

torch = pytest.importorskip("torch")
from humimic.geometry import quat_torch  # noqa: E402  (needs torch, skipped above)

N = 512
ATOL = 1e-6

Array = NDArray[np.float64]


def _t(x: Array) -> Tensor:
    return torch.from_numpy(np.ascontiguousarray(x))


def _n(x: Tensor) -> Array:
    return x.detach().cpu().numpy().astype(np.float64)


def _random_quats(rng: np.random.Generator, n: int = N) -> Array:
    """Unit quaternions ``(n, 4)``, both signs of ``w``, plus identity and half turns."""
    q = rng.normal(size=(n, 4))
    q /= np.linalg.norm(q, axis=-1, keepdims=True)
    special = np.array(
        [
            [1.0, 0.0, 0.0, 0.0],
            [-1.0, 0.0, 0.0, 0.0],
            [0.0, 1.0, 0.0, 0.0],  # half turn about x
            [0.0, 0.0, 0.0, 1.0],  # half turn about z
            [np.cos(1e-9), np.sin(1e-9), 0.0, 0.0],  # almost identity
        ]
    )
    return np.concatenate([q, special], axis=0)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


def test_normalize_agrees_up_to_sign(rng: np.random.Generator) -> None:
    # numpy also picks w >= 0; torch keeps the sign, so compare after the same choice.
    q = rng.normal(size=(N, 4)) * rng.uniform(0.1, 10.0, size=(N, 1))
    got_np = quat_np.normalize(q)
    got_t = _n(quat_torch.normalize(_t(q)))
    got_t = np.where(got_t[..., :1] < 0.0, -got_t, got_t)
    np.testing.assert_allclose(got_np, got_t, atol=ATOL)
    np.testing.assert_allclose(np.linalg.norm(got_np, axis=-1), 1.0, atol=ATOL)


def test_multiply(rng: np.random.Generator) -> None:
    a, b = _random_quats(rng), _random_quats(rng)
    np.testing.assert_allclose(
        quat_np.multiply(a, b), _n(quat_torch.multiply(_t(a), _t(b))), atol=ATOL
    )


def test_multiply_broadcasts_the_same(rng: np.random.Generator) -> None:
    a = _random_quats(rng, 8)[:, None, :]  # (8+5, 1, 4)
    b = _random_quats(rng, 3)[None, :, :]  # (1, 3+5, 4)
    got_np = quat_np.multiply(a, b)
    assert got_np.shape == (13, 8, 4)
    np.testing.assert_allclose(got_np, _n(quat_torch.multiply(_t(a), _t(b))), atol=ATOL)


def test_conjugate(rng: np.random.Generator) -> None:
    q = _random_quats(rng)
    np.testing.assert_allclose(quat_np.conjugate(q), _n(quat_torch.conjugate(_t(q))), atol=ATOL)


def test_rotate(rng: np.random.Generator) -> None:
    q = _random_quats(rng)
    v = rng.normal(size=(len(q), 3))
    np.testing.assert_allclose(quat_np.rotate(q, v), _n(quat_torch.rotate(_t(q), _t(v))), atol=ATOL)


def test_rotate_float32(rng: np.random.Generator) -> None:
    # Policies run in float32: the torch path must stay close to the float64 reference.
    q = _random_quats(rng)
    v = rng.normal(size=(len(q), 3))
    got = quat_torch.rotate(_t(q).float(), _t(v).float())
    np.testing.assert_allclose(quat_np.rotate(q, v), _n(got), atol=1e-5)


def test_from_axis_angle(rng: np.random.Generator) -> None:
    axis = rng.normal(size=(N, 3))
    axis /= np.linalg.norm(axis, axis=-1, keepdims=True)
    angle = rng.uniform(-2.0 * np.pi, 2.0 * np.pi, size=N)
    np.testing.assert_allclose(
        quat_np.from_axis_angle(axis, angle),
        _n(quat_torch.from_axis_angle(_t(axis), _t(angle))),
        atol=ATOL,
    )


def test_to_matrix(rng: np.random.Generator) -> None:
    q = _random_quats(rng)
    np.testing.assert_allclose(quat_np.to_matrix(q), _n(quat_torch.to_matrix(_t(q))), atol=ATOL)


def test_to_rotvec(rng: np.random.Generator) -> None:
    # Leave out the exact half turns: there the axis sign is a free choice.
    q = _random_quats(rng)[:-3]
    np.testing.assert_allclose(quat_np.to_rotvec(q), _n(quat_torch.to_rotvec(_t(q))), atol=ATOL)


def test_angle_between(rng: np.random.Generator) -> None:
    a, b = _random_quats(rng), _random_quats(rng)
    np.testing.assert_allclose(
        quat_np.angle_between(a, b), _n(quat_torch.angle_between(_t(a), _t(b))), atol=ATOL
    )


def test_slerp(rng: np.random.Generator) -> None:
    a, b = _random_quats(rng), _random_quats(rng)
    t = rng.uniform(0.0, 1.0, size=len(a))
    got_np = quat_np.slerp(a, b, t)
    got_t = _n(quat_torch.slerp(_t(a), _t(b), _t(t[:, None])))
    # numpy returns the w >= 0 representative; torch keeps the sign it computed.
    got_t = np.where(np.sum(got_t * got_np, axis=-1, keepdims=True) < 0.0, -got_t, got_t)
    np.testing.assert_allclose(got_np, got_t, atol=ATOL)


def test_yaw_matches_yaw_quat(rng: np.random.Generator) -> None:
    # numpy gives the heading angle, torch the heading-only quaternion: the same rotation.
    q = _random_quats(rng)
    z = np.broadcast_to([0.0, 0.0, 1.0], (len(q), 3))
    from_angle = quat_np.from_axis_angle(z, quat_np.yaw(q))
    got_t = _n(quat_torch.yaw_quat(_t(q)))
    assert np.all(quat_np.angle_between(from_angle, got_t) < 1e-6)
