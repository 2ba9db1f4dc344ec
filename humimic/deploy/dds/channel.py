"""Thin wrappers over cyclonedds: one participant bound to one network interface.

Unitree's robots run CycloneDDS; humimic uses the Python binding (cyclonedds 11) with the
default QoS, as Unitree's SDK does. Topic names are the robot's: ``rt/lowstate``, ``rt/lowcmd``.
"""

from __future__ import annotations

import atexit
import fcntl
import ipaddress
import socket
import struct
import threading
import time
import weakref
from collections.abc import Callable
from typing import Generic, TypeVar

from cyclonedds.core import Listener, Policy, Qos
from cyclonedds.domain import Domain, DomainParticipant
from cyclonedds.internal import InvalidSample
from cyclonedds.pub import DataWriter
from cyclonedds.sub import DataReader
from cyclonedds.topic import Topic

from humimic.errors import ConfigError

TOPIC_LOWSTATE = "rt/lowstate"
TOPIC_LOWCMD = "rt/lowcmd"

MAX_DOMAIN_ID = 232  # highest id with the default port mapping (7400 + 250·id + offsets < 65536)

T = TypeVar("T")

_CONFIG = """<?xml version="1.0" encoding="UTF-8" ?>
<CycloneDDS>
  <Domain Id="any">
    <General>
      <Interfaces>
        <NetworkInterface name="{iface}" priority="default" multicast="default"/>
      </Interfaces>
    </General>
  </Domain>
</CycloneDDS>"""

# cyclonedds allows one configured Domain object per id and process; share it between nodes.
_domains: dict[int, tuple[str, Domain]] = {}
_domains_lock = threading.Lock()
_open_nodes: weakref.WeakSet[DdsNode] = weakref.WeakSet()


@atexit.register
def _close_open_nodes() -> None:
    # Listener threads calling into a finalizing interpreter crash it: delete every participant
    # (and so every reader and its listener) while Python is still fully alive.
    for node in list(_open_nodes):
        node.close()


def check_interface(interface: str) -> None:
    """Raise ConfigError unless ``interface`` names a network interface of this machine."""
    names = [name for _, name in socket.if_nameindex()]
    if interface not in names:
        raise ConfigError(f"--iface {interface!r}: no such network interface (have: {names})")


_SIOCGIFADDR = 0x8915  # Linux ioctl: an interface's IPv4 address


def interface_addresses(interface: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """The IP addresses of a network interface (Linux: ioctl for IPv4, /proc for IPv6).

    An interface that does not exist, or has no address, gives an empty list.
    """
    found: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = []
    name = interface.encode()[:15]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            raw = fcntl.ioctl(sock.fileno(), _SIOCGIFADDR, struct.pack("256s", name))
            found.append(ipaddress.IPv4Address(raw[20:24]))
        except OSError:  # no such interface, or no IPv4 address on it
            pass
    try:  # one line per address: hex address, index, prefix, scope, flags, name
        with open("/proc/net/if_inet6", encoding="ascii") as rows:
            for row in rows:
                cols = row.split()
                if len(cols) == 6 and cols[5] == interface:
                    found.append(ipaddress.IPv6Address(bytes.fromhex(cols[0])))
    except OSError:  # no IPv6 on this machine
        pass
    return found


def is_loopback_interface(interface: str) -> bool:
    """True when the interface has addresses and every one is loopback (127.0.0.0/8, ::1).

    Decided by address, not by name: an Ethernet port named "lo0" is not loopback.
    """
    addresses = interface_addresses(interface)
    return bool(addresses) and all(a.is_loopback for a in addresses)


def cyclonedds_config(interface: str) -> str:
    """CycloneDDS XML configuration that binds DDS traffic to one network interface."""
    return _CONFIG.format(iface=interface)


class DdsNode:
    """A DDS domain participant on one network interface.

    Args:
        domain_id: DDS domain (0 on the real robot; 1 is customary for simulation).
        interface: network interface name ("lo" for a simulated robot, "eth0" etc. for the G1).
    """

    def __init__(self, domain_id: int, interface: str) -> None:
        if not 0 <= domain_id <= MAX_DOMAIN_ID:
            raise ConfigError(f"--domain-id {domain_id}: must be in 0..{MAX_DOMAIN_ID}")
        check_interface(interface)
        with _domains_lock:
            known = _domains.get(domain_id)
            if known is None:
                _domains[domain_id] = (interface, Domain(domain_id, cyclonedds_config(interface)))
            elif known[0] != interface:
                raise ConfigError(
                    f"DDS domain {domain_id} already uses interface {known[0]!r} in this process"
                )
        self.domain_id = domain_id
        self.interface = interface
        self.participant = DomainParticipant(domain_id)
        self._topics: dict[str, Topic] = {}
        self._closed = False
        _open_nodes.add(self)

    def close(self) -> None:
        """Delete the participant with all its readers and writers (waits for listeners)."""
        if self._closed:
            return
        self._closed = True
        _open_nodes.discard(self)
        self.participant._delete(self.participant._ref)  # cyclonedds has no public delete

    def __enter__(self) -> DdsNode:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def topic(self, name: str, msg_type: type) -> Topic:
        """The topic ``name`` with ``msg_type`` (created once per node)."""
        if name not in self._topics:
            self._topics[name] = Topic(self.participant, name, msg_type)
        return self._topics[name]

    def publisher(self, name: str, msg_type: type) -> DataWriter:
        """A writer on topic ``name``; ``writer.write(sample)`` publishes."""
        return DataWriter(self.participant, self.topic(name, msg_type))

    def subscriber(
        self,
        name: str,
        msg_type: type[T],
        callback: Callable[[T], None] | None = None,
        ignore_local: bool = False,
    ) -> Subscription[T]:
        """Subscribe to topic ``name``.

        Args:
            name: topic name, e.g. ``rt/lowstate``.
            msg_type: IDL message class.
            callback: called from the DDS listener thread with each sample; keep it short.
            ignore_local: drop samples written by this process (used to spot foreign writers).

        Returns:
            A Subscription that always holds the latest sample and its arrival time.
        """
        return Subscription(self, name, msg_type, callback, ignore_local)


class Subscription(Generic[T]):
    """Latest-value holder of a topic, optionally forwarding every sample to a callback.

    The callback runs on a cyclonedds listener thread. Do not write, from another thread of the
    same process, to a topic that has a local reader with a callback while remote samples
    arrive: cyclonedds' Python ``write`` keeps the GIL while delivering locally, the listener
    thread waits for the GIL, and both hang (seen in tests). humimic keeps each topic's writer
    and its callback readers in different processes, or reads with ``ignore_local``.
    """

    def __init__(
        self,
        node: DdsNode,
        name: str,
        msg_type: type[T],
        callback: Callable[[T], None] | None,
        ignore_local: bool,
    ) -> None:
        self._lock = threading.Lock()
        self._latest: T | None = None
        self._stamp = 0.0
        self.count = 0
        self._callback = callback
        qos = Qos(Policy.IgnoreLocal.Process) if ignore_local else None
        self._reader = DataReader(
            node.participant,
            node.topic(name, msg_type),
            qos=qos,
            listener=Listener(on_data_available=self._on_data),
        )

    def _on_data(self, reader: DataReader | None) -> None:
        if reader is None:  # the Python reader object is already gone (shutdown)
            return
        for sample in reader.take(16):
            if isinstance(sample, InvalidSample):
                continue
            with self._lock:
                self._latest = sample
                self._stamp = time.monotonic()
                self.count += 1
            if self._callback is not None:
                self._callback(sample)

    def latest(self) -> tuple[T | None, float]:
        """(latest sample or None, its arrival time on ``time.monotonic()``)."""
        with self._lock:
            return self._latest, self._stamp

    def wait(self, timeout: float) -> T | None:
        """Block until a first sample has arrived (or ``timeout`` s passed); return it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            sample, _ = self.latest()
            if sample is not None:
                return sample
            time.sleep(0.002)
        return self.latest()[0]
