"""Warm starts: a new run begins from another tracker's networks (``runner.init_from``).

A tracker trained on several clips already stands and steps; fine-tuning it on a new clip
skips the hundreds of thousands of samples a run from scratch spends learning balance
(docs/training.md). ``builtin`` names the prior shipped in ``priors/``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import torch

from humimic.errors import ConfigError
from humimic.paths import PRIORS_DIR
from humimic.train.checkpoint import load_checkpoint, write_checkpoint

BUILTIN = "builtin"
"""``runner.init_from`` value naming the shipped prior."""
BUILTIN_PRIOR_FILE: Path = PRIORS_DIR / "g1_cpu_tracker.pt"
"""The shipped prior: actor (with std and observation normaliser) and critic of a ``cpu``
preset run on several clips; made by ``tools/make_prior.py``."""
FROM_SCRATCH = ("", "none")
"""``runner.init_from`` values that start from freshly initialised networks."""


def resolve_init_from(value: str) -> Path | None:
    """The checkpoint ``runner.init_from`` names, or None for a run from scratch."""
    if value.strip().lower() in FROM_SCRATCH:
        return None
    return BUILTIN_PRIOR_FILE if value == BUILTIN else Path(value)


def mismatch(model: torch.nn.Module, state: dict[str, Any]) -> str | None:
    """Why ``state`` cannot be loaded into ``model`` (missing, extra or resized entries),
    or None when it fits exactly. Checked before loading: torch copies the fitting entries
    of a partly matching state dict before it raises."""
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    extra = sorted(set(state) - set(own))
    if missing or extra:
        named = [
            f"{what} {keys[:3]}"
            for what, keys in (("missing", missing), ("unexpected", extra))
            if keys
        ]
        return "entries " + ", ".join(named)
    for key, value in own.items():
        theirs = state[key]
        if not isinstance(theirs, torch.Tensor) or theirs.shape != value.shape:
            shape = tuple(theirs.shape) if isinstance(theirs, torch.Tensor) else type(theirs)
            return f"{key} is {shape}, this config needs {tuple(value.shape)}"
    return None


def warm_start(alg: Any, loaded: dict[str, Any], path: Path) -> None:
    """Load the actor (with its std and normaliser) and the critic of the checkpoint
    ``loaded`` (read from ``path``) into the PPO ``alg`` through rsl-rl's ``load_cfg``; the
    optimiser, iteration count and env state stay fresh.

    Raises:
        ConfigError: its networks do not fit this config (observation sizes, layers);
            nothing was loaded.
    """
    why = networks_mismatch(alg, loaded)
    if why is not None:
        raise ConfigError(f"runner.init_from: {path} does not fit this config ({why})")
    alg.load(loaded, {"actor": True, "critic": True}, strict=True)


def networks_mismatch(alg: Any, loaded: dict[str, Any]) -> str | None:
    """Why the checkpoint ``loaded`` does not fit the PPO ``alg``'s actor or critic, e.g.
    ``"actor: entries unexpected [...]"``; None when both fit."""
    for part in ("actor", "critic"):
        why = mismatch(getattr(alg, part), loaded[f"{part}_state_dict"])
        if why is not None:
            return f"{part}: {why}"
    return None


def start_from(alg: Any, init_from: str) -> Path | None:
    """Apply ``runner.init_from`` to a new run; returns the checkpoint used, or None.

    The built-in prior is skipped with a note on stderr when it is absent or this config's
    networks differ from it (other layers or observations, the ``pbhc`` preset): it is a
    default, not a request. A named checkpoint must fit.

    Raises:
        ConfigError: a named checkpoint does not fit this config.
        InputFileError: a named checkpoint is missing or unreadable.
    """
    path = resolve_init_from(init_from)
    if path is None:
        return None
    builtin = init_from == BUILTIN
    if builtin and not path.is_file():
        print(f"note: the built-in prior {path} is missing; training from scratch", file=sys.stderr)
        return None
    loaded = load_checkpoint(path, "cpu")
    why = networks_mismatch(alg, loaded) if builtin else None
    if why is not None:
        print(f"note: the built-in prior does not fit this config ({why}); "
              "training from scratch", file=sys.stderr)  # fmt: skip
        return None
    warm_start(alg, loaded, path)
    return path


def write_prior(checkpoint: Path, out: Path, clips: list[str]) -> Path:
    """Strip a run's checkpoint to a prior: the actor and critic, no optimiser state.

    ``clips`` (names of the clips the run trained on) and the run's iteration count are kept
    under ``infos["prior"]``. Written atomically; returns ``out``.
    """
    loaded = load_checkpoint(checkpoint, "cpu")
    prior = {
        "actor_state_dict": loaded["actor_state_dict"],
        "critic_state_dict": loaded["critic_state_dict"],
        "optimizer_state_dict": {},
        "iter": 0,
        "infos": {"prior": {"iterations": int(loaded["iter"]), "clips": list(clips)}},
    }
    return write_checkpoint(out, prior)
