"""CRC-32 of hg LowCmd_/LowState_ exactly as the G1 firmware checks it.

The robot packs the message as its little-endian C struct (4-byte aligned), splits the image
into 32-bit little-endian words, drops the final ``crc`` word, and runs CRC-32 with polynomial
0x04C11DB7, init 0xFFFFFFFF, MSB first, no reflection and no final XOR over the words. That is
CRC-32/MPEG-2 over the image with every 4-byte word byte-swapped.

Speed: the image length is fixed per message type, and a CRC without its init value is linear
over GF(2), so ``crc = c0 ^ XOR_i T[i, byte_i]`` with one 256-entry table per byte *position*
(``T`` is 1000×256 uint32 = 1 MB for LowCmd). The XOR of ~1000 table entries is one numpy
gather + reduce; packing the Python message object with ``struct`` dominates the cost.
"""

from __future__ import annotations

import struct
from functools import cache

import numpy as np

from humimic.deploy.dds.messages import (
    NUM_MOTOR_SLOTS,
    LowCmd_,
    LowState_,
    lowcmd_values,
    lowstate_values,
)

POLY = 0x04C11DB7
INIT = 0xFFFFFFFF

# Explicit padding ("x") reproduces the C layout: uint8 fields are padded to the next float.
_MOTOR_CMD_FMT = "B3x5fI"  # 28 bytes
_LOWCMD_FMT = "<2B2x" + _MOTOR_CMD_FMT * NUM_MOTOR_SLOTS + "4I" + "I"
_MOTOR_STATE_FMT = "B3x4f2hf2II4I"  # 56 bytes
_IMU_FMT = "13fh2x"  # 56 bytes
_LOWSTATE_FMT = "<2I2B2xI" + _IMU_FMT + _MOTOR_STATE_FMT * NUM_MOTOR_SLOTS + "40B4I" + "I"

LOWCMD_STRUCT = struct.Struct(_LOWCMD_FMT)
LOWSTATE_STRUCT = struct.Struct(_LOWSTATE_FMT)
MOTOR_CMD_SIZE = struct.calcsize("<" + _MOTOR_CMD_FMT)
LOWCMD_SIZE = LOWCMD_STRUCT.size  # 1004
LOWSTATE_SIZE = LOWSTATE_STRUCT.size  # 2092


def pack_lowcmd(msg: LowCmd_) -> bytes:
    """Pack a LowCmd_ into its 1004-byte little-endian C-struct image (crc word included)."""
    return LOWCMD_STRUCT.pack(*lowcmd_values(msg))


def pack_lowstate(msg: LowState_) -> bytes:
    """Pack a LowState_ into its 2092-byte little-endian C-struct image (crc word included)."""
    return LOWSTATE_STRUCT.pack(*lowstate_values(msg))


def _x_powers(n_bits: int) -> np.ndarray:
    """x^(k+32) mod P for k = 0..n_bits-1, as uint32 (bit k counted from the message end)."""
    out = np.empty(n_bits, dtype=np.uint32)
    p = POLY  # x^32 mod P
    for k in range(n_bits):
        out[k] = p
        p = ((p << 1) ^ POLY) & 0xFFFFFFFF if p & 0x80000000 else (p << 1)
    return out


def _register_after_zeros(n_bits: int) -> int:
    """The CRC register after shifting ``n_bits`` zero bits through it from INIT."""
    crc = INIT
    for _ in range(n_bits):
        crc = ((crc << 1) ^ POLY) & 0xFFFFFFFF if crc & 0x80000000 else (crc << 1)
    return crc


@cache
def _position_tables(n_bytes: int) -> tuple[np.ndarray, int]:
    """Per-position byte tables (n_bytes, 256) and the constant (CRC of an all-zero image)."""
    n_bits = 8 * n_bytes
    powers = _x_powers(n_bits)[::-1]  # powers[i] is the contribution of stream bit i
    bit_contrib = powers.reshape(n_bytes, 8)  # column 0 = MSB of each byte
    values = np.arange(256, dtype=np.uint32)
    table = np.zeros((n_bytes, 256), dtype=np.uint32)
    for b in range(8):
        has_bit = ((values >> (7 - b)) & 1).astype(bool)
        table[:, has_bit] ^= bit_contrib[:, b : b + 1]
    return table, _register_after_zeros(n_bits)


def crc32_mpeg2(stream: bytes | np.ndarray) -> int:
    """CRC-32/MPEG-2 (poly 0x04C11DB7, init ~0, MSB first, no reflection, no final XOR).

    Args:
        stream: the bytes, in the order they enter the shift register.

    Returns:
        The CRC as an unsigned 32-bit int.
    """
    data = np.frombuffer(stream, dtype=np.uint8) if isinstance(stream, bytes) else stream
    table, c0 = _position_tables(data.size)
    contrib = table[np.arange(data.size), data]
    return int(np.bitwise_xor.reduce(contrib)) ^ c0


def crc32_words(image: bytes) -> int:
    """CRC-32 over the little-endian 32-bit words of ``image`` except the last (the crc word).

    Args:
        image: packed C-struct bytes, length a multiple of 4.

    Returns:
        The CRC as an unsigned 32-bit int.
    """
    words = np.frombuffer(image, dtype="<u4")[:-1]
    return crc32_mpeg2(words.byteswap().view(np.uint8))  # MSB of each word first


def lowcmd_crc(msg: LowCmd_) -> int:
    """CRC of a LowCmd_ as the robot computes it (the message's own crc field is ignored)."""
    return crc32_words(pack_lowcmd(msg))


def lowstate_crc(msg: LowState_) -> int:
    """CRC of a LowState_ as the robot computes it (the message's own crc field is ignored)."""
    return crc32_words(pack_lowstate(msg))


def _crc_of(msg: LowCmd_ | LowState_) -> int:
    if isinstance(msg, LowCmd_):
        return lowcmd_crc(msg)
    if isinstance(msg, LowState_):
        return lowstate_crc(msg)
    raise TypeError(f"no CRC defined for {type(msg).__name__}")


def set_crc(msg: LowCmd_ | LowState_) -> None:
    """Compute the CRC of ``msg`` and store it in ``msg.crc``."""
    msg.crc = _crc_of(msg)


def check_crc(msg: LowCmd_ | LowState_) -> bool:
    """True when ``msg.crc`` equals the CRC of the rest of the message."""
    return int(msg.crc) == _crc_of(msg)
