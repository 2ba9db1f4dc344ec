"""``ControllerManifest``: everything a deployer needs besides the ONNX weights.

The manifest travels twice with an exported controller: as ``controller.json`` beside
``controller.onnx`` and as the ONNX ``metadata_props`` entry :data:`METADATA_KEY`. It is
numpy-free plain data so that deploy code reads it without torch or the training code.

Observation vector layout (one group, ``D`` = :attr:`ObservationSpec.dim`)::

    [term_1 · scale_1, ..., term_k · scale_k, hist_1, ..., hist_H]   clipped to ±clip

``hist_h`` (h = 1 the previous control step, **newest first**) holds the scaled values of
``history_terms`` in that order; history frames are zero after a reset. Noise widths are
recorded for reference only (training adds ``U(±noise)`` before scaling; deploy adds none).
"""

from __future__ import annotations

import json
import math
from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any

from humimic.errors import ConfigError

SCHEMA_VERSION = 1
"""Bump when a field changes meaning; readers refuse newer manifests."""

METADATA_KEY = "humimic_controller"
"""Key of the manifest JSON in the ONNX ``metadata_props``."""

HISTORY_ORDER = "newest_first"
QUAT_CONVENTION = "wxyz"


@dataclass(frozen=True)
class ObservationTerm:
    """One term of the observation vector.

    Attributes:
        name: Term key in the training config (e.g. ``"base_ang_vel"``).
        fn: Registered observation function that computes it.
        size: Width in the vector.
        scale: Factor applied after (training) noise.
        noise: Half-width of the uniform training noise, before scaling (information only).
        params: Keyword parameters of ``fn``.
    """

    name: str
    fn: str
    size: int
    scale: float
    noise: float = 0.0
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ObservationSpec:
    """The policy input: terms in order, then history frames (module docstring)."""

    group: str
    terms: list[ObservationTerm]
    history_length: int
    history_terms: list[str]
    clip: float
    history_order: str = HISTORY_ORDER

    @property
    def dim(self) -> int:
        """Total width ``D`` of the vector."""
        sizes = {t.name: t.size for t in self.terms}
        frame = sum(sizes[n] for n in self.history_terms)
        return sum(sizes.values()) + self.history_length * frame

    def slices(self) -> list[tuple[str, int, int, int]]:
        """``(term, start, stop, history)`` in vector order; history 0 is the current value."""
        out, start = [], 0
        sizes = {t.name: t.size for t in self.terms}
        for t in self.terms:
            out.append((t.name, start, start + t.size, 0))
            start += t.size
        for h in range(1, self.history_length + 1):
            for name in self.history_terms:
                out.append((name, start, start + sizes[name], h))
                start += sizes[name]
        return out


@dataclass(frozen=True)
class ReferenceSpec:
    """The reference clip the policy was trained on (its phase clock is ``t / duration``).

    Attributes:
        file_name: Name of the training clip file.
        sha256: SHA-256 of the training clip file.
        fps: Clip frame rate, Hz.
        frames: Number of frames ``T``.
        duration_s: ``(T - 1) / fps``; the phase is ``clamp(t / duration_s, 0, 1)``.
        arrays_file: Copy of the clip inside the controller folder (``humimic`` clip npz:
            joint, root and body trajectories), for reference-conditioned terms, the
            sim-to-sim start pose and its metrics.
        arrays_sha256: SHA-256 of ``arrays_file``.
    """

    file_name: str
    sha256: str
    fps: float
    frames: int
    duration_s: float
    arrays_file: str
    arrays_sha256: str


@dataclass(frozen=True)
class LockedMotorSpec:
    """A hardware motor the variant removes, held at ``pos`` with its own gains."""

    name: str
    motor_index: int
    kp: float
    kd: float
    pos: float


@dataclass(frozen=True)
class ControllerManifest:
    """A self-describing exported controller (see the module docstring).

    Per-joint lists have length ``J`` and follow ``joint_names`` (the policy order, which
    is Unitree motor order restricted to the variant); ``motor_index[j]`` is the SDK motor
    slot of policy joint ``j``. Joint targets are ``base + action_scale · a`` with ``a``
    clipped to ``±action_clip`` and ``base`` set by :attr:`action_mode`; torques
    ``kp·(q* − q) − kd·q̇`` clipped to ``±effort_limit``.
    """

    robot: str
    variant: str
    joint_names: list[str]
    motor_index: list[int]
    default_joint_pos: list[float]
    action_scale: float
    action_clip: float
    kp: list[float]
    kd: list[float]
    effort_limit: list[float]
    velocity_limit: list[float]
    locked_motors: list[LockedMotorSpec]
    control_dt: float
    physics_dt: float
    imu_site: str
    observation: ObservationSpec
    reference: ReferenceSpec
    onnx_input: str = "obs"
    onnx_output: str = "actions"
    quaternion: str = QUAT_CONVENTION
    train_config: dict[str, Any] = field(default_factory=dict)
    checkpoint: dict[str, Any] = field(default_factory=dict)
    code_version: dict[str, str] = field(default_factory=dict)
    action_mode: str = "default"
    """Base of the joint targets: ``default`` (``default_joint_pos``) or ``residual`` (the
    reference clip's joint angles one control step ahead of the clip clock)."""
    schema_version: int = SCHEMA_VERSION

    @property
    def num_joints(self) -> int:
        """Number ``J`` of policy joints (action width)."""
        return len(self.joint_names)

    def to_json(self) -> str:
        """Indented JSON text (``from_json`` reads it back to an equal manifest)."""
        return json.dumps(asdict(self), indent=1, sort_keys=False)

    @classmethod
    def from_json(cls, text: str, where: str = "controller manifest") -> ControllerManifest:
        """Parse and validate; ConfigError naming ``where`` and the field on any problem."""
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as err:
            raise ConfigError(f"{where}: not JSON ({err.msg} at line {err.lineno})") from None
        return manifest_from_dict(raw, where)


def manifest_from_dict(raw: object, where: str) -> ControllerManifest:
    """Build a :class:`ControllerManifest` from parsed JSON, validating every field."""
    data = _obj(raw, where, ControllerManifest)
    version = data.get("schema_version")
    if not isinstance(version, int) or version < 1 or version > SCHEMA_VERSION:
        raise ConfigError(
            f"{where}: field 'schema_version' is {version!r};"
            f" this humimic reads 1..{SCHEMA_VERSION}"
        )
    data["locked_motors"] = [
        LockedMotorSpec(**_obj(m, f"{where}: field 'locked_motors[{i}]'", LockedMotorSpec))
        for i, m in enumerate(_list(data, "locked_motors", where))
    ]
    obs = _obj(data["observation"], f"{where}: field 'observation'", ObservationSpec)
    obs["terms"] = [
        ObservationTerm(**_obj(t, f"{where}: field 'observation.terms[{i}]'", ObservationTerm))
        for i, t in enumerate(_list(obs, "terms", where))
    ]
    data["observation"] = ObservationSpec(**obs)
    ref = _obj(data["reference"], f"{where}: field 'reference'", ReferenceSpec)
    data["reference"] = ReferenceSpec(**ref)
    manifest = ControllerManifest(**data)
    validate_manifest(manifest, where)
    return manifest


def validate_manifest(m: ControllerManifest, where: str = "controller manifest") -> None:
    """Check types, lengths and values; ConfigError naming the first bad field."""

    def bad(name: str, problem: str) -> ConfigError:
        return ConfigError(f"{where}: field '{name}' {problem}")

    for name in ("robot", "variant", "imu_site", "onnx_input", "onnx_output"):
        if not isinstance(getattr(m, name), str) or not getattr(m, name):
            raise bad(name, "must be a non-empty string")
    if not isinstance(m.joint_names, list):
        raise bad("joint_names", "must be a list of names")
    j = len(m.joint_names)
    if j == 0 or not all(isinstance(n, str) and n for n in m.joint_names):
        raise bad("joint_names", "must be a non-empty list of names")
    if len(set(m.joint_names)) != j:
        raise bad("joint_names", "has duplicates")
    for name in ("motor_index", "default_joint_pos", "kp", "kd", "effort_limit",
                 "velocity_limit"):  # fmt: skip
        values = getattr(m, name)
        if not isinstance(values, list) or len(values) != j:
            raise bad(name, f"must be a list of {j} numbers (one per joint)")
        if not all(_is_number(v) for v in values):
            raise bad(name, "must hold finite numbers")
    if not all(isinstance(v, int) and 0 <= v < 64 for v in m.motor_index):
        raise bad("motor_index", "must hold motor slots 0..63")
    if len(set(m.motor_index)) != j:
        raise bad("motor_index", "has duplicate motor slots")
    for name in ("kp", "effort_limit", "velocity_limit"):
        if any(v <= 0 for v in getattr(m, name)):
            raise bad(name, "must be positive")
    if any(v < 0 for v in m.kd):
        raise bad("kd", "must be non-negative")
    if m.action_mode not in ("default", "residual"):
        raise bad("action_mode", f"must be 'default' or 'residual', got {m.action_mode!r}")
    for name in ("action_scale", "action_clip", "control_dt", "physics_dt"):
        value = getattr(m, name)
        if not _is_number(value) or value <= 0:
            raise bad(name, f"must be a positive number, got {value!r}")
    if m.physics_dt > m.control_dt:
        raise bad("physics_dt", "is longer than control_dt")
    if m.quaternion != QUAT_CONVENTION:
        raise bad("quaternion", f"must be {QUAT_CONVENTION!r}, got {m.quaternion!r}")
    _validate_observation(m.observation, j, bad)
    _validate_reference(m.reference, bad)


def _validate_observation(obs: ObservationSpec, num_joints: int, bad: Any) -> None:
    names = [t.name for t in obs.terms]
    if not names or len(set(names)) != len(names):
        raise bad("observation.terms", "must be a non-empty list of distinct terms")
    for i, t in enumerate(obs.terms):
        if not isinstance(t.size, int) or t.size < 1:
            raise bad(f"observation.terms[{i}].size", "must be a positive integer")
        if not (_is_number(t.scale) and _is_number(t.noise)):
            raise bad(f"observation.terms[{i}]", "scale and noise must be finite numbers")
    unknown = [n for n in obs.history_terms if n not in names]
    if unknown:
        raise bad("observation.history_terms", f"names unknown terms {unknown}")
    if not isinstance(obs.history_length, int) or obs.history_length < 0:
        raise bad("observation.history_length", "must be an integer >= 0")
    if obs.history_order != HISTORY_ORDER:
        raise bad("observation.history_order", f"must be {HISTORY_ORDER!r}")
    if not _is_number(obs.clip) or obs.clip <= 0:
        raise bad("observation.clip", "must be a positive number")


def _validate_reference(ref: ReferenceSpec, bad: Any) -> None:
    if not _is_number(ref.fps) or ref.fps <= 0:
        raise bad("reference.fps", "must be a positive number")
    if not isinstance(ref.frames, int) or ref.frames < 2:
        raise bad("reference.frames", "must be an integer >= 2")
    if not math.isclose(ref.duration_s, (ref.frames - 1) / ref.fps, rel_tol=1e-9):
        raise bad("reference.duration_s", "must equal (frames - 1) / fps")
    if not ref.arrays_file or "/" in ref.arrays_file or ref.arrays_file.startswith("."):
        raise bad("reference.arrays_file", "must be a plain file name in the controller folder")


def _is_number(value: object) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


def _obj(raw: object, where: str, cls: type) -> dict[str, Any]:
    """A dict with exactly the dataclass's required fields (optional ones may be absent)."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: must be a JSON object")
    known = {f.name for f in fields(cls)}
    required = {
        f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING
    }
    missing = sorted(required - set(raw))
    if missing:
        raise ConfigError(f"{where}: missing field '{missing[0]}'")
    extra = sorted(set(raw) - known)
    if extra:
        raise ConfigError(f"{where}: unknown field '{extra[0]}'")
    return dict(raw)


def _list(data: dict[str, Any], key: str, where: str) -> list[Any]:
    value = data[key]
    if not isinstance(value, list):
        raise ConfigError(f"{where}: field '{key}' must be a list")
    return value
