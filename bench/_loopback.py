"""Keeps a benchmark process's WebRTC on 127.0.0.1, and checks that a process has no socket off loopback."""

from __future__ import annotations

import ipaddress
from typing import Any

import aioice.ice
import psutil
from aiortc import RTCConfiguration

LOOPBACK = "127.0.0.1"


def client_loopback_only() -> None:
    """Every aiortc connection made in this process gathers only a 127.0.0.1 host candidate.

    aioice gathers host candidates on every interface except loopback and has no setting for it, so its
    module function is replaced; the relay under test does its own restriction (ice_host_addresses).
    """

    def loopback_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        return [LOOPBACK] if use_ipv4 else []

    aioice.ice.get_host_addresses = loopback_addresses  # type: ignore[assignment]


def client_configuration() -> RTCConfiguration:
    # An empty list, not None: aiortc's default adds a public STUN server, which must never be contacted.
    return RTCConfiguration(iceServers=[])


def sockets_off_loopback(pid: int) -> tuple[list[str], list[str]]:
    """A process's (and its children's) inet sockets on a non-loopback address, and those on the wildcard one.

    A wildcard-bound socket can reach whatever the network namespace can; in a private namespace with only
    loopback (bench/_netns.py) that is loopback.
    """
    stray: list[str] = []
    wildcard: list[str] = []
    try:
        process = psutil.Process(pid)
        processes = [process, *process.children(recursive=True)]
    except psutil.NoSuchProcess:
        return stray, wildcard
    for each in processes:
        try:
            connections = each.net_connections(kind="inet")
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        for conn in connections:
            described = f"pid {each.pid} {each.name()}: {conn.type.name} {_addr(conn.laddr)} -> {_addr(conn.raddr)}"
            addresses = [ipaddress.ip_address(a.ip.split("%")[0]) for a in (conn.laddr, conn.raddr) if a]
            if any(not (a.is_loopback or a.is_unspecified) for a in addresses):
                stray.append(described)
            elif any(a.is_unspecified for a in addresses):
                wildcard.append(described)
    return stray, wildcard


def _addr(addr: Any) -> str:
    return f"{addr.ip}:{addr.port}" if addr else "-"
