"""The human-to-robot key-point map (``robots/<robot>/retarget.yaml``), typed and checked."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from humimic.errors import ConfigError
from humimic.motion.human import CANONICAL_JOINTS
from humimic.paths import ROBOTS_DIR


@dataclass
class KeyPoint:
    """One matched pair: a canonical human joint and the robot body that plays its role."""

    human: str
    robot: str
    weight: float


@dataclass
class RetargetMap:
    """Key points plus the robot bodies that carry the feet and the torso."""

    key_points: list[KeyPoint]
    feet: dict[str, str]
    torso: str

    @property
    def human_joints(self) -> list[str]:
        """Canonical human joints used, in key-point order."""
        return [kp.human for kp in self.key_points]

    @property
    def robot_bodies(self) -> list[str]:
        """Robot bodies used, in key-point order."""
        return [kp.robot for kp in self.key_points]


def load_retarget_map(robot: str = "g1", path: Path | None = None) -> RetargetMap:
    """Read and check the key-point map of a robot family.

    Raises:
        ConfigError: missing file, unknown canonical joint, bad weight or missing feet.
    """
    path = path or ROBOTS_DIR / robot / "retarget.yaml"
    if not path.is_file():
        raise ConfigError(f"{path}: retarget map not found")
    raw = yaml.safe_load(path.read_text()) or {}
    try:
        points = [
            KeyPoint(str(p["human"]), str(p["robot"]), float(p["weight"]))
            for p in raw["key_points"]
        ]
        feet = {"left": str(raw["feet"]["left"]), "right": str(raw["feet"]["right"])}
        torso = str(raw["torso"])
    except (KeyError, TypeError, ValueError) as err:
        raise ConfigError(f"{path}: malformed retarget map ({err!r})") from err
    for point in points:
        if point.human not in CANONICAL_JOINTS:
            raise ConfigError(f"{path}: '{point.human}' is not a canonical human joint")
        if point.weight < 0:
            raise ConfigError(f"{path}: weight of '{point.human}' must be >= 0")
    return RetargetMap(points, feet, torso)
