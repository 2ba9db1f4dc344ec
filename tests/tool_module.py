"""Import a script under tools/ (not a package) as a module, for its tests."""

from __future__ import annotations

import functools
import importlib.util
from types import ModuleType

from humimic.paths import REPO_ROOT


@functools.cache
def load_tool(name: str) -> ModuleType:
    """``tools/<name>.py`` imported once per test session."""
    spec = importlib.util.spec_from_file_location(name, REPO_ROOT / "tools" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
