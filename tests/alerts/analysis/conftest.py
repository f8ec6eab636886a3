"""Analysis tests: footage written once per session, and a guard that fails any test whose code leaves loopback."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.alerts.scenes import crossing_segment


def _loopback(host: Any) -> bool:
    if host in (None, "localhost", "") or (isinstance(host, str) and host.endswith(".localhost")):
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def network_off_loopback(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every name looked up and address connected to that is not loopback, refused and remembered; a test with
    any fails (Ultralytics checks connectivity, sends telemetry and downloads fonts and weights unless kept off)."""
    attempts: list[str] = []
    connect, connect_ex, getaddrinfo = socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo

    def guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not _loopback(host):
            attempts.append(f"lookup {host}")
            raise socket.gaierror(socket.EAI_NONAME, "network access is off in analysis tests")
        return getaddrinfo(host, *args, **kwargs)

    def checked(address: Any) -> None:
        if isinstance(address, tuple) and not _loopback(address[0]):
            attempts.append(f"connect {address}")
            raise OSError("network access is off in analysis tests")

    def guarded_connect(self: socket.socket, address: Any) -> None:
        checked(address)
        return connect(self, address)

    def guarded_connect_ex(self: socket.socket, address: Any) -> int:
        checked(address)
        return connect_ex(self, address)

    monkeypatch.setattr(socket, "getaddrinfo", guarded_getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", guarded_connect_ex)
    yield attempts
    assert not attempts, f"analysis code reached for the network: {attempts}"


@pytest.fixture(scope="session")
def footage(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("analysis-footage")


@pytest.fixture(scope="session")
def crossing(footage: Path) -> Path:
    """4 s of the still street at 15 fps, a person crossing left to right from 0.5 s to 3.5 s."""
    return crossing_segment(path=footage / "crossing.mp4", seconds=4.0, person_at_s=0.5)


@pytest.fixture(scope="session")
def still(footage: Path) -> Path:
    """4 s of the still street at 15 fps with sensor noise and no one in it."""
    return crossing_segment(path=footage / "still.mp4", seconds=4.0, person_at_s=None)
