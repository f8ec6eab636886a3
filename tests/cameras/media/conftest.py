"""A browser stand-in (an aiortc viewer that decodes), a counting RTSP forwarder, and a way to run async tests."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from cameras.media import ice
from cameras.media.relay import Relay, ViewerReport, ViewerSession

LOOPBACK = ["127.0.0.1"]


def run_async(*, timeout_s: float = 60.0) -> Callable[[Callable[..., Coroutine[Any, Any, None]]], Callable[..., None]]:
    """Runs an async test function in its own event loop (no pytest-asyncio here), with a hard time limit."""

    def decorate(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
        @functools.wraps(test)
        def wrapper(*args: Any, **kwargs: Any) -> None:
            asyncio.run(asyncio.wait_for(test(*args, **kwargs), timeout=timeout_s))

        return wrapper

    return decorate


@contextlib.asynccontextmanager
async def relay_running(**options: Any) -> AsyncIterator[Relay]:
    relay = Relay(ice_host_addresses=LOOPBACK, **options)
    try:
        yield relay
    finally:
        await relay.close()


class BrowserViewer:
    """What the monitor page does: offer to receive video plus a status channel, then show what arrives."""

    def __init__(
        self, *, video: bool = True, video_codec: str | None = None, channel: bool = True, audio: bool = False
    ) -> None:
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        if audio:
            self.pc.addTransceiver("audio", direction="recvonly")
        self.frames: list[tuple[float, int, int]] = []  # (time.monotonic(), width, height) per decoded picture
        self.messages: list[dict[str, str]] = []
        self.reports: list[ViewerReport] = []
        self.session: ViewerSession | None = None
        self._changed = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None
        if video:
            transceiver = self.pc.addTransceiver("video", direction="recvonly")
            if video_codec is not None:
                codecs = RTCRtpSender.getCapabilities("video").codecs
                transceiver.setCodecPreferences([c for c in codecs if c.mimeType == f"video/{video_codec}"])
        if channel:
            status = self.pc.createDataChannel("status")
            status.on("message", self._message_received)
        self.pc.on("track", self._track_received)

    async def offer(self) -> str:
        # The test's own peer stays on loopback too: aioice would otherwise offer every other interface.
        with ice.host_addresses_only(LOOPBACK):
            await self.pc.setLocalDescription(await self.pc.createOffer())
        return self.pc.localDescription.sdp

    async def watch(self, relay: Relay, *, camera_id: int, url: str) -> ViewerSession:
        self.session = await relay.open_viewer(
            camera_id=camera_id, source_url=url, offer_sdp=await self.offer(), on_end=self._ended
        )
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=self.session.answer_sdp, type="answer"))
        return self.session

    async def frames_wait(self, count: int, *, timeout_s: float = 10.0, after: float = 0.0) -> float:
        """Waits until `count` pictures arrived after time.monotonic() `after`; returns when the first did."""
        await self._until(lambda: len([f for f in self.frames if f[0] > after]) >= count, timeout_s=timeout_s)
        return next(f[0] for f in self.frames if f[0] > after)

    async def message_wait(self, state: str, *, timeout_s: float = 10.0) -> dict[str, str]:
        await self._until(lambda: any(m["state"] == state for m in self.messages), timeout_s=timeout_s)
        return next(m for m in self.messages if m["state"] == state)

    async def ended_wait(self, *, timeout_s: float = 10.0) -> ViewerReport:
        await self._until(lambda: bool(self.reports), timeout_s=timeout_s)
        return self.reports[0]

    async def close(self) -> None:
        await self.pc.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader

    async def _until(self, condition: Callable[[], bool], *, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while not condition():
            self._changed.clear()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"gave up after {timeout_s} s; frames={len(self.frames)} messages={self.messages}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout=remaining)

    async def _ended(self, report: ViewerReport) -> None:
        self.reports.append(report)
        self._changed.set()

    def _message_received(self, message: str | bytes) -> None:
        self.messages.append(json.loads(message))
        self._changed.set()

    def _track_received(self, track: MediaStreamTrack) -> None:
        self._reader = asyncio.ensure_future(self._frames_read(track))

    async def _frames_read(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                self.frames.append((time.monotonic(), frame.width, frame.height))  # type: ignore[union-attr]
                self._changed.set()


class RtspForwarder:
    """A loopback TCP forwarder in front of the simulator: each RTSP-over-TCP session is one connection here."""

    def __init__(self, *, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self.connections = 0  # ever made
        self.open = 0  # open now
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def url(self, simulator_url: str) -> str:
        return simulator_url.replace(f":{self.target_port}/", f":{self.port}/")

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for handler in list(self._handlers):
            handler.cancel()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self.connections += 1
        self.open += 1
        upstream_writer: asyncio.StreamWriter | None = None
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
            pipes = [
                asyncio.ensure_future(_pipe(reader, upstream_writer)),
                asyncio.ensure_future(_pipe(upstream_reader, writer)),
            ]
            try:
                await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for pipe in pipes:
                    pipe.cancel()
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            self.open -= 1
            for each in (writer, upstream_writer):
                if each is not None:
                    each.close()
            self._handlers.discard(task)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
