"""Versioned JSON report files: written atomically, read back with one-line errors.

The shared reading and writing of every typed report (the clip report in
:mod:`humimic.motion.report`, the evaluation metrics in :mod:`humimic.eval.report`, the
sim-to-sim verdict in :mod:`humimic.deploy.sim2sim_report`): each of those owns its layout;
this module owns how a JSON object is written, parsed, versioned and checked entry by entry.
The standard library only, so every stage (and the robot-side install) can use it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from humimic.errors import InputFileError
from humimic.files import atomic_write, json_default


class JsonReport(Protocol):
    """A report that knows its JSON object (:class:`EvalReport`, the sim-to-sim report)."""

    def to_json(self) -> dict[str, Any]:
        """The file's JSON object."""
        ...


def write_report(path: str | Path, report: JsonReport) -> Path:
    """Write a report atomically as indented JSON (numpy values converted)."""
    text = json.dumps(report.to_json(), indent=1, default=json_default)
    return atomic_write(path, lambda p: p.write_text(text + "\n", encoding="utf-8"))


def load_json_object(path: str | Path) -> dict[str, Any]:
    """A JSON file that must hold an object.

    Raises:
        InputFileError: Missing, unreadable, not JSON, or not an object.
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as err:
        raise InputFileError(path, f"cannot read ({err.strerror or err})") from None
    except ValueError as err:
        raise InputFileError(path, f"not valid JSON ({err})") from None
    if not isinstance(data, dict):
        raise InputFileError(path, f"expected a JSON object, found {type(data).__name__}")
    return data


def read_schema_version(data: Mapping[str, Any], where: str, newest: int) -> int:
    """A report's ``schema_version`` (1 when absent), refused when newer than ``newest``.

    Raises:
        InputFileError: Not a positive integer, or newer than this humimic reads.
    """
    version = data.get("schema_version", 1)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise InputFileError(where, f"schema_version {version!r} is not a positive integer")
    if version > newest:
        raise InputFileError(
            where, f"schema_version {version} is newer than this humimic reads ({newest})"
        )
    return version


class JsonReader:
    """Typed look-ups in a parsed JSON object; each failure is one line naming the entry."""

    def __init__(self, data: Mapping[str, Any], where: str, prefix: str = "") -> None:
        self.data, self.where, self.prefix = data, where, prefix

    def _get(self, key: str) -> Any:
        if key not in self.data:
            self._fail(key, "missing")
        return self.data[key]

    def _fail(self, key: str, problem: str) -> None:
        raise InputFileError(self.where, f"{self.prefix}{key}: {problem}")

    def object(self, key: str) -> Mapping[str, Any]:
        """A nested object."""
        value = self._get(key)
        if not isinstance(value, Mapping):
            self._fail(key, "not an object")
        return value

    def number(self, key: str) -> float:
        """A number (NaN allowed: a metric no episode qualified for)."""
        value = self._get(key)
        if not is_number(value):
            self._fail(key, f"{value!r} is not a number")
        return float(value)

    def integer(self, key: str, minimum: int = 0) -> int:
        """An integer of at least ``minimum``."""
        value = self._get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            self._fail(key, f"{value!r} is not an integer >= {minimum}")
        return int(value)

    def flag(self, key: str) -> bool:
        """A true/false value."""
        value = self._get(key)
        if not isinstance(value, bool):
            self._fail(key, f"{value!r} is not true or false")
        return bool(value)

    def text(self, key: str) -> str:
        """A string."""
        value = self._get(key)
        if not isinstance(value, str):
            self._fail(key, f"{value!r} is not a string")
        return str(value)

    def numbers(self, key: str, length: int | None = None) -> tuple[float, ...]:
        """A list of numbers (of ``length`` entries when given)."""
        value = self._get(key)
        if not isinstance(value, list) or not all(is_number(v) for v in value):
            self._fail(key, "not a list of numbers")
        if length is not None and len(value) != length:
            self._fail(key, f"{len(value)} values, expected {length}")
        return tuple(float(v) for v in value)

    def texts(self, key: str) -> tuple[str, ...]:
        """A list of strings."""
        value = self._get(key)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self._fail(key, "not a list of strings")
        return tuple(value)

    def number_map(self, key: str) -> dict[str, float]:
        """An object of numbers."""
        value = self.object(key)
        if not all(is_number(v) for v in value.values()):
            self._fail(key, "not an object of numbers")
        return {str(k): float(v) for k, v in value.items()}

    def text_map(self, key: str) -> dict[str, str]:
        """An object of strings."""
        value = self.object(key)
        if not all(isinstance(v, str) for v in value.values()):
            self._fail(key, "not an object of strings")
        return {str(k): str(v) for k, v in value.items()}


def is_number(value: object) -> bool:
    """An int or float that is not a bool (NaN and infinities included)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def is_finite_number(value: object) -> bool:
    """A finite int or float that is not a bool."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
