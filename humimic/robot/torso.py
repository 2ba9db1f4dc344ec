"""The G1's torso orientation from its pelvis and waist joints, the anchor of heading terms.

The waist chain of the G1 MJCF (``robots/g1/g1.xml``): pelvis -> waist_yaw_link (z) ->
waist_roll_link (x) -> torso_link (y), with no fixed rotation between the links, so
``q_torso = q_pelvis ⊗ R_z(yaw) ⊗ R_x(roll) ⊗ R_y(pitch)``. A variant without some of the
joints (the 23-DoF consumer G1 has the yaw only) has them welded at zero.
"""

from __future__ import annotations

from functools import lru_cache

from humimic.errors import ConfigError

Axis = tuple[float, float, float]
"""A unit joint axis in its parent link's frame."""

WAIST_CHAIN: tuple[tuple[str, Axis], ...] = (
    ("waist_yaw_joint", (0.0, 0.0, 1.0)),
    ("waist_roll_joint", (1.0, 0.0, 0.0)),
    ("waist_pitch_joint", (0.0, 1.0, 0.0)),
)
"""(joint name, axis in its parent link) from the pelvis to the torso, in chain order."""


@lru_cache(maxsize=8)
def waist_columns(joint_names: tuple[str, ...]) -> tuple[tuple[int, Axis], ...]:
    """(column in ``joint_names``, axis) of each waist joint the robot has, pelvis first;
    cached, since the env's term asks every step.

    Raises:
        ConfigError: The robot has none of the waist joints.
    """
    chain = tuple((joint_names.index(n), axis) for n, axis in WAIST_CHAIN if n in joint_names)
    if not chain:
        raise ConfigError(
            f"torso heading: the robot has none of the waist joints {[n for n, _ in WAIST_CHAIN]}"
        )
    return chain
