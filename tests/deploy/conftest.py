"""Fixtures for DDS tests: a fresh random domain per test so parallel runs never meet."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from humimic.deploy.simrobot import SimulatedG1


@pytest.fixture
def domain_id() -> int:
    """A random DDS domain id in 20..230 (the default port mapping allows up to 232).

    Drawn from the OS entropy pool: tests/conftest.py reseeds `random` for every test.
    """
    return 20 + secrets.randbelow(211)


@pytest.fixture
def sim(domain_id: int) -> Iterator[SimulatedG1]:
    """The simulated G1 on its gantry, stepping in a background thread of this process."""
    robot = SimulatedG1("g1_23dof_lock_wrist", "lo", domain_id, gantry=True)
    robot.start()
    yield robot
    robot.stop()
