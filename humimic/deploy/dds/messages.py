"""Unitree G1 ("hg" family) DDS message types, wire compatible with Unitree's SDK.

The field order, array sizes and fully-qualified type names match Unitree's IDL
(``unitree_hg::msg::dds_::LowCmd_`` etc.), so SDK publishers and subscribers and the robot
see the same topic types. All structs are ``@final`` with sequential member ids, as the
IDL compiler emits them.
"""

# No `from __future__ import annotations` here: cyclonedds evaluates the field annotations
# at run time and cannot resolve them from strings.

import struct
import typing
from dataclasses import dataclass
from typing import Annotated

from cyclonedds.idl import IdlStruct
from cyclonedds.idl._support import Buffer, Endianness
from cyclonedds.idl.annotations import autoid, final
from cyclonedds.idl.types import array, float32, int16, uint8, uint32

NUM_MOTOR_SLOTS = 35
"""Motor slots in every hg body message (29 used on the 29-DoF G1, the rest unused)."""

REMOTE_BYTES = 40
"""Length of ``LowState_.wireless_remote`` in bytes."""

_NS = "unitree_hg.msg.dds_."  # cyclonedds turns the dots into "::" on the wire

# Fixed-length IDL arrays. ``array[T, n]`` evaluates to exactly these Annotated types at run
# time (so the wire types are unchanged), but spelled out mypy sees a Sequence[T] field.
# typing.Sequence, not collections.abc's, because that is what cyclonedds builds itself.
_Int16x2 = Annotated[typing.Sequence[int16], array(int16, 2)]
_Uint32x2 = Annotated[typing.Sequence[uint32], array(uint32, 2)]
_Uint32x4 = Annotated[typing.Sequence[uint32], array(uint32, 4)]
_Float32x3 = Annotated[typing.Sequence[float32], array(float32, 3)]
_Float32x4 = Annotated[typing.Sequence[float32], array(float32, 4)]
_RemoteBytes = Annotated[typing.Sequence[uint8], array(uint8, REMOTE_BYTES)]


@dataclass
@final
@autoid("sequential")
class MotorCmd_(IdlStruct, typename=_NS + "MotorCmd_"):  # noqa: N801 (Unitree's name)
    """Command for one motor: τ = tau + kp·(q − q_meas) + kd·(dq − dq_meas) (rad, rad/s, N·m)."""

    mode: uint8
    q: float32
    dq: float32
    tau: float32
    kp: float32
    kd: float32
    reserve: uint32


_MotorCmds = Annotated[typing.Sequence[MotorCmd_], array(MotorCmd_, NUM_MOTOR_SLOTS)]


# XCDR1 little-endian encoding of the two big messages with `struct`: cyclonedds' generic
# Python serializer takes ~0.8 ms per LowState_, too slow for 500 Hz. XCDR1 is what the writer
# uses for these final types; anything else falls back to the generic code. Nested structs
# carry no leading padding in CDR, hence the special first motor.
_XCDR1_LE_HEADER = b"\x00\x01\x00\x00"
_CDR_LOWCMD = struct.Struct("<2B" + "Bx5fI" + "B3x5fI" * (NUM_MOTOR_SLOTS - 1) + "4II")
_CDR_LOWSTATE = struct.Struct(
    "<2I2B2xI" + "13fh" + "Bx4f2hf7I" + "B3x4f2hf7I" * (NUM_MOTOR_SLOTS - 1) + "40B4II"
)


def _fast_path(buffer: object, endianness: object, use_version_2: object) -> bool:
    return buffer is None and endianness in (None, Endianness.Little) and not use_version_2


def _xcdr1_little_endian(data: bytes, has_header: bool) -> bool:
    return has_header and isinstance(data, bytes | bytearray) and data[:4] == _XCDR1_LE_HEADER


@dataclass
@final
@autoid("sequential")
class LowCmd_(IdlStruct, typename=_NS + "LowCmd_"):  # noqa: N801 (Unitree's name)
    """Whole-body command on ``rt/lowcmd``: mode_pr (0 = PR), mode_machine, 35 motors, CRC."""

    mode_pr: uint8
    mode_machine: uint8
    motor_cmd: _MotorCmds
    reserve: _Uint32x4
    crc: uint32

    def serialize(
        self,
        buffer: Buffer | None = None,
        endianness: Endianness | None = None,
        use_version_2: bool | None = None,
    ) -> bytes:
        """XCDR bytes with header (fast path for little endian without a buffer)."""
        if not _fast_path(buffer, endianness, use_version_2):
            return super().serialize(buffer, endianness, use_version_2)
        return _XCDR1_LE_HEADER + _CDR_LOWCMD.pack(*lowcmd_values(self))

    @classmethod
    def deserialize(
        cls, data: bytes, has_header: bool = True, use_version_2: bool | None = None
    ) -> "LowCmd_":
        """Parse XCDR bytes (fast path for little-endian data with a header)."""
        if not _xcdr1_little_endian(data, has_header):
            return super().deserialize(data, has_header, use_version_2)
        v = _CDR_LOWCMD.unpack_from(data, 4)
        motors = [MotorCmd_(*v[i : i + 7]) for i in range(2, 2 + 7 * NUM_MOTOR_SLOTS, 7)]
        return cls(v[0], v[1], motors, list(v[-5:-1]), v[-1])


@dataclass
@final
@autoid("sequential")
class MotorState_(IdlStruct, typename=_NS + "MotorState_"):  # noqa: N801 (Unitree's name)
    """Measured state of one motor (rad, rad/s, rad/s², N·m; temperature[0] casing, [1] winding)."""

    mode: uint8
    q: float32
    dq: float32
    ddq: float32
    tau_est: float32
    temperature: _Int16x2
    vol: float32
    sensor: _Uint32x2
    motorstate: uint32
    reserve: _Uint32x4


_MotorStates = Annotated[typing.Sequence[MotorState_], array(MotorState_, NUM_MOTOR_SLOTS)]


@dataclass
@final
@autoid("sequential")
class IMUState_(IdlStruct, typename=_NS + "IMUState_"):  # noqa: N801 (Unitree's name)
    """IMU: quaternion (w, x, y, z), gyroscope (rad/s, body frame), accelerometer (m/s²), rpy."""

    quaternion: _Float32x4
    gyroscope: _Float32x3
    accelerometer: _Float32x3
    rpy: _Float32x3
    temperature: int16


@dataclass
@final
@autoid("sequential")
class LowState_(IdlStruct, typename=_NS + "LowState_"):  # noqa: N801 (Unitree's name)
    """Robot state on ``rt/lowstate``: pelvis IMU, 35 motor states, remote bytes, CRC."""

    version: _Uint32x2
    mode_pr: uint8
    mode_machine: uint8
    tick: uint32
    imu_state: IMUState_
    motor_state: _MotorStates
    wireless_remote: _RemoteBytes
    reserve: _Uint32x4
    crc: uint32

    def serialize(
        self,
        buffer: Buffer | None = None,
        endianness: Endianness | None = None,
        use_version_2: bool | None = None,
    ) -> bytes:
        """XCDR bytes with header (fast path for little endian without a buffer)."""
        if not _fast_path(buffer, endianness, use_version_2):
            return super().serialize(buffer, endianness, use_version_2)
        return _XCDR1_LE_HEADER + _CDR_LOWSTATE.pack(*lowstate_values(self))

    @classmethod
    def deserialize(
        cls, data: bytes, has_header: bool = True, use_version_2: bool | None = None
    ) -> "LowState_":
        """Parse XCDR bytes (fast path for little-endian data with a header)."""
        if not _xcdr1_little_endian(data, has_header):
            return super().deserialize(data, has_header, use_version_2)
        v = _CDR_LOWSTATE.unpack_from(data, 4)
        imu = IMUState_(list(v[5:9]), list(v[9:12]), list(v[12:15]), list(v[15:18]), v[18])
        motors = []
        for i in range(19, 19 + 15 * NUM_MOTOR_SLOTS, 15):
            m = v[i : i + 15]
            motors.append(
                MotorState_(
                    m[0],
                    m[1],
                    m[2],
                    m[3],
                    m[4],
                    list(m[5:7]),
                    m[7],
                    list(m[8:10]),
                    m[10],
                    list(m[11:15]),
                )
            )
        end = 19 + 15 * NUM_MOTOR_SLOTS
        remote = bytes(v[end : end + REMOTE_BYTES])  # bytes, as the generic decoder gives
        return cls(list(v[0:2]), v[2], v[3], v[4], imu, motors, remote, list(v[-5:-1]), v[-1])


def zero_motor_cmd() -> MotorCmd_:
    """A disabled motor command (mode 0, all values 0)."""
    return MotorCmd_(mode=0, q=0.0, dq=0.0, tau=0.0, kp=0.0, kd=0.0, reserve=0)


def zero_lowcmd() -> LowCmd_:
    """A LowCmd_ with every field zero (all motors disabled, crc 0)."""
    return LowCmd_(
        mode_pr=0,
        mode_machine=0,
        motor_cmd=[zero_motor_cmd() for _ in range(NUM_MOTOR_SLOTS)],
        reserve=[0, 0, 0, 0],
        crc=0,
    )


def zero_imu_state() -> IMUState_:
    """An IMUState_ with the identity quaternion (1, 0, 0, 0) and everything else zero."""
    return IMUState_(
        quaternion=[1.0, 0.0, 0.0, 0.0],
        gyroscope=[0.0, 0.0, 0.0],
        accelerometer=[0.0, 0.0, 0.0],
        rpy=[0.0, 0.0, 0.0],
        temperature=0,
    )


def zero_motor_state() -> MotorState_:
    """A MotorState_ with every field zero."""
    return MotorState_(
        mode=0,
        q=0.0,
        dq=0.0,
        ddq=0.0,
        tau_est=0.0,
        temperature=[0, 0],
        vol=0.0,
        sensor=[0, 0],
        motorstate=0,
        reserve=[0, 0, 0, 0],
    )


def zero_lowstate() -> LowState_:
    """A LowState_ with every field zero except the identity IMU quaternion."""
    return LowState_(
        version=[0, 0],
        mode_pr=0,
        mode_machine=0,
        tick=0,
        imu_state=zero_imu_state(),
        motor_state=[zero_motor_state() for _ in range(NUM_MOTOR_SLOTS)],
        wireless_remote=[0] * REMOTE_BYTES,
        reserve=[0, 0, 0, 0],
        crc=0,
    )


def lowcmd_values(msg: LowCmd_) -> list[float | int]:
    """Every field of a LowCmd_ in declaration order (flattened), for ``struct`` packing:
    the wire encoding and the firmware's C-struct image (CRC) differ only in padding."""
    values: list[float | int] = [msg.mode_pr, msg.mode_machine]
    for m in msg.motor_cmd:
        values += (m.mode, m.q, m.dq, m.tau, m.kp, m.kd, m.reserve)
    values += msg.reserve
    values.append(msg.crc)
    return values


def lowstate_values(msg: LowState_) -> list[float | int]:
    """Every field of a LowState_ in declaration order (flattened); see :func:`lowcmd_values`."""
    imu = msg.imu_state
    values: list[float | int] = [*msg.version, msg.mode_pr, msg.mode_machine, msg.tick]
    values += (*imu.quaternion, *imu.gyroscope, *imu.accelerometer, *imu.rpy, imu.temperature)
    for m in msg.motor_state:
        values += (m.mode, m.q, m.dq, m.ddq, m.tau_est, *m.temperature, m.vol, *m.sensor)
        values += (m.motorstate, *m.reserve)
    values += msg.wireless_remote
    values += msg.reserve
    values.append(msg.crc)
    return values
