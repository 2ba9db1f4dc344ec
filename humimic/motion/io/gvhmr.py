"""Video to SMPL-X motion through an installed GVHMR (zju3dv/GVHMR, non-commercial licence).

humimic does not ship or download GVHMR. The user clones the repository, installs it (its
``hmr4d`` package must import), downloads its checkpoints into
``$GVHMR_ROOT/inputs/checkpoints/`` and sets ``GVHMR_ROOT``. :func:`run_gvhmr` then runs
GVHMR's own demo script in a subprocess and returns its ``hmr4d_results.pt``, which
:func:`humimic.motion.io.smpl.read_gvhmr` reads. No network access happens here.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

from humimic.errors import HumimicError, InputFileError

INSTALL_HINT = (
    "install GVHMR: clone the GVHMR repository (zju3dv/GVHMR), `pip install -e .` it so `hmr4d` "
    "imports, put its checkpoints in <GVHMR>/inputs/checkpoints/ and set GVHMR_ROOT=<GVHMR> "
    "(see GVHMR's docs/INSTALL.md)"
)
"""One-line instruction shown whenever GVHMR is missing."""
CHECKPOINTS: tuple[str, ...] = (
    "gvhmr/gvhmr_siga24_release.ckpt",
    "hmr2/epoch=10-step=25000.ckpt",
    "vitpose/vitpose-h-multi-coco.pth",
    "yolo/yolov8x.pt",
)
"""Files under ``inputs/checkpoints/`` the GVHMR demo loads."""
DEMO_SCRIPT = Path("tools/demo/demo.py")
RESULTS_NAME = "hmr4d_results.pt"


def gvhmr_root() -> Path | None:
    """``$GVHMR_ROOT`` as a path, or ``None`` when unset."""
    env = os.environ.get("GVHMR_ROOT")
    return Path(env).expanduser() if env else None


def gvhmr_body_models() -> Path | None:
    """GVHMR's own body-model folder (``inputs/checkpoints/body_models``) if it exists."""
    root = gvhmr_root()
    folder = root / "inputs" / "checkpoints" / "body_models" if root else None
    return folder if folder is not None and folder.is_dir() else None


def check_gvhmr() -> Path:
    """Return the GVHMR checkout, or raise naming the first missing piece.

    Raises:
        HumimicError: One line saying what is missing and how to install it.
    """
    root = gvhmr_root()
    if root is None:
        raise HumimicError(f"GVHMR_ROOT is not set; {INSTALL_HINT}")
    if importlib.util.find_spec("hmr4d") is None:
        raise HumimicError(f"Python package 'hmr4d' not importable; {INSTALL_HINT}")
    if not (root / DEMO_SCRIPT).is_file():
        raise HumimicError(f"{root / DEMO_SCRIPT} not found; {INSTALL_HINT}")
    ckpt = root / "inputs" / "checkpoints"
    missing = [c for c in CHECKPOINTS if not (ckpt / c).is_file()]
    if missing:
        raise HumimicError(f"GVHMR checkpoint {ckpt / missing[0]} not found; {INSTALL_HINT}")
    return root


def run_gvhmr(video: Path, out_dir: Path, *, static_cam: bool = False) -> Path:
    """Run GVHMR's demo on one video and return its ``hmr4d_results.pt``.

    GVHMR re-encodes the video at 30 fps and needs a CUDA GPU. Results already present
    in ``out_dir`` are reused by GVHMR itself.

    Args:
        video: Input video file.
        out_dir: GVHMR output root; results go to ``<out_dir>/<video stem>/``.
        static_cam: Assume a fixed camera (skips GVHMR's visual odometry).

    Returns:
        Path of ``<out_dir>/<video stem>/hmr4d_results.pt``.

    Raises:
        HumimicError: GVHMR missing or failed (message names what to do).
    """
    video = Path(video).resolve()
    if not video.is_file():
        raise InputFileError(video, "video file not found")
    root = check_gvhmr()
    import torch

    if not torch.cuda.is_available():
        raise HumimicError(
            "GVHMR's demo needs a CUDA GPU and torch sees none; run GVHMR on a GPU machine and "
            f"read its {RESULTS_NAME} with humimic's GVHMR reader"
        )
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, str(DEMO_SCRIPT), f"--video={video}", f"--output_root={out_dir}"]
    if static_cam:
        cmd.append("--static_cam")
    proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True, check=False)
    result = out_dir / video.stem / RESULTS_NAME
    # The demo renders preview videos after saving results; a failure there is harmless.
    if result.is_file():
        return result
    lines = (proc.stderr or proc.stdout or "no output").strip().splitlines()
    last = lines[-1] if lines else "no output"
    raise HumimicError(f"GVHMR failed on {video} (exit {proc.returncode}): {last}")
