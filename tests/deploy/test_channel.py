"""DdsNode: interface checks and real pub/sub over the loopback interface."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from humimic.deploy.dds.channel import TOPIC_LOWCMD, DdsNode, cyclonedds_config
from humimic.deploy.dds.messages import LowCmd_, zero_lowcmd
from humimic.errors import ConfigError


def test_missing_interface_and_bad_domain_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="no such network interface"):
        DdsNode(5, "humimic-no-such-if0")
    with pytest.raises(ConfigError, match="domain-id"):
        DdsNode(400, "lo")


def test_config_names_the_interface() -> None:
    assert '<NetworkInterface name="eth7"' in cyclonedds_config("eth7")


def test_loopback_pub_sub_and_ignore_local(domain_id: int) -> None:
    with DdsNode(domain_id, "lo") as node:
        check_loopback(node, domain_id)


def check_loopback(node: DdsNode, domain_id: int) -> None:
    got: list[int] = []
    everything = node.subscriber(TOPIC_LOWCMD, LowCmd_, callback=lambda m: got.append(m.crc))
    foreign_only = node.subscriber(TOPIC_LOWCMD, LowCmd_, ignore_local=True)
    writer = node.publisher(TOPIC_LOWCMD, LowCmd_)
    time.sleep(0.3)  # discovery
    msg = zero_lowcmd()
    for i in range(20):
        msg.crc = i
        writer.write(msg)
        time.sleep(0.005)
    everything.wait(1.0)
    time.sleep(0.2)
    assert got == list(range(20))
    assert foreign_only.count == 0
    # the same topic written from another process is seen by the ignore-local reader
    code = (
        "import time\n"
        "from humimic.deploy.dds.channel import DdsNode\n"
        "from humimic.deploy.dds.messages import LowCmd_, zero_lowcmd\n"
        f"w = DdsNode({domain_id}, 'lo').publisher('rt/lowcmd', LowCmd_)\n"
        "m = zero_lowcmd(); m.crc = 999\n"
        "for _ in range(40):\n    w.write(m); time.sleep(0.02)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30)
    assert foreign_only.count > 0
    assert foreign_only.latest()[0].crc == 999
