"""``OnnxController``: an exported controller folder as a deploy :class:`Controller`.

Loading checks everything before anything moves: the files exist and parse, the ONNX
metadata carries the same manifest as ``controller.json``, the manifest matches the robot
variant it will drive (joint names and order, motor slots, gains), the network's input and
output widths match the manifest, and the network reproduces the export's recorded actions
(``parity.npz``, when present). Any problem is a :class:`~humimic.errors.HumimicError`.

The network is built from the very bytes that were hashed (:attr:`OnnxController.onnx_sha256`,
and :attr:`~OnnxController.manifest_sha256` for ``controller.json``): the sim-to-sim verdict
records both and the deploy runtime refuses a controller whose hashes differ from them, so a
folder whose weights changed after the gate (with or without ``parity.npz``) never drives a robot.

Each :meth:`OnnxController.step` builds the observation, runs the network (one thread),
clips the action to ``±action_clip`` and returns ``base + action_scale · action`` in policy
joint order, with ``base`` the default pose or, for a ``residual`` controller, the reference
clip's joint angles one control step ahead (as in training). The clip clock advances one
control period per step; after ``round(duration / control_dt)`` steps the clip has ended:
:attr:`finished` becomes true and ``step`` returns None (the safety machine then blends
back to the default pose).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from humimic.deploy.controller import RobotState
from humimic.deploy.observations import REFERENCE_TERMS, ObservationBuilder
from humimic.deploy.reference import ReferenceTrack
from humimic.errors import HumimicError, InputFileError
from humimic.export.manifest import METADATA_KEY, ControllerManifest
from humimic.robot.spec import RobotSpec, load_robot_spec

ONNX_FILE = "controller.onnx"
MANIFEST_FILE = "controller.json"
PARITY_FILE = "parity.npz"
PARITY_ATOL = 1e-5


def load_manifest(controller_dir: Path) -> ControllerManifest:
    """Read and validate ``controller.json`` of a controller folder."""
    return read_manifest(controller_dir)[0]


def read_manifest(controller_dir: Path) -> tuple[ControllerManifest, str]:
    """``controller.json`` of a controller folder, validated, and the sha256 of its bytes."""
    path = Path(controller_dir) / MANIFEST_FILE
    if not path.is_file():
        raise InputFileError(path, "missing: not an exported controller folder")
    try:
        raw = path.read_bytes()
        text = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise InputFileError(path, f"unreadable ({err})") from None
    return ControllerManifest.from_json(text, str(path)), hashlib.sha256(raw).hexdigest()


def check_against_spec(manifest: ControllerManifest, spec: RobotSpec, where: str) -> None:
    """Refuse a manifest made for another robot variant or joint layout.

    Raises:
        HumimicError: Variant, joint names/order, motor slots or gains differ.
    """
    problems = []
    if manifest.variant != spec.variant:
        problems.append(f"variant {manifest.variant!r} != robot {spec.variant!r}")
    elif list(manifest.joint_names) != list(spec.joint_names):
        problems.append("joint names/order differ from the robot's")
    else:
        for name in ("motor_index", "kp", "kd", "default_joint_pos"):
            ours = np.asarray(getattr(manifest, name), float)
            theirs = np.asarray(getattr(spec, name), float)
            if ours.shape != theirs.shape or not np.allclose(ours, theirs, rtol=1e-6, atol=1e-9):
                problems.append(f"{name} differs from the robot spec")
    if problems:
        raise HumimicError(f"{where}: controller does not fit this robot: " + "; ".join(problems))


class OnnxController:
    """An exported controller driving the robot (implements the deploy ``Controller``).

    Args:
        controller_dir: Folder with ``controller.onnx`` and ``controller.json``.
        variant: Robot variant it will drive (its spec is loaded and compared); None skips
            the robot check (analysis only).
        verify_parity: Re-run ``parity.npz`` through onnxruntime at load.

    Raises:
        InputFileError: Missing or corrupt files.
        ConfigError: Invalid manifest or undeployable observation.
        HumimicError: Manifest for another robot, or ONNX/manifest inconsistency.
    """

    def __init__(
        self, controller_dir: Path, variant: str | None = None, verify_parity: bool = True
    ) -> None:
        self.dir = Path(controller_dir)
        m, self.manifest_sha256 = read_manifest(self.dir)
        self.manifest = m
        if variant is not None:
            check_against_spec(m, load_robot_spec(variant), str(self.dir))
        self._session = self._open_session()
        self.reference = self._load_reference()
        self.builder = ObservationBuilder(m, self.reference)
        self.default_pos = np.asarray(m.default_joint_pos, np.float64)
        self.scale, self.action_clip = float(m.action_scale), float(m.action_clip)
        self.control_dt = float(m.control_dt)
        self.duration_s = float(m.reference.duration_s)
        self.num_steps = round(self.duration_s / self.control_dt)
        if verify_parity and (self.dir / PARITY_FILE).is_file():
            self._verify_parity()
        self.last_action = np.zeros(m.num_joints)
        self.last_obs = np.zeros(self.builder.dim, np.float32)
        self.steps = 0
        self.finished = False

    # ---- loading -----------------------------------------------------------------------
    def _open_session(self) -> object:
        import onnxruntime as ort

        path, m = self.dir / ONNX_FILE, self.manifest
        if not path.is_file():
            raise InputFileError(path, "missing: not an exported controller folder")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        try:
            model = path.read_bytes()
        except OSError as err:
            raise InputFileError(path, f"unreadable ({err.strerror or err})") from None
        self.onnx_sha256 = hashlib.sha256(model).hexdigest()  # of the bytes that will run
        try:
            session = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
        except Exception as err:  # onnxruntime raises its own untyped errors
            raise InputFileError(path, f"not a loadable ONNX model ({str(err)[:120]})") from None
        embedded = session.get_modelmeta().custom_metadata_map.get(METADATA_KEY)
        if embedded is None:
            raise InputFileError(path, f"no '{METADATA_KEY}' manifest in the ONNX metadata")
        if json.loads(embedded) != json.loads(m.to_json()):
            raise HumimicError(f"{path}: embedded manifest differs from {MANIFEST_FILE}")
        inputs, outputs = session.get_inputs(), session.get_outputs()
        if [i.name for i in inputs] != [m.onnx_input] or outputs[0].name != m.onnx_output:
            raise InputFileError(path, f"expects input '{m.onnx_input}', output '{m.onnx_output}'")
        if inputs[0].shape[-1] != m.observation.dim or outputs[0].shape[-1] != m.num_joints:
            raise InputFileError(
                path, f"network is {inputs[0].shape} -> {outputs[0].shape}, manifest says"
                f" [1, {m.observation.dim}] -> [1, {m.num_joints}]",
            )  # fmt: skip
        return session

    def _load_reference(self) -> ReferenceTrack | None:
        """The reference clip, when the observation or the action base reads it."""
        m = self.manifest
        needed = m.action_mode == "residual" or any(
            t.fn in REFERENCE_TERMS for t in m.observation.terms
        )
        if not needed:
            return None
        return ReferenceTrack.load(self.dir / m.reference.arrays_file, list(m.joint_names))

    def _verify_parity(self) -> None:
        path = self.dir / PARITY_FILE
        try:
            with np.load(path) as data:
                obs, expected = data["obs"], data["actions"]
        except (OSError, ValueError, KeyError) as err:
            raise InputFileError(path, f"corrupt parity file ({err})") from None
        got = np.concatenate([self.infer(row) for row in obs]) if len(obs) else expected
        diff = float(np.max(np.abs(got - expected))) if len(obs) else 0.0
        if not diff <= PARITY_ATOL:
            raise HumimicError(f"{path}: network output differs from export by {diff:.3g}")

    # ---- Controller protocol -----------------------------------------------------------
    def infer(self, obs: np.ndarray) -> np.ndarray:
        """Raw network output for one observation (D,) → (1, J)."""
        feed = {self.manifest.onnx_input: np.asarray(obs, np.float32).reshape(1, -1)}
        return self._session.run(None, feed)[0]  # type: ignore[attr-defined]

    def phase(self) -> float:
        """Clip phase of the current step, ``clamp(t / duration, 0, 1)``."""
        return min(max(self.steps * self.control_dt / self.duration_s, 0.0), 1.0)

    def reset(self, state: RobotState) -> None:
        """Start the clip at phase 0 with empty history and a zero last action."""
        self.builder.reset()
        self.last_action = np.zeros(self.manifest.num_joints)
        self.steps = 0
        self.finished = False

    def step(self, state: RobotState) -> np.ndarray | None:
        """(J,) joint position targets (rad, policy order), or None once the clip has ended."""
        if self.steps >= self.num_steps:
            self.finished = True
            return None
        time_s = self.steps * self.control_dt
        self.last_obs = self.builder.build(state, self.last_action, self.phase(), time_s)
        action = self.infer(self.last_obs)[0].astype(np.float64)
        action = np.clip(action, -self.action_clip, self.action_clip)
        self.last_action = action
        self.steps += 1
        return self.action_base(time_s) + self.scale * action

    def action_base(self, time_s: float) -> np.ndarray:
        """(J,) joint targets of the zero action at clip time ``time_s``, rad."""
        if self.reference is None or self.manifest.action_mode != "residual":
            return self.default_pos
        return self.reference.joint_pos_at(time_s + self.control_dt)
