"""Unitree remote controller bytes (``LowState_.wireless_remote``, 40 bytes).

Bytes 0–1 are a header, bytes 2–3 a little-endian uint16 button bitfield, then float32 sticks
``lx`` @4, ``rx`` @8, ``ry`` @12, ``L2`` (analog) @16 and ``ly`` @20.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence

from humimic.deploy.dds.messages import REMOTE_BYTES
from humimic.errors import ConfigError

BUTTONS: tuple[str, ...] = (
    "R1",
    "L1",
    "start",
    "select",
    "R2",
    "L2",
    "F1",
    "F2",
    "A",
    "B",
    "X",
    "Y",
    "up",
    "right",
    "down",
    "left",
)
"""Button names by bit index (bit 0 = R1)."""

_BIT = {name: i for i, name in enumerate(BUTTONS)}


def decode_buttons(remote: Sequence[int] | bytes) -> frozenset[str]:
    """Names of the buttons held down in a 40-byte ``wireless_remote`` array."""
    bits = int(remote[2]) | (int(remote[3]) << 8)
    return frozenset(name for name, i in _BIT.items() if bits >> i & 1)


def decode_sticks(remote: Sequence[int] | bytes) -> dict[str, float]:
    """Stick axes lx, rx, ry, L2 (analog) and ly, each in [-1, 1] (L2 in [0, 1])."""
    raw = bytes(bytearray(remote))
    lx, rx, ry, l2, ly = struct.unpack_from("<5f", raw, 4)
    return {"lx": lx, "rx": rx, "ry": ry, "L2": l2, "ly": ly}


def encode_remote(buttons: Iterable[str] = ()) -> bytes:
    """A 40-byte ``wireless_remote`` with ``buttons`` held and the sticks centred."""
    bits = 0
    for name in buttons:
        if name not in _BIT:
            raise ConfigError(f"remote button {name!r} does not exist (known: {BUTTONS})")
        bits |= 1 << _BIT[name]
    out = bytearray(REMOTE_BYTES)
    struct.pack_into("<H", out, 2, bits)
    return bytes(out)


KEY_BUTTONS = {"s": "start", "a": "A", "b": "B", "q": "select", "y": "Y", "x": "X"}
"""Keyboard fallback: a line with one of these letters presses that button for one step."""


class StdinButtons:
    """Keyboard fallback for the remote: type a letter + Enter (s start, a A, b B, q select).

    Call the instance once per control step; it returns the buttons pressed since the last call.
    """

    def __init__(self) -> None:
        import sys
        import threading

        self._pending: set[str] = set()
        self._lock = threading.Lock()
        self._stream = sys.stdin
        threading.Thread(target=self._read, name="stdin-buttons", daemon=True).start()

    def _read(self) -> None:
        for line in self._stream:
            key = line.strip().lower()[:1]
            if key in KEY_BUTTONS:
                with self._lock:
                    self._pending.add(KEY_BUTTONS[key])

    def __call__(self) -> frozenset[str]:
        with self._lock:
            pressed, self._pending = frozenset(self._pending), set()
        return pressed
