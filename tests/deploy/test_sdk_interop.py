"""Interoperability with Unitree's Python SDK (unitree_sdk2py from unitree-sdk2py-dimos).

The SDK runs in its own process; both sides use cyclonedds 11 on the loopback interface.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from humimic.deploy.dds.channel import TOPIC_LOWCMD, TOPIC_LOWSTATE, DdsNode
from humimic.deploy.dds.crc import check_crc, lowcmd_crc, lowstate_crc, set_crc
from humimic.deploy.dds.messages import LowCmd_, LowState_, zero_lowcmd
from humimic.deploy.remote import decode_buttons

sdk_crc = pytest.importorskip("unitree_sdk2py.utils.crc", reason="unitree-sdk2py-dimos missing")
from unitree_sdk2py.idl.default import (  # noqa: E402
    unitree_hg_msg_dds__LowCmd_,
    unitree_hg_msg_dds__LowState_,
)

PEER = Path(__file__).with_name("sdk_peer.py")


def test_sdk_crc_equals_ours_for_both_messages() -> None:
    rng = np.random.default_rng(3)
    theirs, ours = unitree_hg_msg_dds__LowCmd_(), zero_lowcmd()
    theirs.mode_machine = ours.mode_machine = 5
    for i in range(35):
        q, kp, kd = (float(np.float32(v)) for v in rng.normal(size=3))
        for m in (theirs.motor_cmd[i], ours.motor_cmd[i]):
            m.mode, m.q, m.kp, m.kd, m.reserve = 1, q, kp, kd, i
    assert sdk_crc.CRC().Crc(theirs) == lowcmd_crc(ours)
    state = unitree_hg_msg_dds__LowState_()
    state.tick, state.mode_machine = 123456, 4
    state.imu_state.quaternion = [0.5, -0.5, 0.5, 0.5]
    state.motor_state[9].q, state.motor_state[9].temperature = -0.75, [40, 55]
    state.wireless_remote = bytes(range(40))
    ours_state = LowState_.deserialize(state.serialize())
    assert sdk_crc.CRC().Crc(state) == lowstate_crc(ours_state)


def test_sdk_receives_our_lowcmd_and_we_read_its_lowstate(domain_id: int) -> None:
    peer = subprocess.Popen(
        [sys.executable, str(PEER), str(domain_id), "4.0"], stdout=subprocess.PIPE, text=True
    )
    node = DdsNode(domain_id, "lo")
    try:
        states = node.subscriber(TOPIC_LOWSTATE, LowState_)
        writer = node.publisher(TOPIC_LOWCMD, LowCmd_)
        first = states.wait(10.0)
        assert first is not None, "no LowState from the SDK"
        msg = zero_lowcmd()
        msg.mode_machine = 5
        msg.motor_cmd[3].mode, msg.motor_cmd[3].q, msg.motor_cmd[3].kp = 1, 0.5, 150.0
        set_crc(msg)
        for _ in range(50):
            writer.write(msg)
            time.sleep(0.02)
        out, _ = peer.communicate(timeout=20)
        state, _ = states.latest()
    finally:
        peer.kill()
        node.close()
    assert check_crc(state)  # the SDK's CRC passes our check
    assert state.mode_machine == 5 and state.tick > 0
    assert state.motor_state[7].q == 1.25
    assert decode_buttons(state.wireless_remote) == {"start", "A"}
    report = json.loads(out.strip().splitlines()[-1])
    assert report["count"] > 10
    got = report["seen"][0]
    assert got["crc"] == got["sdk_crc"] == msg.crc
    assert (got["mode_machine"], got["q3"], got["kp3"]) == (5, 0.5, 150.0)
