"""Unitree SDK side of the interop test, run as its own process (the SDK is a singleton).

Usage: python sdk_peer.py DOMAIN SECONDS
Publishes hg LowState_ (CRC by the SDK) on rt/lowstate at 100 Hz, collects every LowCmd_ on
rt/lowcmd, and prints one JSON line: the commands seen and whether the SDK's CRC matched.
"""

import json
import sys
import time

from unitree_sdk2py.core.channel import (
    ChannelFactoryInitialize,
    ChannelPublisher,
    ChannelSubscriber,
)
from unitree_sdk2py.idl.default import unitree_hg_msg_dds__LowState_
from unitree_sdk2py.idl.unitree_hg.msg.dds_ import LowCmd_, LowState_
from unitree_sdk2py.utils.crc import CRC

domain, seconds = int(sys.argv[1]), float(sys.argv[2])
ChannelFactoryInitialize(domain, "lo")
seen = []


def on_cmd(msg: LowCmd_) -> None:
    seen.append(
        {
            "crc": msg.crc,
            "sdk_crc": CRC().Crc(msg),
            "mode_machine": msg.mode_machine,
            "q3": msg.motor_cmd[3].q,
            "kp3": msg.motor_cmd[3].kp,
        }
    )


sub = ChannelSubscriber("rt/lowcmd", LowCmd_)
sub.Init(on_cmd, 10)
pub = ChannelPublisher("rt/lowstate", LowState_)
pub.Init()
state = unitree_hg_msg_dds__LowState_()
state.mode_machine = 5
state.imu_state.quaternion = [0.9, 0.1, 0.2, 0.3]
state.motor_state[7].q = 1.25
state.wireless_remote = bytes([0, 0, 4, 1] + [0] * 36)
end = time.monotonic() + seconds
tick = 0
while time.monotonic() < end:
    tick += 1
    state.tick = tick
    state.crc = CRC().Crc(state)
    pub.Write(state)
    time.sleep(0.01)
print(json.dumps({"seen": seen[:5], "count": len(seen)}))
