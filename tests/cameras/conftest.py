"""A real RTSP simulator on loopback for the camera tests, and a TCP listener that counts connections."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from devtools.simulator import CameraSimulator


@pytest.fixture(scope="session")
def simulator() -> Iterator[CameraSimulator]:
    sim = CameraSimulator(cameras=2, width=320, height=180, fps=10, host="127.0.0.1", port=0)
    sim.start()
    yield sim
    sim.stop()


class ConnectionCounter:
    """A loopback TCP port that accepts and counts connections, and never says anything."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            self._held.append(conn)  # held open: a camera that connects and then says nothing

    def close(self) -> None:
        self.sock.close()
        for conn in self._held:
            conn.close()


@pytest.fixture
def silent_port() -> Iterator[ConnectionCounter]:
    counter = ConnectionCounter()
    yield counter
    counter.close()
