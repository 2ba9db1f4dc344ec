"""Term functions registered by name, and binding of YAML params to their signatures.

A term is ``fn(d: StepData, **params) -> Tensor``. :func:`bind` resolves a name and checks
``params`` against the signature when the env is built, so a typo fails before any
simulation with a :class:`~humimic.errors.ConfigError` naming the term and the key.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from torch import Tensor

from humimic.config.task import canonical_term
from humimic.errors import ConfigError

TermFn = Callable[..., Tensor]

_REGISTRY: dict[str, dict[str, TermFn]] = {"observation": {}, "reward": {}, "termination": {}}


def register(kind: str) -> Callable[[TermFn], TermFn]:
    """Decorator: register ``fn`` under its own name in ``kind`` ("observation", ...)."""

    def wrap(fn: TermFn) -> TermFn:
        _REGISTRY[kind][fn.__name__] = fn
        return fn

    return wrap


def names(kind: str) -> list[str]:
    """Registered term names of one kind."""
    _load_terms()
    return sorted(_REGISTRY[kind])


def bind(kind: str, where: str, name: str, params: dict[str, Any]) -> Callable[[Any], Tensor]:
    """The term function ``name`` with ``params`` bound: ``f(d) -> Tensor``.

    Args:
        kind: "observation", "reward" or "termination".
        where: Config key of the term for messages, e.g. ``"task.rewards.feet_pos"``.
        name: Registered function name (or a PBHC alias of one, see
            :data:`~humimic.config.task.TERM_ALIASES`).
        params: Keyword arguments from the config.

    Raises:
        ConfigError: Unknown name, unknown or missing parameter.
    """
    _load_terms()
    name = canonical_term(kind, name)
    fn = _REGISTRY[kind].get(name)
    if fn is None:
        known = ", ".join(sorted(_REGISTRY[kind]))
        raise ConfigError(f"{where}: unknown {kind} term '{name}' (known: {known})")
    sig = inspect.signature(fn)
    allowed = list(sig.parameters)[1:]
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise ConfigError(
            f"{where}: term '{name}' has no parameter {unknown[0]!r} (valid: {allowed})"
        )
    try:
        sig.bind(None, **params)
    except TypeError as err:
        raise ConfigError(f"{where}: term '{name}': {err}") from None
    return functools.partial(fn, **params)


def _load_terms() -> None:
    """Import the term modules (they register themselves)."""
    from humimic.envs.terms import observations, rewards, terminations  # noqa: F401
