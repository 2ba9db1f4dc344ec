"""humimic: human motion to a Unitree G1, in simulation and on the robot.

Importing the package is cheap: no torch, no MuJoCo. Stages live in subpackages.
"""

__version__ = "0.1.0"
