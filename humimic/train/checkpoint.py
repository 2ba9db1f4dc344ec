"""Checkpoint files ``model_<k>.pt``: rsl-rl's layout, written atomically and read
without unpickling code.

rsl-rl's ``OnPolicyRunner.save``/``load`` use ``torch.save`` onto the final name and
``torch.load(weights_only=False)``; a crafted checkpoint could then run code, and a
killed run leaves a truncated file. These two functions replace them.
"""

from __future__ import annotations

import io
import pickle
import re
from pathlib import Path
from typing import Any

import torch

from humimic.errors import InputFileError
from humimic.files import atomic_write

CHECKPOINT_KEYS = ("actor_state_dict", "critic_state_dict", "optimizer_state_dict", "iter")
"""Entries every humimic checkpoint has (rsl-rl's layout)."""


def write_checkpoint(path: str | Path, saved: dict[str, Any]) -> Path:
    """``torch.save`` of ``saved`` that appears under ``path`` only once complete.

    Raises:
        HumimicError: the file cannot be written (naming it and the OS error).
    """
    buffer = io.BytesIO()  # torch's own file writer hides the OS error (disk full)
    torch.save(saved, buffer)
    return atomic_write(path, lambda tmp: tmp.write_bytes(buffer.getbuffer()))


def load_checkpoint(path: str | Path, map_location: str | None = None) -> dict[str, Any]:
    """Read a ``model_<k>.pt`` with ``torch.load(weights_only=True)``: tensors and plain
    containers only, so a crafted file cannot run code while it is read.

    Raises:
        InputFileError: not a readable checkpoint, or one that asks to unpickle code.
    """
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "checkpoint not found")
    try:
        loaded = torch.load(path, weights_only=True, map_location=map_location)
    except pickle.UnpicklingError as err:
        found = re.search(r"GLOBAL ([\w.]+)", str(err))
        detail = f"it names {found.group(1)}" if found else type(err).__name__
        raise InputFileError(
            path, f"refused: the checkpoint asks to run code, not only load tensors ({detail})"
        ) from err
    except Exception as err:  # torch raises many types for a corrupt file
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise InputFileError(path, f"not a readable checkpoint ({first[:160]})") from err
    if not isinstance(loaded, dict) or any(key not in loaded for key in CHECKPOINT_KEYS):
        raise InputFileError(path, "not a humimic checkpoint (no policy/optimiser state)")
    return loaded
