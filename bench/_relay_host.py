"""Runs cameras.media.relay.Relay alone in a process, answering WHEP-like offers as JSON lines on loopback.

The benchmarks start it with RelayProcess (`python bench/_relay_host.py --loop uvloop`); it prints
`READY <port>` once it listens on 127.0.0.1. Each request is one JSON line and gets one JSON line back:
  {"op": "open", "camera_id": 1, "source_url": "rtsp://...", "offer": "<sdp>"}
      -> {"ok": true, "session_id": "...", "answer": "<sdp>", "open_ms": 12.3}
  {"op": "close", "session_id": "..."} -> {"ok": true}
  {"op": "status"} -> {"ok": true, "viewers": 3, "source_state": "live"}
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cameras.media.relay import Relay

LOOPBACK = "127.0.0.1"
RELAY_HOST = Path(__file__).resolve()


class RelayHost:
    def __init__(self, *, relay: Relay) -> None:
        self.relay = relay
        self.stopped = asyncio.Event()

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                reply = await self.handle(json.loads(line))
                writer.write(json.dumps(reply).encode() + b"\n")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        op = request.get("op")
        if op == "open":
            started = time.perf_counter()
            try:
                session = await self.relay.open_viewer(
                    camera_id=request["camera_id"], source_url=request["source_url"], offer_sdp=request["offer"]
                )
            except Exception as exc:  # RelayError, or a bug in the relay: either way the viewer is told
                logging.getLogger(__name__).exception("open_viewer failed")
                return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
            return {
                "ok": True,
                "session_id": session.session_id,
                "answer": session.answer_sdp,
                "open_ms": (time.perf_counter() - started) * 1000,
            }
        if op == "close":
            closed = await self.relay.close_viewer(request["session_id"], reason="The benchmark closed it.")
            return {"ok": closed}
        if op == "status":
            camera_id = request.get("camera_id", 1)
            return {
                "ok": True,
                "viewers": self.relay.viewer_count(),
                "source_state": self.relay.source_state(camera_id),
            }
        if op == "shutdown":
            self.stopped.set()
            return {"ok": True}
        return {"ok": False, "error": f"unknown op {op!r}"}


async def main_async(*, max_viewers: int, grace_s: float) -> None:
    relay = Relay(ice_host_addresses=[LOOPBACK], max_viewers=max_viewers, grace_s=grace_s)
    host = RelayHost(relay=relay)
    server = await asyncio.start_server(host.serve, LOOPBACK, 0)
    port = server.sockets[0].getsockname()[1]
    print(f"READY {port}", flush=True)
    # The parent closing our stdin (or dying) ends us too, so no relay outlives a benchmark.
    loop = asyncio.get_running_loop()
    stdin = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    await asyncio.wait(
        [asyncio.ensure_future(host.stopped.wait()), asyncio.ensure_future(stdin.read())],
        return_when=asyncio.FIRST_COMPLETED,
    )
    server.close()
    await relay.close()


class RelayProcess:
    """bench/_relay_host.py in a subprocess; its stdin staying open keeps it alive."""

    def __init__(self, *, loop: str, log: Path) -> None:
        self.log_path = log
        self._log = log.open("wb")
        # INFO logs each viewer's open and end, with what its queue dropped; a few lines per viewer.
        self.process = subprocess.Popen(
            [sys.executable, str(RELAY_HOST), "--loop", loop, "--log-level", "INFO"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline().decode().strip()
        if not line.startswith("READY "):
            self.stop()
            raise RuntimeError(f"the relay host did not start: {line!r}; see {log}")
        self.address = f"127.0.0.1:{line.split()[1]}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._log.close()

    def drops(self) -> tuple[int, int]:
        """How many viewers ended, and how many access units their queues dropped, from the relay's log."""
        ended = dropped = 0
        for line in self.log_path.read_text(errors="replace").splitlines():
            found = re.search(r"viewer \S+ ended .*: \d+ bytes, (\d+) dropped", line)
            if found:
                ended += 1
                dropped += int(found.group(1))
        return ended, dropped


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop")
    parser.add_argument("--max-viewers", type=int, default=500)
    parser.add_argument("--grace", type=float, default=10.0)
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args()
    logging.basicConfig(level=args.log_level, format="relay %(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.loop == "uvloop":
        import uvloop

        uvloop.run(main_async(max_viewers=args.max_viewers, grace_s=args.grace))
    else:
        asyncio.run(main_async(max_viewers=args.max_viewers, grace_s=args.grace))
    return 0


if __name__ == "__main__":
    sys.exit(main())
