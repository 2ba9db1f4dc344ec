"""The robot side runs without torch: deploy, simrobot and sim2sim on numpy, onnxruntime,
cyclonedds and mujoco alone (``tools/install.sh --robot``)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

NO_TRAINING_STACK = textwrap.dedent(
    """
    import contextlib, io, sys

    BLOCKED = {"torch", "rsl_rl", "tensordict", "tensorboard", "smplx", "trimesh", "hydra",
               "omegaconf", "onnx", "mink", "daqp", "tqdm", "mujoco_warp", "warp", "ray"}

    class Absent:
        '''Meta-path finder that makes the training stack look uninstalled.'''

        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, Absent())
    for name in list(sys.modules):  # nothing of it preloaded (e.g. by a .pth file)
        if name.split(".")[0] in BLOCKED:
            del sys.modules[name]

    import humimic.deploy.policy, humimic.deploy.runtime, humimic.deploy.sim2sim
    import humimic.deploy.simrobot, humimic.export.manifest
    from humimic.cli.main import main

    for command in ("deploy", "simrobot", "sim2sim"):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            try:
                main([command, "--help"])
            except SystemExit as done:
                assert done.code in (0, None), (command, done.code)
        assert f"{command}" in out.getvalue() and len(out.getvalue().splitlines()) > 3, command

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["export", "no_such_run"])
    assert code == 2 and "needs torch" in err.getvalue(), (code, err.getvalue())
    assert len(err.getvalue().strip().splitlines()) == 1, err.getvalue()

    loaded = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
    assert not loaded, loaded
    print("ok")
    """
)


def test_robot_side_imports_and_helps_without_torch() -> None:
    """The deploy runtime, sim2sim, simrobot and their CLI load with torch uninstallable;
    a training command then says in one line what is missing (exit code 2)."""
    result = subprocess.run(
        [sys.executable, "-c", NO_TRAINING_STACK],
        capture_output=True, text=True, cwd=REPO, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("ok")


def test_naming_one_subcommand_imports_only_its_module() -> None:
    """``humimic deploy ...`` registers deploy alone: the other CLI modules stay unloaded."""
    code = (
        "import sys; from humimic.cli.main import build_parser; build_parser('deploy'); "
        "print(sorted(m for m in sys.modules if m.startswith('humimic.cli.')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['humimic.cli.deploy', 'humimic.cli.main']"


def test_python_dash_m_humimic_is_the_console_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "humimic", "--version"],
        capture_output=True, text=True, cwd=REPO, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith("humimic ")


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_robot_install_in_an_isolated_venv() -> None:
    """tools/check_robot_install.sh end to end: a fresh venv from PyPI (needs the network),
    no torch in it, sim2sim and a loopback deploy with the venv's humimic."""
    from tests.export.helpers import exported

    result = subprocess.run(
        ["bash", str(REPO / "tools/check_robot_install.sh"), str(exported())],
        capture_output=True, text=True, cwd=REPO, timeout=1700,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "robot-side install OK" in result.stdout
