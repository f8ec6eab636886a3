"""A real ASGI server (uvicorn, in a thread of the test process) for the live-view tests, and WHEP clients."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn


class AsgiServer:
    def __init__(self) -> None:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        sock.close()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            "config.asgi:application", host="127.0.0.1", port=self.port, lifespan="on", log_level="warning"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline:
                raise TimeoutError("uvicorn did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)


@pytest.fixture
def asgi_server(transactional_db, settings) -> Iterator[AsgiServer]:
    settings.RELAY_GRACE_S = 1.0
    settings.LIVE_RECHECK_S = 0.5
    settings.ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
    server = AsgiServer()
    settings.RELAY_URL = server.url
    settings.RELAY_ID = f"test-relay-{server.port}"
    server.start()
    yield server
    server.stop()
