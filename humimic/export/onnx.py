"""Export a trained run as a self-contained controller folder.

``<out>/`` holds:

* ``controller.onnx``: the actor with its empirical observation normaliser baked in, the
  deterministic mean action, input ``obs`` [1, D] → output ``actions`` [1, J]; weights inside
  the one file (legacy TorchScript exporter, no ``.onnx.data`` side file); the manifest JSON
  in ``metadata_props[humimic_controller]``.
* ``controller.json``: the same manifest (:mod:`humimic.export.manifest`).
* ``reference.npz``: a copy of the training clip (humimic clip format), for the phase
  clock's duration, reference-conditioned terms, sim-to-sim start pose and metrics.
* ``parity.npz``: observations recorded from the training env (noise off) and the torch
  actions for them; :func:`check_parity` compares onnxruntime against them (≤ 1e-5).
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import subprocess
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

import humimic
from humimic.errors import ConfigError, HumimicError
from humimic.export.manifest import (
    METADATA_KEY,
    ControllerManifest,
    LockedMotorSpec,
    ObservationSpec,
    ObservationTerm,
    ReferenceSpec,
    validate_manifest,
)
from humimic.files import atomic_folder, atomic_write, file_sha256
from humimic.paths import REPO_ROOT

ONNX_FILE = "controller.onnx"
MANIFEST_FILE = "controller.json"
REFERENCE_FILE = "reference.npz"
PARITY_FILE = "parity.npz"
OPSET = 17
PARITY_ATOL = 1e-5
PARITY_STEPS = 50


class ParityError(HumimicError):
    """onnxruntime and torch disagree on the recorded observations."""


def export_controller(run_or_checkpoint: Path, out_dir: Path | None = None) -> Path:
    """Export a run folder (latest checkpoint) or a ``model_<k>.pt`` as a controller folder.

    Args:
        run_or_checkpoint: Run folder or checkpoint file.
        out_dir: Output folder (default ``<run>/export_<checkpoint stem>``).

    Returns:
        The controller folder.

    Raises:
        InputFileError: Not a run folder / checkpoint.
        ConfigError: The run has no actor group or several clips.
        ParityError: The ONNX file does not reproduce the torch actions.
    """
    from humimic.runs import resolve_run
    from humimic.train.runner import load_run_config

    run, ckpt = resolve_run(run_or_checkpoint)
    run_dir = run.root
    cfg = load_run_config(run_dir)
    if len(cfg.task.motion.files) != 1:
        raise ConfigError(
            f"{run_dir}: export needs a run trained on exactly one clip (phase-clock policy),"
            f" found {len(cfg.task.motion.files)}"
        )
    out = Path(out_dir) if out_dir is not None else run.export_dir(ckpt)
    # Assembled beside `out` and renamed: Ctrl-C or a failure leaves no partial folder, and
    # an earlier export there (with its sim-to-sim verdict) is replaced as a whole.
    with atomic_folder(out, is_controller_folder) as partial:
        _export_into(partial, cfg, run_dir, ckpt)
    return out


def is_controller_folder(path: Path) -> bool:
    """Whether ``path`` holds an earlier export (which a new export may replace)."""
    return (path / MANIFEST_FILE).is_file() or (path / ONNX_FILE).is_file()


def _export_into(out: Path, cfg: Any, run_dir: Path, ckpt: Path) -> None:
    """Write the controller files of ``ckpt`` into the (new, empty) folder ``out``."""
    from humimic.eval.runner import eval_config
    from humimic.motion.clip import load_clip, report_path_for, save_clip
    from humimic.train.runner import build_runner

    env_cfg = eval_config(cfg, None, 1)
    env_cfg = replace(env_cfg, runner=replace(env_cfg.runner, resume=str(ckpt)))
    runner = build_runner(env_cfg, None)
    env = runner.env
    try:
        policy = runner.alg.get_policy().to("cpu").eval()
        obs = record_observations(env, policy, PARITY_STEPS)
        clip_path = Path(cfg.task.motion.files[0])
        clip = load_clip(clip_path)
        save_clip(clip, out / REFERENCE_FILE)
        report_path_for(out / REFERENCE_FILE).unlink(missing_ok=True)  # also inside the npz
        manifest = build_manifest(cfg, env, ckpt, clip_path, clip.fps, out / REFERENCE_FILE)
    finally:
        env.close()
    with torch.no_grad():
        expected = policy.as_onnx(verbose=False).eval()(torch.from_numpy(obs)).numpy()
    onnx_path = write_onnx(policy, manifest, out / ONNX_FILE)
    text = manifest.to_json()
    atomic_write(out / MANIFEST_FILE, lambda p: p.write_text(text + "\n"))
    atomic_write(out / PARITY_FILE, lambda p: np.savez(p, obs=obs, actions=expected))
    check_parity(onnx_path, obs, expected)


def record_observations(env: Any, policy: Any, steps: int) -> np.ndarray:
    """Actor observations of a deterministic rollout from phase 0, (steps, D) float32."""
    rows = []
    obs = env.get_observations()
    with torch.inference_mode():
        for _ in range(steps):
            rows.append(obs["actor"][0].clone())
            obs, _, _, _ = env.step(policy(obs))
    return torch.stack(rows).numpy().astype(np.float32)


def build_manifest(
    cfg: Any, env: Any, ckpt: Path, clip_path: Path, fps: float, reference_copy: Path
) -> ControllerManifest:
    """The manifest of a run, from its resolved config, the env it builds and its clip."""
    spec, group = env.spec, env.obs_groups["actor"]
    gcfg = group.cfg
    terms = [
        ObservationTerm(
            k, t.fn or k, int(group.dims[k]), float(t.scale), float(t.noise), dict(t.params)
        )
        for k, t in gcfg.terms.items()
    ]
    observation = ObservationSpec(
        group="actor", terms=terms, history_length=int(gcfg.history_length),
        history_terms=list(gcfg.history_terms or gcfg.terms), clip=float(gcfg.clip),
    )  # fmt: skip
    _check_layout(observation, group)
    frames = int(env.motion.num_frames[0])
    fps = float(fps)
    manifest = ControllerManifest(
        robot=spec.robot, variant=spec.variant, joint_names=list(spec.joint_names),
        motor_index=[int(i) for i in spec.motor_index],
        default_joint_pos=_floats(spec.default_joint_pos),
        action_scale=float(cfg.task.action_scale), action_clip=100.0,
        action_mode=str(cfg.task.action_mode),
        kp=_floats(spec.kp), kd=_floats(spec.kd), effort_limit=_floats(spec.effort_limit),
        velocity_limit=_floats(spec.velocity_limit),
        locked_motors=[LockedMotorSpec(m.name, int(m.motor_index), float(m.kp), float(m.kd),
                                       float(m.pos)) for m in spec.locked_motors],
        control_dt=float(cfg.sim.control_dt), physics_dt=float(cfg.sim.physics_dt),
        imu_site=spec.imu_site, observation=observation,
        reference=ReferenceSpec(
            file_name=clip_path.name, sha256=file_sha256(clip_path), fps=fps, frames=frames,
            duration_s=(frames - 1) / fps, arrays_file=reference_copy.name,
            arrays_sha256=file_sha256(reference_copy),
        ),
        train_config=_plain(dataclasses.asdict(cfg)),
        checkpoint={"file": ckpt.name, "sha256": file_sha256(ckpt), "run": ckpt.parent.name},
        code_version=code_version(),
    )  # fmt: skip
    validate_manifest(manifest, "exported manifest")
    return manifest


def _check_layout(observation: ObservationSpec, group: Any) -> None:
    """The manifest's layout must equal the training group's (a bug otherwise)."""
    ours = observation.slices()
    theirs = [(s.term, s.start, s.stop, s.history) for s in group.layout()]
    if ours != theirs or observation.dim != group.dim:
        raise HumimicError(f"export: observation layout mismatch {ours} != {theirs}")


def write_onnx(policy: Any, manifest: ControllerManifest, path: Path) -> Path:
    """Export the deterministic actor (normaliser inside) as one ONNX file with metadata."""
    import onnx

    wrapper = policy.as_onnx(verbose=False).to("cpu").eval()
    buffer = io.BytesIO()
    dummy = torch.zeros(1, manifest.observation.dim)
    # The TorchScript exporter writes one file with the weights inside; torch flags it as
    # legacy, which is expected here.
    with contextlib.redirect_stdout(io.StringIO()), torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        # torch annotates f as a path only; the TorchScript exporter also takes a binary file.
        torch.onnx.export(
            wrapper, (dummy,), buffer, dynamo=False, opset_version=OPSET,  # type: ignore[arg-type]
            input_names=[manifest.onnx_input], output_names=[manifest.onnx_output],
        )  # fmt: skip
    model = onnx.load_from_string(buffer.getvalue())
    entry = model.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, manifest.to_json()
    model.producer_name = "humimic"
    model.producer_version = humimic.__version__
    onnx.checker.check_model(model, full_check=True)
    data = model.SerializeToString()
    return atomic_write(path, lambda p: p.write_bytes(data))


def check_parity(
    onnx_path: Path, obs: np.ndarray, expected: np.ndarray, atol: float = PARITY_ATOL
) -> float:
    """Max |onnxruntime − expected| over rows of ``obs`` (N, D); ParityError above ``atol``."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    session = ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    got = np.concatenate(
        [session.run(None, {name: row[None].astype(np.float32)})[0] for row in obs]
    )
    if got.shape != expected.shape:
        raise ParityError(f"{onnx_path}: output shape {got.shape} != {expected.shape}")
    err = float(np.max(np.abs(got - expected))) if len(obs) else 0.0
    if not err <= atol:
        raise ParityError(f"{onnx_path}: onnxruntime differs from torch by {err:.3g} > {atol}")
    return err


def code_version() -> dict[str, str]:
    """humimic version and the checkout's git SHA (``+dirty`` with local changes)."""
    out = {"humimic": humimic.__version__, "git_sha": ""}
    try:
        sha = _git("rev-parse", "HEAD", check=True).stdout.strip()
        dirty = _git("status", "--porcelain", "-uno").stdout
        out["git_sha"] = sha + ("+dirty" if dirty.strip() else "")
    except (OSError, subprocess.SubprocessError):
        pass
    return out


def _git(*args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
    """``git ARGS`` in the checkout, text output captured, 5 s limit."""
    return subprocess.run(
        ["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=5, check=check
    )


def _floats(values: Any) -> list[float]:
    return [float(v) for v in np.asarray(values, dtype=np.float64)]


def _plain(value: Any) -> Any:
    """JSON-safe copy of a config dict (tuples → lists, numpy scalars → Python)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value
