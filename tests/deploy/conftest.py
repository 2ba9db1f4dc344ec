"""Fixtures for DDS tests: a fresh random domain per test so parallel runs never meet."""

from __future__ import annotations

import secrets

import pytest


@pytest.fixture
def domain_id() -> int:
    """A random DDS domain id in 20..230 (the default port mapping allows up to 232).

    Drawn from the OS entropy pool: tests/conftest.py reseeds `random` for every test.
    """
    return 20 + secrets.randbelow(211)
