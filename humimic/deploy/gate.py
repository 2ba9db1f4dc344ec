"""The sim-to-sim gate as deploy reads it: a passed verdict for exactly this controller.

``humimic sim2sim`` writes ``metrics.json`` with ``"gate": {"passed", "reasons",
"thresholds", "controller_sha256", "manifest_sha256"}``; the hashes are of the bytes it ran.
:func:`check_gate` refuses a folder whose verdict is missing, failed, or belongs to other
bytes than the ones the loaded :class:`~humimic.deploy.policy.OnnxController` runs (another
export into the same folder, altered weights, an edited manifest).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from humimic.errors import HumimicError

GATE_FILE = "metrics.json"


def read_verdict(controller_dir: Path) -> dict[str, Any]:
    """The ``gate`` object of a controller folder's ``metrics.json``.

    Raises:
        HumimicError: No such file, or it holds no readable verdict.
    """
    path = Path(controller_dir) / GATE_FILE
    if not path.is_file():
        raise HumimicError(
            f"{controller_dir}: no sim2sim result; run 'humimic sim2sim {controller_dir}' first"
        )
    try:
        verdict = json.loads(path.read_text(encoding="utf-8"))["gate"]
        if not isinstance(verdict, dict):
            raise TypeError("gate is not an object")
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise HumimicError(f"{path}: unreadable sim2sim gate ({err!r})") from None
    return verdict


def check_gate(controller_dir: Path, onnx_sha256: str, manifest_sha256: str) -> None:
    """Refuse unless the folder's verdict passed and was made for these exact bytes.

    Args:
        controller_dir: The exported controller folder.
        onnx_sha256: Hex sha256 of the ``controller.onnx`` bytes about to run.
        manifest_sha256: Hex sha256 of the ``controller.json`` bytes about to be used.

    Raises:
        HumimicError: One line naming the folder and the reason.
    """
    verdict = read_verdict(controller_dir)
    rerun = f"run 'humimic sim2sim {controller_dir}' again"
    if verdict.get("passed") is not True:
        reasons = "; ".join(map(str, verdict.get("reasons") or [])) or "no reason given"
        raise HumimicError(f"{controller_dir}: sim2sim gate failed ({reasons}); not deploying")
    for name, have in (("controller.onnx", onnx_sha256), ("controller.json", manifest_sha256)):
        key = "controller_sha256" if name == "controller.onnx" else "manifest_sha256"
        tested = verdict.get(key)
        if not isinstance(tested, str):
            raise HumimicError(
                f"{controller_dir / GATE_FILE}: the sim2sim verdict names no {name} hash "
                f"(older humimic, or a stand-in controller was tested); {rerun}"
            )
        if tested != have:
            raise HumimicError(
                f"{controller_dir / name}: sha256 {have[:12]}… is not the {tested[:12]}… that "
                f"sim2sim passed; not deploying an unchecked controller; {rerun}"
            )
