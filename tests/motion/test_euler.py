"""Euler-angle conversion (``quat_np.from_euler``) against elementary rotation matrices and
scipy."""

from __future__ import annotations

import numpy as np
import pytest

from humimic.geometry import quat_np


def elementary(axis: str, angle: float) -> np.ndarray:
    """Rotation matrix about one coordinate axis, written out by hand."""
    c, s = np.cos(angle), np.sin(angle)
    return {
        "X": np.array([[1, 0, 0], [0, c, -s], [0, s, c]]),
        "Y": np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]]),
        "Z": np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]]),
    }[axis]


@pytest.mark.parametrize("order", ["XYZ", "XZY", "YXZ", "YZX", "ZXY", "ZYX"])
def test_intrinsic_angles_compose_first_to_last(order: str) -> None:
    rng = np.random.default_rng(len(order) + ord(order[0]))
    angles = rng.uniform(-3.5, 3.5, size=(5, 2, 3))
    quats = quat_np.from_euler(angles, order)
    assert quats.shape == (5, 2, 4)
    for index in np.ndindex(5, 2):
        a = angles[index]
        expected = elementary(order[0], a[0]) @ elementary(order[1], a[1])
        expected = expected @ elementary(order[2], a[2])
        np.testing.assert_allclose(quat_np.to_matrix(quats[index]), expected, atol=1e-12)
    # Same numbers, sign included, as scipy's conversion.
    from scipy.spatial.transform import Rotation

    flat = Rotation.from_euler(order, angles.reshape(-1, 3)).as_quat(scalar_first=True)
    np.testing.assert_allclose(quats, flat.reshape(5, 2, 4), atol=1e-12)


def test_lower_case_orders_are_extrinsic() -> None:
    """Extrinsic x, y, z equals intrinsic Z, Y, X with the angles reversed."""
    angles = np.array([[0.3, -0.2, 1.1]])
    np.testing.assert_allclose(
        quat_np.from_euler(angles, "xyz"), quat_np.from_euler(angles[:, ::-1], "ZYX"), atol=1e-12
    )
