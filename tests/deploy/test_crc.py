"""CRC-32 of hg messages against an independent bitwise implementation; packed sizes; codec."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from cyclonedds.idl import IdlStruct

from humimic.deploy.dds import crc as crcmod
from humimic.deploy.dds.messages import LowCmd_, LowState_, zero_lowcmd, zero_lowstate


def bitwise_crc(image: bytes) -> int:
    """Plain shift-register CRC-32 (poly 0x04C11DB7, init ~0, MSB first) over LE words but last."""
    crc = 0xFFFFFFFF
    words = struct.unpack(f"<{len(image) // 4}I", image)[:-1]
    for word in words:
        for bit in range(31, -1, -1):
            top = (crc >> 31) ^ ((word >> bit) & 1)
            crc = (crc << 1) & 0xFFFFFFFF
            if top:
                crc ^= 0x04C11DB7
    return crc


def random_lowcmd(rng: np.random.Generator) -> LowCmd_:
    msg = zero_lowcmd()
    msg.mode_pr, msg.mode_machine = int(rng.integers(0, 2)), int(rng.integers(0, 10))
    for m in msg.motor_cmd:
        m.mode = int(rng.integers(0, 2))
        m.q, m.dq, m.tau, m.kp, m.kd = (float(np.float32(v)) for v in rng.normal(size=5) * 10)
        m.reserve = int(rng.integers(0, 2**32))
    msg.reserve = [int(v) for v in rng.integers(0, 2**32, size=4)]
    return msg


def random_lowstate(rng: np.random.Generator) -> LowState_:
    msg = zero_lowstate()
    msg.version = [1, 7]
    msg.mode_machine, msg.tick = 5, int(rng.integers(0, 2**32))
    imu = msg.imu_state
    imu.quaternion = [float(np.float32(v)) for v in rng.normal(size=4)]
    imu.gyroscope = [float(np.float32(v)) for v in rng.normal(size=3)]
    imu.temperature = int(rng.integers(-100, 100))
    for m in msg.motor_state:
        m.q, m.dq, m.tau_est = (float(np.float32(v)) for v in rng.normal(size=3))
        m.temperature = [int(v) for v in rng.integers(-300, 300, size=2)]
        m.motorstate = int(rng.integers(0, 2**32))
    msg.wireless_remote = bytes(rng.integers(0, 256, size=40, dtype=np.uint8))
    return msg


def test_packed_sizes_match_the_robot() -> None:
    assert crcmod.MOTOR_CMD_SIZE == 28
    assert crcmod.LOWCMD_SIZE == 1004
    assert crcmod.LOWSTATE_SIZE == 2092
    assert len(crcmod.pack_lowcmd(zero_lowcmd())) == 1004
    assert len(crcmod.pack_lowstate(zero_lowstate())) == 2092


def test_pack_layout_puts_fields_at_c_offsets() -> None:
    msg = zero_lowcmd()
    msg.mode_machine = 5
    msg.motor_cmd[1].mode, msg.motor_cmd[1].kp = 1, 40.0
    msg.crc = 0xAABBCCDD
    image = crcmod.pack_lowcmd(msg)
    assert image[1] == 5
    # motor 1 starts at 4 + 28; mode byte, 3 pad bytes, then q, dq, tau, kp
    assert image[32] == 1
    assert struct.unpack_from("<f", image, 32 + 4 + 12)[0] == 40.0
    assert struct.unpack_from("<I", image, 1000)[0] == 0xAABBCCDD


def test_known_vector_all_zero_lowcmd() -> None:
    assert crcmod.lowcmd_crc(zero_lowcmd()) == bitwise_crc(bytes(1004))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_crc_equals_bitwise_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    cmd, state = random_lowcmd(rng), random_lowstate(rng)
    assert crcmod.lowcmd_crc(cmd) == bitwise_crc(crcmod.pack_lowcmd(cmd))
    assert crcmod.lowstate_crc(state) == bitwise_crc(crcmod.pack_lowstate(state))


def test_engine_is_crc32_mpeg2_with_the_catalogue_check_value() -> None:
    # CRC-32/MPEG-2 check value (CRC of b"123456789") from the CRC catalogue
    assert crcmod.crc32_mpeg2(b"123456789") == 0x0376E6E7
    # word CRC = MPEG-2 over the words with their bytes swapped
    image = bytes(range(1, 17)) + bytes(4)
    swapped = b"".join(image[i : i + 4][::-1] for i in range(0, 16, 4))
    assert crcmod.crc32_words(image) == crcmod.crc32_mpeg2(swapped) == bitwise_crc(image)


def test_set_and_check_crc_catch_a_single_flipped_bit() -> None:
    rng = np.random.default_rng(5)
    cmd = random_lowcmd(rng)
    crcmod.set_crc(cmd)
    assert crcmod.check_crc(cmd)
    cmd.motor_cmd[17].reserve ^= 1 << 13
    assert not crcmod.check_crc(cmd)
    state = random_lowstate(rng)
    crcmod.set_crc(state)
    assert crcmod.check_crc(state)
    state.wireless_remote = bytes([state.wireless_remote[0] ^ 0x80]) + state.wireless_remote[1:]
    assert not crcmod.check_crc(state)


@pytest.mark.parametrize("version_2", [None, False, True])
def test_fast_codec_matches_cyclonedds_generic_serializer(version_2: bool | None) -> None:
    rng = np.random.default_rng(9)
    for msg, cls in ((random_lowcmd(rng), LowCmd_), (random_lowstate(rng), LowState_)):
        crcmod.set_crc(msg)
        fast = msg.serialize(use_version_2=version_2)
        generic = IdlStruct.serialize(msg, use_version_2=version_2)
        assert fast == generic
        assert cls.deserialize(fast) == cls.__idl__.deserialize(generic)
        assert cls.deserialize(fast) == msg
