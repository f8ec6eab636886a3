"""Keeps WebRTC host candidates to the addresses we were given, and announces a 1:1 NAT's public address."""

from __future__ import annotations

import contextlib
import ipaddress
import threading
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar

import aioice.ice

_HOST_ADDRESSES: ContextVar[tuple[str, ...] | None] = ContextVar("lantern_ice_host_addresses", default=None)
_install_lock = threading.Lock()
_installed = False


@contextlib.contextmanager
def host_addresses_only(addresses: Sequence[str]) -> Iterator[None]:
    """Host candidates gathered in this block (RTCPeerConnection.setLocalDescription gathers) use only `addresses`.

    The setting is a context variable, so it reaches the tasks aiortc starts for gathering and no other
    connection in the process, whatever it is doing at the same time.
    """
    chosen = tuple(addresses_checked(addresses))
    _install()
    token = _HOST_ADDRESSES.set(chosen)
    try:
        yield
    finally:
        _HOST_ADDRESSES.reset(token)


def addresses_checked(addresses: Sequence[str]) -> list[str]:
    """`addresses` as IP address strings, or ValueError naming the first one that is not an IP address."""
    if isinstance(addresses, str):
        raise ValueError("give a list of addresses, not one string")
    checked = []
    for address in addresses:
        try:
            checked.append(str(ipaddress.ip_address(address)))
        except ValueError:
            raise ValueError(f"{address!r} is not an IP address") from None
    if not checked:
        raise ValueError("give at least one ICE host address")
    return checked


def public_address_announce(*, sdp: str, private: str, public: str) -> str:
    """`sdp` with every host candidate (and connection line) on `private` announced on `public` instead.

    Behind a 1:1 NAT the relay binds its private address but browsers can reach it only at the public
    one; the NAT keeps the port, so the candidate's port stays as it is.
    """
    lines = []
    for line in sdp.splitlines():
        if line.startswith("a=candidate:"):
            fields = line.split(" ")
            # foundation component transport priority address port "typ" type ...
            if len(fields) >= 8 and fields[4] == private and fields[7] == "host":
                fields[4] = public
                line = " ".join(fields)
        elif line.startswith("c=IN IP") and line.split(" ")[-1] == private:
            line = line.rsplit(" ", 1)[0] + " " + public
        lines.append(line)
    return "\r\n".join(lines) + "\r\n"


def loopback_only(addresses: Sequence[str]) -> bool:
    return all(ipaddress.ip_address(address).is_loopback for address in addresses)


def mdns_candidates_removed(*, sdp: str) -> str:
    """`sdp` without candidates named like `abcd.local` (browsers hide their host addresses behind them).

    aioice resolves such names by multicast DNS on the local network; a relay that listens on loopback
    only must not send anything off the machine. The browser's connectivity checks still reach us, and
    aioice learns its address from them (peer-reflexive) as long as the candidate list is not declared
    complete, so end-of-candidates goes too when anything was removed.
    """
    lines = sdp.splitlines()
    kept = [line for line in lines if not _is_mdns_candidate(line)]
    if len(kept) < len(lines):
        kept = [line for line in kept if line != "a=end-of-candidates"]
    return "\r\n".join(kept) + "\r\n"


def _is_mdns_candidate(line: str) -> bool:
    fields = line.split(" ")
    return line.startswith("a=candidate:") and len(fields) >= 5 and fields[4].lower().endswith(".local")


def host_candidate_addresses(*, sdp: str) -> set[str]:
    """The addresses of the host candidates in `sdp`."""
    found = set()
    for line in sdp.splitlines():
        fields = line.split(" ")
        if line.startswith("a=candidate:") and len(fields) >= 8 and fields[7] == "host":
            found.add(fields[4])
    return found


def _install() -> None:
    # aioice (0.13) gathers host candidates on every interface except 127.0.0.1 and has no setting to
    # choose them: Connection.gather_candidates() calls the module function get_host_addresses(). We wrap
    # that function once; outside host_addresses_only() the wrapper calls the original, so nothing else
    # in the process changes. If a new aioice stops calling it, the relay's check of its answer's host
    # candidates (host_candidate_addresses) catches it before any address is announced.
    global _installed
    with _install_lock:
        if _installed:
            return
        original: Callable[..., list[str]] = aioice.ice.get_host_addresses

        def get_host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
            chosen = _HOST_ADDRESSES.get()
            if chosen is None:
                return original(use_ipv4=use_ipv4, use_ipv6=use_ipv6)
            return [
                address
                for address in chosen
                if (use_ipv4 and ipaddress.ip_address(address).version == 4)
                or (use_ipv6 and ipaddress.ip_address(address).version == 6)
            ]

        aioice.ice.get_host_addresses = get_host_addresses  # type: ignore[assignment]
        _installed = True
