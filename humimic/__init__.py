"""humimic: human motion to a Unitree G1, in simulation and on the robot.

Importing the package is cheap: no torch, no MuJoCo. Stages live in subpackages.
"""

import os as _os

__version__ = "0.1.0"

# MuJoCo fixes its OpenGL backend when it is first imported: choose headless EGL here,
# before any humimic module imports mujoco, unless a display or a user choice exists.
if "MUJOCO_GL" not in _os.environ and not _os.environ.get("DISPLAY"):
    _os.environ["MUJOCO_GL"] = "egl"
