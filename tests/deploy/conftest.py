"""Fixtures for DDS tests: a fresh random domain per test so parallel runs never meet."""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

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


@pytest.fixture(scope="session")
def gated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the exported test controller with a real, passed sim2sim verdict."""
    from humimic.deploy.sim2sim import run_sim2sim
    from tests.export.helpers import exported

    folder = tmp_path_factory.mktemp("gated") / "controller"
    shutil.copytree(exported(), folder)
    assert run_sim2sim(folder).gate.passed
    return folder
