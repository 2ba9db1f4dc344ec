"""Robot variant specs: the per-variant YAML in ``robots/<robot>/<variant>.yaml``.

A spec names the actuated joints in policy order (Unitree motor order restricted to the
variant), their gains, limits, armature and default pose, the joints the variant removes
from the robot's MJCF, and named body groups used by rewards and retargeting. The YAML is
checked on load for shape and value ranges; agreement with the MJCF is checked by
:func:`humimic.robot.model.check_model_matches_spec` when a model is built.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from humimic.errors import ConfigError, InputFileError
from humimic.paths import ROBOTS_DIR

NUM_MOTOR_SLOTS = 29
"""Length of the Unitree G1 SDK motor array that ``motor_index`` refers to."""

REQUIRED_BODY_GROUPS = (
    "feet",
    "hands",
    "head",
    "upper_body",
    "lower_body",
    "tracked",
    "key_points",
)
"""Body groups every spec must define (extra groups are allowed)."""

_JOINT_KEYS = (
    "name",
    "motor_index",
    "kp",
    "kd",
    "effort_limit",
    "velocity_limit",
    "armature",
    "default_pos",
)
_LOCKED_KEYS = ("name", "motor_index", "kp", "kd", "pos")
_TOP_KEYS = {
    "robot",
    "variant",
    "mjcf",
    "joints",
    "removed_joints",
    "locked_motors",
    "default_root_height",
    "body_groups",
    "imu_site",
    "foot_geoms",
    "standing_gains_scale",
}


@dataclass(frozen=True)
class LockedMotor:
    """A motor whose joint the variant removes but the hardware still has (held in place).

    Attributes:
        name: Joint name of the motor.
        motor_index: Slot in the 29-slot SDK motor array.
        kp: Holding stiffness, N·m/rad.
        kd: Holding damping, N·m·s/rad.
        pos: Holding position, rad.
    """

    name: str
    motor_index: int
    kp: float
    kd: float
    pos: float


@dataclass
class RobotSpec:
    """One robot variant: actuated joints in policy order, gains, limits and body groups.

    All per-joint arrays have shape (J,) and follow ``joint_names``, which is Unitree motor
    order restricted to the variant's joints.
    """

    robot: str
    variant: str
    mjcf_path: Path
    """Absolute path of the robot MJCF."""
    joint_names: list[str]
    motor_index: np.ndarray
    """Shape (J,) int, slot of each joint in the 29-slot motor array."""
    kp: np.ndarray
    """Shape (J,), N·m/rad."""
    kd: np.ndarray
    """Shape (J,), N·m·s/rad."""
    effort_limit: np.ndarray
    """Shape (J,), N·m."""
    velocity_limit: np.ndarray
    """Shape (J,), rad/s."""
    armature: np.ndarray
    """Shape (J,), reflected rotor inertia, kg·m²."""
    default_joint_pos: np.ndarray
    """Shape (J,), rad."""
    default_root_height: float
    """Pelvis height at reset, m."""
    removed_joints: list[str]
    """MJCF joints this variant deletes (their bodies are welded to the parent)."""
    locked_motors: list[LockedMotor]
    body_groups: dict[str, list[str]]
    imu_site: str
    foot_geoms: dict[str, list[str]]
    """Collision geom names of each sole, keys ``"left"`` and ``"right"``."""
    standing_gains_scale: float = 1.0
    """Factor on kp and kd for holding the default pose without a policy."""

    @property
    def num_joints(self) -> int:
        """Number J of actuated joints."""
        return len(self.joint_names)

    def joint_index(self, name: str) -> int:
        """Position of joint ``name`` in the policy order; ConfigError if absent."""
        try:
            return self.joint_names.index(name)
        except ValueError:
            raise ConfigError(
                f"robot variant {self.variant}: no actuated joint named {name!r}"
            ) from None

    def joint_indices(self, names: Sequence[str]) -> np.ndarray:
        """Positions of ``names`` in the policy order. Returns shape (len(names),) int."""
        return np.array([self.joint_index(n) for n in names], dtype=np.int64)


def available_variants() -> list[str]:
    """Names of all robot variants found as ``robots/*/*.yaml`` spec files, sorted."""
    return sorted(path.stem for path in _variant_files())


def load_robot_spec(variant: str) -> RobotSpec:
    """Load the spec of a named variant, e.g. ``"g1_23dof_lock_wrist"``.

    Raises:
        ConfigError: The variant is unknown (the message lists the known ones) or its
            YAML is invalid.
    """
    matches = [path for path in _variant_files() if path.stem == variant]
    if not matches:
        known = ", ".join(available_variants()) or "none"
        raise ConfigError(f"unknown robot variant {variant!r}; available: {known}")
    if len(matches) > 1:
        raise ConfigError(f"robot variant {variant!r} is defined twice: {matches}")
    spec = load_robot_spec_file(matches[0])
    if spec.variant != variant:
        raise ConfigError(f"{matches[0]}: variant is {spec.variant!r}, expected {variant!r}")
    return spec


def load_robot_spec_file(path: Path | str) -> RobotSpec:
    """Load and validate a spec YAML; a relative ``mjcf`` is resolved against its folder.

    Raises:
        InputFileError: The file is missing or is not YAML.
        ConfigError: A key is missing, unknown, of the wrong type or out of range.
    """
    path = Path(path)
    raw = _read_yaml(path)
    try:
        return _parse_spec(raw, path)
    except (KeyError, TypeError, ValueError) as err:
        raise ConfigError(f"{path}: {err}") from None


def _variant_files() -> list[Path]:
    """Spec files: YAMLs one level under a robot folder that declare joints and a variant."""
    files = []
    for path in sorted(ROBOTS_DIR.glob("*/*.yaml")):
        try:
            raw = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError):
            continue
        if isinstance(raw, dict) and "variant" in raw and "joints" in raw:
            files.append(path)
    return files


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise InputFileError(path, "robot spec file not found")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise InputFileError(path, f"not valid YAML ({err})".replace("\n", " ")) from None
    if not isinstance(raw, dict):
        raise InputFileError(path, "robot spec must be a YAML mapping")
    return raw


def _parse_spec(raw: dict[str, Any], path: Path) -> RobotSpec:
    unknown = sorted(set(raw) - _TOP_KEYS)
    if unknown:
        raise ConfigError(f"{path}: unknown keys {unknown}")
    mjcf_path = (path.parent / _string(raw, "mjcf", path)).resolve()
    if not mjcf_path.is_file():
        raise ConfigError(f"{path}: mjcf file {mjcf_path} not found")
    joints = _parse_joints(raw.get("joints"), path)
    removed = _string_list(raw.get("removed_joints", []), "removed_joints", path)
    spec = RobotSpec(
        robot=_string(raw, "robot", path),
        variant=_string(raw, "variant", path),
        mjcf_path=mjcf_path,
        joint_names=[j["name"] for j in joints],
        motor_index=np.array([j["motor_index"] for j in joints], dtype=np.int64),
        kp=_column(joints, "kp"),
        kd=_column(joints, "kd"),
        effort_limit=_column(joints, "effort_limit"),
        velocity_limit=_column(joints, "velocity_limit"),
        armature=_column(joints, "armature"),
        default_joint_pos=_column(joints, "default_pos"),
        default_root_height=_positive(raw.get("default_root_height"), "default_root_height", path),
        removed_joints=removed,
        locked_motors=_parse_locked(raw.get("locked_motors", []), path),
        body_groups=_parse_body_groups(raw.get("body_groups"), path),
        imu_site=_string(raw, "imu_site", path),
        foot_geoms=_parse_foot_geoms(raw.get("foot_geoms"), path),
        standing_gains_scale=_positive(
            raw.get("standing_gains_scale", 1.0), "standing_gains_scale", path
        ),
    )
    _check_cross_references(spec, path)
    return spec


def _parse_joints(raw: object, path: Path) -> list[dict[str, Any]]:
    if not isinstance(raw, list) or not raw:
        raise ConfigError(f"{path}: 'joints' must be a non-empty list")
    joints = []
    for i, entry in enumerate(raw):
        where = f"joints[{i}]"
        _check_keys(entry, _JOINT_KEYS, where, path)
        joint: dict[str, Any] = {"name": _string(entry, "name", path, where)}
        joint["motor_index"] = _motor_index(entry["motor_index"], where, path)
        for key in ("kp", "effort_limit", "velocity_limit"):
            joint[key] = _positive(entry[key], f"{where}.{key}", path)
        for key in ("kd", "armature"):
            joint[key] = _non_negative(entry[key], f"{where}.{key}", path)
        joint["default_pos"] = _finite(entry["default_pos"], f"{where}.default_pos", path)
        joints.append(joint)
    _check_unique([j["name"] for j in joints], "joint names", path)
    _check_unique([j["motor_index"] for j in joints], "joint motor_index values", path)
    return joints


def _parse_locked(raw: object, path: Path) -> list[LockedMotor]:
    if not isinstance(raw, list):
        raise ConfigError(f"{path}: 'locked_motors' must be a list")
    motors = []
    for i, entry in enumerate(raw):
        where = f"locked_motors[{i}]"
        _check_keys(entry, _LOCKED_KEYS, where, path)
        motors.append(
            LockedMotor(
                name=_string(entry, "name", path, where),
                motor_index=_motor_index(entry["motor_index"], where, path),
                kp=_non_negative(entry["kp"], f"{where}.kp", path),
                kd=_non_negative(entry["kd"], f"{where}.kd", path),
                pos=_finite(entry["pos"], f"{where}.pos", path),
            )
        )
    return motors


def _parse_body_groups(raw: object, path: Path) -> dict[str, list[str]]:
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: 'body_groups' must be a mapping of group name to body list")
    groups = {str(k): _string_list(v, f"body_groups.{k}", path) for k, v in raw.items()}
    missing = [g for g in REQUIRED_BODY_GROUPS if g not in groups]
    if missing:
        raise ConfigError(f"{path}: body_groups lacks {missing}")
    for name, bodies in groups.items():
        _check_unique(bodies, f"bodies in body_groups.{name}", path)
    return groups


def _parse_foot_geoms(raw: object, path: Path) -> dict[str, list[str]]:
    if not isinstance(raw, dict) or set(raw) != {"left", "right"}:
        raise ConfigError(f"{path}: 'foot_geoms' must have exactly the keys left and right")
    feet = {side: _string_list(raw[side], f"foot_geoms.{side}", path) for side in raw}
    if not feet["left"] or not feet["right"]:
        raise ConfigError(f"{path}: foot_geoms.left and foot_geoms.right must not be empty")
    return feet


def _check_cross_references(spec: RobotSpec, path: Path) -> None:
    """Removed joints, locked motors and motor slots must agree with each other."""
    _check_unique(spec.removed_joints, "removed_joints", path)
    both = sorted(set(spec.removed_joints) & set(spec.joint_names))
    if both:
        raise ConfigError(f"{path}: joints {both} are both actuated and removed")
    used_slots = set(spec.motor_index.tolist())
    for motor in spec.locked_motors:
        if motor.name not in spec.removed_joints:
            raise ConfigError(f"{path}: locked motor {motor.name!r} is not in removed_joints")
        if motor.motor_index in used_slots:
            raise ConfigError(
                f"{path}: locked motor {motor.name!r} reuses slot {motor.motor_index}"
            )
        used_slots.add(motor.motor_index)
    _check_unique([m.name for m in spec.locked_motors], "locked motor names", path)


def _check_keys(entry: object, keys: Sequence[str], where: str, path: Path) -> None:
    if not isinstance(entry, dict):
        raise ConfigError(f"{path}: {where} must be a mapping with keys {list(keys)}")
    missing = [k for k in keys if k not in entry]
    extra = sorted(set(entry) - set(keys))
    if missing or extra:
        raise ConfigError(f"{path}: {where} missing keys {missing}, unknown keys {extra}")


def _check_unique(values: Sequence[object], what: str, path: Path) -> None:
    repeated = sorted(str(v) for v, count in Counter(values).items() if count > 1)
    if repeated:
        raise ConfigError(f"{path}: repeated {what}: {repeated}")


def _string(raw: dict[str, Any], key: str, path: Path, where: str = "") -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value:
        label = f"{where}.{key}" if where else key
        raise ConfigError(f"{path}: {label!r} must be a non-empty string, got {value!r}")
    return value


def _string_list(value: object, what: str, path: Path) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{path}: {what!r} must be a list of names, got {value!r}")
    return list(value)


def _motor_index(value: object, where: str, path: Path) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ConfigError(f"{path}: {where}.motor_index must be an integer, got {value!r}")
    if not 0 <= value < NUM_MOTOR_SLOTS:
        raise ConfigError(f"{path}: {where}.motor_index {value} outside 0..{NUM_MOTOR_SLOTS - 1}")
    return value


def _finite(value: object, what: str, path: Path) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(f"{path}: {what} must be a finite number, got {value!r}")
    return float(value)


def _positive(value: object, what: str, path: Path) -> float:
    number = _finite(value, what, path)
    if number <= 0:
        raise ConfigError(f"{path}: {what} must be > 0, got {number}")
    return number


def _non_negative(value: object, what: str, path: Path) -> float:
    number = _finite(value, what, path)
    if number < 0:
        raise ConfigError(f"{path}: {what} must be >= 0, got {number}")
    return number


def _column(joints: list[dict[str, Any]], key: str) -> np.ndarray:
    return np.array([j[key] for j in joints], dtype=np.float64)
