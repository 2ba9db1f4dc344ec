"""Compose a stage's YAML config with overrides and return its typed dataclass; write a
config as YAML and read it back (a run's ``config.yaml``).

The one module that touches Hydra/OmegaConf. Library code only
ever sees plain dataclasses, validated by their ``__post_init__`` before anything
expensive starts.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

from humimic.errors import ConfigError, HumimicError, InputFileError
from humimic.paths import CONFIGS_DIR

T = TypeVar("T")

SCHEMAS: dict[str, str] = {
    "retarget": "humimic.config.retarget:RetargetCfg",
    "train": "humimic.config.train:TrainCfg",
}
"""Primary config name -> ``module:Class`` of its schema (imported lazily)."""


def schema_class(stage: str) -> type[Any]:
    """The dataclass schema of a stage's primary config."""
    if stage not in SCHEMAS:
        raise ConfigError(f"unknown config '{stage}' (known: {', '.join(sorted(SCHEMAS))})")
    module_name, _, class_name = SCHEMAS[stage].partition(":")
    return getattr(importlib.import_module(module_name), class_name)


def compose(stage: str, overrides: Sequence[str] = (), config_dir: Path | None = None) -> Any:
    """Compose ``configs/<stage>.yaml`` with ``key=value`` overrides into its dataclass.

    Args:
        stage: Primary config name, e.g. ``"retarget"``.
        overrides: Hydra override strings such as ``"filter.stability_threshold_m=0.15"``.
        config_dir: Folder of YAML configs (default: the repository's ``configs/``).

    Raises:
        ConfigError: unknown key, wrong type or invalid value, naming the key.
    """
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.config_store import ConfigStore
    from hydra.core.global_hydra import GlobalHydra
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    # The YAML's defaults list starts with "<stage>_schema": keys and types come from the
    # dataclass, so every key can be overridden and a misspelt one is an error.
    ConfigStore.instance().store(name=f"{stage}_schema", node=schema_class(stage))
    config_dir = (config_dir or CONFIGS_DIR).resolve()
    GlobalHydra.instance().clear()
    try:
        additions, rest = split_additions(overrides)
        with initialize_config_dir(config_dir=str(config_dir), version_base="1.3"):
            raw = hydra_compose(config_name=stage, overrides=rest)
        return OmegaConf.to_object(add_entries(raw, additions))
    except ConfigError:
        raise
    except OmegaConfBaseException as err:
        key = getattr(err, "full_key", None) or ""
        message = str(err).splitlines()[0]
        raise ConfigError(
            f"config '{stage}' {('key ' + key + ': ') if key else ''}{message}"
        ) from err
    except Exception as err:  # Hydra wraps override errors in several exception types
        message = str(err).splitlines()[0] if str(err) else type(err).__name__
        cause = str(err.__cause__).splitlines()[0] if err.__cause__ else ""
        detail = f" ({cause})" if cause and cause not in message else ""
        raise ConfigError(f"config '{stage}': {message}{detail}") from err
    finally:
        GlobalHydra.instance().clear()


def split_additions(overrides: Sequence[str]) -> tuple[list[str], list[str]]:
    """(``+key.path=value`` overrides that add config entries, the others).

    Hydra adds a key by assignment, which OmegaConf refuses inside a typed dict of
    dataclasses (``task.rewards``, ``task.observations.actor.terms``): "dict is not a
    subclass of RewardTermCfg". Those additions are merged after composing instead
    (:func:`add_entries`). ``+group=option`` (no dot) stays with Hydra.
    """
    additions: list[str] = []
    rest: list[str] = []
    for o in overrides:
        key = o.split("=", 1)[0]
        (additions if key.startswith("+") and "." in key else rest).append(o)
    return additions, rest


def add_entries(raw: Any, additions: Sequence[str]) -> Any:
    """``raw`` (a composed DictConfig) with each ``+key.path=value`` merged in, in order.

    A merge builds a new typed entry from the dataclass's defaults plus the given fields,
    and refuses unknown fields of a dataclass, so a misspelt key is still an error.
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from omegaconf import OmegaConf, open_dict

    parser = OverridesParser.create()
    for text in additions:
        override = parser.parse_override(text)
        nested: Any = override.value()
        for part in reversed(override.key_or_group.split(".")):
            nested = {part: nested}
        with open_dict(raw):
            raw = OmegaConf.merge(raw, nested)
    OmegaConf.set_struct(raw, True)
    return raw


def to_yaml(cfg: Any) -> str:
    """A config dataclass as YAML, every key written (what :func:`load_yaml` reads back)."""
    from omegaconf import OmegaConf

    return OmegaConf.to_yaml(OmegaConf.structured(cfg))


def load_yaml(path: Path, stage: str) -> Any:
    """A config file written by :func:`to_yaml` (e.g. a run's ``config.yaml``), read into
    the dataclass of ``stage`` and validated like a composed config.

    Every top-level section of the schema must be present: an empty or truncated file
    would otherwise silently become the defaults.

    Raises:
        InputFileError: missing, unreadable, not YAML, unknown key, wrong type, missing
            section or invalid value; one line naming ``path``.
    """
    from omegaconf import DictConfig, OmegaConf

    schema = schema_class(stage)
    if not path.is_file():
        raise InputFileError(path, "not found")
    try:
        loaded = OmegaConf.load(path)
    except Exception as err:  # YAML and OmegaConf raise many types
        raise InputFileError(path, f"not a valid {stage} config ({_first_line(err)})") from err
    if not isinstance(loaded, DictConfig):
        raise InputFileError(path, "not a mapping of config keys")
    missing = [f.name for f in dataclasses.fields(schema) if f.name not in loaded]
    if missing:
        raise InputFileError(
            path, f"incomplete {stage} config (no {', '.join(missing)}; truncated?)"
        )
    try:
        return OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(schema), loaded))
    except HumimicError as err:  # a value out of range, from the schema's checks
        raise InputFileError(path, str(err)) from err
    except Exception as err:
        raise InputFileError(path, f"not a valid {stage} config ({_first_line(err)})") from err


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def to_dict(cfg: Any) -> dict[str, Any]:
    """A plain, JSON-serialisable dict of a config dataclass (for reports and manifests)."""
    from omegaconf import OmegaConf

    container = OmegaConf.to_container(OmegaConf.structured(cfg), resolve=True, enum_to_str=True)
    assert isinstance(container, dict)
    return {str(key): value for key, value in container.items()}
