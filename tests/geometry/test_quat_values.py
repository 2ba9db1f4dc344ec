"""Hand-computed quaternion values, the same for the numpy and the torch helpers.

Pins the conventions in docs/conventions.md: ``w`` first, Hamilton product ``a ⊗ b`` applies
``b`` first, a positive angle turns counter-clockwise about its axis (right-hand rule).
"""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from humimic.geometry import quat_np

S = math.sqrt(0.5)
Z90 = [S, 0.0, 0.0, S]  # +90 deg about z, w first
X90 = [S, S, 0.0, 0.0]  # +90 deg about x
IDENTITY = [1.0, 0.0, 0.0, 0.0]
X, Y, Z = [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]
MINUS_X = [-1.0, 0.0, 0.0]


def _torch_impl() -> SimpleNamespace:
    """The torch helpers behind a numpy-in, numpy-out face, so one test body serves both."""
    torch = pytest.importorskip("torch")
    from humimic.geometry import quat_torch

    def wrap(fn: Any) -> Any:
        def call(*args: Any) -> np.ndarray:
            tensors = [torch.as_tensor(np.asarray(a, dtype=np.float64)) for a in args]
            return fn(*tensors).numpy()

        return call

    names = ["multiply", "conjugate", "rotate", "from_axis_angle", "to_matrix", "to_rotvec"]
    return SimpleNamespace(**{name: wrap(getattr(quat_torch, name)) for name in names})


@pytest.fixture(params=["numpy", "torch"])
def quat(request: pytest.FixtureRequest) -> Any:
    return quat_np if request.param == "numpy" else _torch_impl()


def test_z90_is_w_first(quat: Any) -> None:
    np.testing.assert_allclose(quat.from_axis_angle(Z, math.pi / 2), Z90, atol=1e-12)


def test_z90_turns_x_to_y_and_y_to_minus_x(quat: Any) -> None:
    np.testing.assert_allclose(quat.rotate(Z90, X), Y, atol=1e-12)
    np.testing.assert_allclose(quat.rotate(Z90, Y), MINUS_X, atol=1e-12)
    np.testing.assert_allclose(quat.rotate(Z90, Z), Z, atol=1e-12)


def test_identity_leaves_vectors(quat: Any) -> None:
    v = [0.3, -1.2, 2.5]
    np.testing.assert_allclose(quat.rotate(IDENTITY, v), v, atol=1e-12)


def test_product_applies_right_factor_first(quat: Any) -> None:
    # x90 takes y to z, then z90 leaves z: (z90 ⊗ x90) y = z. The other order: z90 takes y
    # to -x, which x90 leaves, so (x90 ⊗ z90) y = -x.
    np.testing.assert_allclose(quat.rotate(quat.multiply(Z90, X90), Y), Z, atol=1e-12)
    np.testing.assert_allclose(quat.rotate(quat.multiply(X90, Z90), Y), MINUS_X, atol=1e-12)


def test_conjugate_undoes_the_rotation(quat: Any) -> None:
    np.testing.assert_allclose(quat.conjugate(Z90), [S, 0.0, 0.0, -S], atol=1e-12)
    np.testing.assert_allclose(quat.multiply(quat.conjugate(Z90), Z90), IDENTITY, atol=1e-12)
    np.testing.assert_allclose(quat.rotate(quat.conjugate(Z90), Y), X, atol=1e-12)


def test_z90_matrix(quat: Any) -> None:
    expected = [[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
    np.testing.assert_allclose(quat.to_matrix(Z90), expected, atol=1e-12)


def test_z90_rotvec(quat: Any) -> None:
    np.testing.assert_allclose(quat.to_rotvec(Z90), [0.0, 0.0, math.pi / 2], atol=1e-12)
    # -q is the same rotation: the axis-angle vector does not change.
    np.testing.assert_allclose(quat.to_rotvec([-S, 0.0, 0.0, -S]), [0, 0, math.pi / 2], atol=1e-12)


def test_yaw_of_heading_and_pitch() -> None:
    pitch = quat_np.from_axis_angle(Y, math.radians(30.0))
    assert quat_np.yaw(Z90) == pytest.approx(math.pi / 2)
    assert quat_np.yaw(pitch) == pytest.approx(0.0)
    assert quat_np.yaw(quat_np.multiply(Z90, pitch)) == pytest.approx(math.pi / 2)


def test_yaw_quat_drops_pitch() -> None:
    torch = pytest.importorskip("torch")
    from humimic.geometry import quat_torch

    pitch = quat_np.from_axis_angle(Y, math.radians(30.0))
    q = torch.as_tensor(quat_np.multiply(Z90, pitch))
    np.testing.assert_allclose(quat_torch.yaw_quat(q).numpy(), Z90, atol=1e-12)


def test_slerp_halfway_is_half_the_angle() -> None:
    z45 = quat_np.from_axis_angle(Z, math.pi / 4)
    np.testing.assert_allclose(quat_np.slerp(IDENTITY, Z90, 0.5), z45, atol=1e-12)
