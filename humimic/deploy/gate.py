"""The sim-to-sim gate: the verdict ``humimic sim2sim`` writes and the check deploy makes.

The verdict is the ``"gate"`` object of a controller folder's ``metrics.json``::

    {"passed": bool, "reasons": [str], "thresholds": {...},
     "controller_sha256": hex | null, "manifest_sha256": hex | null}

The hashes are of the ``controller.onnx`` / ``controller.json`` bytes sim2sim ran (null when
a stand-in controller ran). Its schema version is the file's top-level ``schema_version``
(:data:`SCHEMA_VERSION`; a file without one is version 1, the same keys, from before the
version was written). :class:`GateVerdict` is read and written here only, and
:func:`require_gate` is what :class:`~humimic.deploy.runtime.DeployRuntime` calls before it
creates a DDS writer: a controller runs only with a passed verdict for its exact bytes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from humimic.errors import ConfigError, HumimicError, InputFileError
from humimic.json_contract import is_finite_number, load_json_object, read_schema_version

if TYPE_CHECKING:
    from humimic.deploy.controller import Controller

GATE_FILE = "metrics.json"
GATE_KEY = "gate"
SCHEMA_VERSION = 2
"""2: ``metrics.json`` carries ``schema_version``; 1: the same layout without it."""


@dataclass(frozen=True)
class GateThresholds:
    """What the gate required (sim2sim's :class:`~humimic.deploy.sim2sim.Sim2SimConfig`)."""

    min_pelvis_height_m: float
    max_tilt_rad: float
    max_mpbpe_mm: float
    fail_distance_m: float
    every_episode_succeeds: bool = True


@dataclass(frozen=True)
class GateVerdict:
    """A sim-to-sim verdict on one controller.

    Attributes:
        passed: True only when every requirement held.
        reasons: why it failed (empty when it passed).
        thresholds: the requirements (None in a version-1 file that did not record them).
        controller_sha256: hex sha256 of the ``controller.onnx`` bytes that ran (None for a
            stand-in controller: deploy never accepts such a verdict).
        manifest_sha256: the same for ``controller.json``.
        schema_version: the version of the file it was read from (or :data:`SCHEMA_VERSION`).
    """

    passed: bool
    reasons: tuple[str, ...]
    thresholds: GateThresholds | None
    controller_sha256: str | None
    manifest_sha256: str | None
    schema_version: int = SCHEMA_VERSION

    def to_json(self) -> dict[str, object]:
        """The ``"gate"`` object as written (keys as in version 1)."""
        t = self.thresholds
        return {
            "passed": self.passed,
            "reasons": list(self.reasons),
            "thresholds": None if t is None else _thresholds_json(t),
            "controller_sha256": self.controller_sha256,
            "manifest_sha256": self.manifest_sha256,
        }

    @classmethod
    def from_json(cls, value: object, schema_version: int, where: str) -> GateVerdict:
        """Validate a ``"gate"`` object of a file of ``schema_version``.

        Raises:
            InputFileError: ``<where>: ...`` naming the bad entry.
        """
        if not isinstance(value, Mapping):
            raise InputFileError(where, "'gate' is not an object")
        passed = value.get("passed")
        if not isinstance(passed, bool):
            raise InputFileError(where, f"gate.passed is {passed!r}, not true or false")
        reasons = value.get("reasons", [] if schema_version == 1 else None)
        if not isinstance(reasons, list) or not all(isinstance(r, str) for r in reasons):
            raise InputFileError(where, "gate.reasons is not a list of strings")
        hashes = [value.get(k) for k in ("controller_sha256", "manifest_sha256")]
        if not all(h is None or _is_hex256(h) for h in hashes):
            raise InputFileError(where, "gate hashes must be 64 hex digits or null")
        if schema_version > 1 and not {"thresholds", "controller_sha256"} <= set(value):
            raise InputFileError(where, "gate lacks thresholds or hashes")
        thresholds = value.get("thresholds")
        return cls(passed, tuple(reasons), _read_thresholds(thresholds, where),
                   hashes[0], hashes[1], schema_version)  # fmt: skip

    def check(self, controller_dir: Path, onnx_sha256: str, manifest_sha256: str) -> None:
        """Refuse unless this verdict passed and was made for these exact bytes.

        Raises:
            HumimicError: One line naming the folder (or file) and the reason.
        """
        rerun = f"run 'humimic sim2sim {controller_dir}' again"
        if not self.passed:
            reasons = "; ".join(self.reasons) or "no reason given"
            raise HumimicError(f"{controller_dir}: sim2sim gate failed ({reasons}); not deploying")
        pairs = (("controller.onnx", onnx_sha256, self.controller_sha256),
                 ("controller.json", manifest_sha256, self.manifest_sha256))  # fmt: skip
        for name, have, tested in pairs:
            if tested is None:
                raise HumimicError(
                    f"{controller_dir / GATE_FILE}: the sim2sim verdict names no {name} hash "
                    f"(older humimic, or a stand-in controller was tested); {rerun}"
                )
            if tested != have:
                raise HumimicError(
                    f"{controller_dir / name}: sha256 {have[:12]}… is not the {tested[:12]}… "
                    f"that sim2sim passed; not deploying an unchecked controller; {rerun}"
                )


def _thresholds_json(t: GateThresholds) -> dict[str, object]:
    return {"min_pelvis_height_m": t.min_pelvis_height_m, "max_tilt_rad": t.max_tilt_rad,
            "max_mpbpe_mm": t.max_mpbpe_mm, "fail_distance_m": t.fail_distance_m,
            "every_episode_succeeds": t.every_episode_succeeds}  # fmt: skip


def _read_thresholds(value: object, where: str) -> GateThresholds | None:
    if value is None:
        return None
    numbers = ("min_pelvis_height_m", "max_tilt_rad", "max_mpbpe_mm", "fail_distance_m")
    if not isinstance(value, Mapping) or not all(is_finite_number(value.get(k)) for k in numbers):
        raise InputFileError(where, f"gate.thresholds must hold the numbers {list(numbers)}")
    every = value.get("every_episode_succeeds", True)
    if not isinstance(every, bool):
        raise InputFileError(where, "gate.thresholds.every_episode_succeeds is not a bool")
    height, tilt, mpbpe, fail = (float(value[k]) for k in numbers)
    return GateThresholds(height, tilt, mpbpe, fail, every_episode_succeeds=every)


def _is_hex256(value: object) -> bool:
    return (
        isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)
    )


def read_verdict(controller_dir: Path) -> GateVerdict:
    """The validated verdict of a controller folder's ``metrics.json``.

    Raises:
        HumimicError: No such file (run sim2sim first), or it holds no valid verdict.
    """
    path = Path(controller_dir) / GATE_FILE
    if not path.is_file():
        raise HumimicError(
            f"{controller_dir}: no sim2sim result; run 'humimic sim2sim {controller_dir}' first"
        )
    data = load_json_object(path)
    if GATE_KEY not in data:
        raise InputFileError(path, "no sim2sim 'gate' verdict in it")
    version = read_schema_version(data, str(path), SCHEMA_VERSION)
    return GateVerdict.from_json(data[GATE_KEY], version, str(path))


def require_gate(controller: Controller, interface: str, skip_gate: bool) -> GateVerdict | None:
    """The gate as the deploy runtime applies it, before anything is sent.

    * An :class:`~humimic.deploy.policy.OnnxController` runs only with a passed verdict
      for the exact ``controller.onnx`` and ``controller.json`` bytes it loaded.
    * The built-in :class:`~humimic.deploy.controller.HoldDefaultController` (the spec's default
      pose, no learned weights; the bring-up baseline) needs none.
    * Any other controller has no verdict that could name it and is refused.

    ``skip_gate`` (tests against the simulated robot) is allowed on loopback only.

    Returns:
        The verdict that was checked (None when none was needed or it was skipped).

    Raises:
        HumimicError / ConfigError: one line naming the folder, file or option.
    """
    from humimic.deploy.controller import HoldDefaultController
    from humimic.deploy.dds.channel import is_loopback_interface
    from humimic.deploy.policy import OnnxController

    if skip_gate:
        if not is_loopback_interface(interface):
            raise ConfigError(
                f"skipping the sim2sim gate is only allowed on loopback, not {interface}"
            )
        return None
    if type(controller) is HoldDefaultController:
        return None
    if not isinstance(controller, OnnxController):
        raise HumimicError(
            f"a {type(controller).__name__} controller has no sim2sim verdict that names it: "
            "deploy runs an exported controller folder that passed 'humimic sim2sim'"
        )
    verdict = read_verdict(controller.dir)
    verdict.check(controller.dir, controller.onnx_sha256, controller.manifest_sha256)
    return verdict
