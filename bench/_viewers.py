"""WebRTC viewers for the relay benchmarks: aiortc peer connections in worker processes that count RTP, never decode.

A counting viewer takes each SRTP packet off the ICE connection before aiortc would decrypt, depacketize
and decode it, and only counts it; every SAMPLE_EVERY-th packet is decrypted to prove that the stream is
real H.264 for this viewer. A worker process holds several viewers and takes commands over a Pipe.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

import aioice.ice
from aiortc import RTCDtlsTransport, RTCPeerConnection, RTCSessionDescription

from bench._janus import STREAMING_PLUGIN, JanusApi
from bench._loopback import client_configuration, client_loopback_only

SAMPLE_EVERY = 25
OPEN_TIMEOUT_S = 30.0
# H.264 NAL unit types an RTP payload may start with: single NAL units 1-23, STAP-A 24, FU-A 28.
_H264_PAYLOAD_TYPES = frozenset([*range(1, 24), 24, 28])


@dataclass(frozen=True)
class Target:
    """Where a viewer gets its video: the Lantern relay host (WHEP-like) or Janus's streaming plugin."""

    kind: str  # "lantern" or "janus"
    address: str  # relay host "127.0.0.1:port", or Janus's HTTP API URL
    source_url: str = ""
    camera_id: int = 1
    mountpoint_id: int = 1


def is_rtp(data: bytes) -> bool:
    """SRTP (not SRTCP, STUN or DTLS) by RFC 7983's first-byte ranges and RFC 5761's packet types."""
    return len(data) > 12 and 127 < data[0] < 192 and not 192 <= data[1] <= 223


def rtp_intercept(pc: RTCPeerConnection, on_rtp: Callable[[bytes, RTCDtlsTransport], None]) -> RTCDtlsTransport:
    """Hands every SRTP packet of the (bundled) connection to on_rtp instead of aiortc's receive path."""
    dtls = pc.getTransceivers()[0].receiver.transport
    connection = dtls.transport._connection
    original = connection.data_received

    def data_received(data: bytes, component: int) -> None:
        if is_rtp(data):
            on_rtp(data, dtls)
        else:
            original(data, component)

    connection.data_received = data_received  # type: ignore[method-assign]
    return dtls


def stun_parse_skipped_for_media() -> None:
    """aioice tries to parse every datagram as STUN first; RTP and DTLS can never be STUN (RFC 7983), so skip it."""
    original = aioice.ice.StunProtocol.datagram_received

    def datagram_received(self: aioice.ice.StunProtocol, data: bytes | str, addr: tuple[Any, ...]) -> None:
        if isinstance(data, bytes) and data and data[0] > 19:
            self.receiver.data_received(data, self.local_candidate.component)
        else:
            original(self, data, addr)

    aioice.ice.StunProtocol.datagram_received = datagram_received  # type: ignore[method-assign]


async def relay_request(address: str, request: dict[str, Any]) -> dict[str, Any]:
    """One JSON-line request to bench/_relay_host.py (the stand-in for WHEP's POST and DELETE)."""
    host, port = address.rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(json.dumps(request).encode() + b"\n")
        await writer.drain()
        line = await reader.readline()
    finally:
        writer.close()
    if not line:
        raise ConnectionError("the relay host closed the connection")
    return dict(json.loads(line))


@dataclass
class Signalled:
    """What it took to connect a viewer: its handle at the server and when the offer/answer went out."""

    session: Any = None  # relay session id, or (janus session, handle)
    sdp_sent_at: float = 0.0  # perf_counter when the client's SDP (offer or answer) was sent
    answered_at: float = 0.0  # perf_counter when the relay's answer (or Janus's ack of ours) came back
    server_open_ms: float = 0.0


async def lantern_open(pc: RTCPeerConnection, target: Target, *, before_send: Callable[[], None]) -> Signalled:
    """Offers recvonly video plus the app's status channel, as static/js/live_wall.js does, and applies the answer."""
    pc.addTransceiver("video", direction="recvonly")
    pc.createDataChannel("lantern")
    await pc.setLocalDescription(await pc.createOffer())
    before_send()
    signalled = Signalled(sdp_sent_at=time.perf_counter())
    reply = await relay_request(
        target.address,
        {
            "op": "open",
            "camera_id": target.camera_id,
            "source_url": target.source_url,
            "offer": pc.localDescription.sdp,
        },
    )
    if not reply.get("ok"):
        raise RuntimeError(f"the relay refused the viewer: {reply.get('error')}")
    signalled.answered_at = time.perf_counter()
    signalled.session = reply["session_id"]
    signalled.server_open_ms = float(reply.get("open_ms", 0.0))
    await pc.setRemoteDescription(RTCSessionDescription(sdp=reply["answer"], type="answer"))
    return signalled


async def lantern_close(pc: RTCPeerConnection, target: Target, session: Any) -> None:
    await pc.close()
    if session is not None:
        await relay_request(target.address, {"op": "close", "session_id": session})


async def janus_open(pc: RTCPeerConnection, target: Target, *, before_send: Callable[[], None]) -> Signalled:
    """Janus's streaming flow: create, attach, watch (Janus offers), answer with start."""
    api = JanusApi(target.address)
    session = await asyncio.to_thread(api.create)
    handle = await asyncio.to_thread(api.attach, session, STREAMING_PLUGIN)
    await asyncio.to_thread(api.message, session, handle, {"request": "watch", "id": target.mountpoint_id})
    event = await asyncio.to_thread(api.event_with_jsep, session)
    await pc.setRemoteDescription(RTCSessionDescription(sdp=event["jsep"]["sdp"], type="offer"))
    await pc.setLocalDescription(await pc.createAnswer())
    before_send()
    signalled = Signalled(session=(session, handle), sdp_sent_at=time.perf_counter())
    jsep = {"type": "answer", "sdp": pc.localDescription.sdp, "trickle": False}
    await asyncio.to_thread(api.message, session, handle, {"request": "start"}, jsep)
    signalled.answered_at = time.perf_counter()
    return signalled


async def janus_close(pc: RTCPeerConnection, target: Target, session: Any) -> None:
    await pc.close()
    if session is not None:
        await asyncio.to_thread(JanusApi(target.address).destroy, session[0])


@dataclass
class CountingViewer:
    target: Target
    pc: RTCPeerConnection = field(default_factory=lambda: RTCPeerConnection(client_configuration()))
    packets: int = 0
    octets: int = 0
    sampled_ok: int = 0
    sampled_bad: int = 0
    session: Any = None
    first_packet: asyncio.Event = field(default_factory=asyncio.Event)

    async def open(self) -> None:
        def hook() -> None:
            # For Lantern once our offer exists; for Janus once its offer has made the transceiver.
            rtp_intercept(self.pc, self._rtp)

        opener = lantern_open if self.target.kind == "lantern" else janus_open
        signalled = await opener(self.pc, self.target, before_send=hook)
        self.session = signalled.session
        await asyncio.wait_for(self.first_packet.wait(), timeout=OPEN_TIMEOUT_S)

    async def close(self) -> None:
        closer = lantern_close if self.target.kind == "lantern" else janus_close
        with contextlib.suppress(OSError, RuntimeError):  # the server is already gone
            await closer(self.pc, self.target, self.session)

    def counts(self) -> dict[str, int]:
        return {
            "packets": self.packets,
            "octets": self.octets,
            "sampled_ok": self.sampled_ok,
            "sampled_bad": self.sampled_bad,
        }

    def _rtp(self, data: bytes, dtls: RTCDtlsTransport) -> None:
        self.packets += 1
        self.octets += len(data)
        if self.packets == 1:
            self.first_packet.set()
        if self.packets % SAMPLE_EVERY == 0:
            self._sample(data, dtls)

    def _sample(self, data: bytes, dtls: RTCDtlsTransport) -> None:
        srtp = dtls._rx_srtp
        if srtp is None:
            return
        try:
            plain = srtp.unprotect(data)
        except Exception:  # pylibsrtp.Error: not SRTP for this viewer's keys
            self.sampled_bad += 1
            return
        header = 12 + 4 * (plain[0] & 0x0F)
        if plain[0] & 0x10:  # header extension: 4-byte header, then its length in words
            header += 4 + 4 * int.from_bytes(plain[header + 2 : header + 4], "big")
        if len(plain) > header and plain[header] & 0x1F in _H264_PAYLOAD_TYPES:
            self.sampled_ok += 1
        else:
            self.sampled_bad += 1


async def _worker(conn: Connection) -> None:
    viewers: list[CountingViewer] = []
    loop = asyncio.get_running_loop()
    commands: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    loop.add_reader(conn.fileno(), lambda: commands.put_nowait(conn.recv()))
    while True:
        command = await commands.get()
        op = command["op"]
        if op == "open":
            target = Target(**command["target"])
            fresh = [CountingViewer(target=target) for _ in range(command["count"])]
            # A few at a time, like tiles of a wall opening together.
            gate = asyncio.Semaphore(4)

            async def open_one(viewer: CountingViewer, gate: asyncio.Semaphore = gate) -> str | None:
                async with gate:
                    try:
                        await viewer.open()
                    except Exception as exc:  # reported to the orchestrator, which stops the run
                        await viewer.close()
                        return f"{type(exc).__name__}: {exc}"
                    return None

            errors = [e for e in await asyncio.gather(*(open_one(v) for v in fresh)) if e]
            viewers.extend(v for v in fresh if v.first_packet.is_set())
            conn.send({"opened": len(fresh) - len(errors), "errors": errors})
        elif op == "counts":
            conn.send([v.counts() for v in viewers])
        elif op == "close":
            await asyncio.gather(*(v.close() for v in viewers))
            viewers.clear()
            conn.send({"closed": True})
        elif op == "exit":
            loop.remove_reader(conn.fileno())
            conn.send({"exited": True})
            return


def worker_main(conn: Connection) -> None:
    """A viewer worker process's entry point (multiprocessing, spawn)."""
    import uvloop

    client_loopback_only()
    stun_parse_skipped_for_media()
    uvloop.run(_worker(conn))


class ViewerPool:
    """Worker processes holding counting viewers; new viewers go to the emptiest worker."""

    def __init__(self, *, workers: int) -> None:
        import multiprocessing

        context = multiprocessing.get_context("spawn")
        self._conns: list[Connection] = []
        self.processes = []
        self._sizes = [0] * workers
        for n in range(workers):
            parent, child = context.Pipe()
            process = context.Process(target=worker_main, args=(child,), name=f"viewers-{n}", daemon=True)
            process.start()
            self._conns.append(parent)
            self.processes.append(process)

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.processes if p.pid is not None]

    def viewers(self) -> int:
        return sum(self._sizes)

    def open(self, *, target: Target, count: int, timeout_s: float = 120.0) -> list[str]:
        """Opens `count` more viewers spread over the workers; returns the errors of those that failed."""
        share = [0] * len(self._conns)
        for _ in range(count):
            emptiest = min(range(len(share)), key=lambda i: self._sizes[i] + share[i])
            share[emptiest] += 1
        asked = []
        for index, n in enumerate(share):
            if n:
                self._conns[index].send({"op": "open", "target": target.__dict__, "count": n})
                asked.append(index)
        errors: list[str] = []
        for index in asked:
            reply = self._reply(index, timeout_s=timeout_s)
            self._sizes[index] += reply["opened"]
            errors.extend(reply["errors"])
        return errors

    def counts(self) -> list[dict[str, int]]:
        """Every viewer's running totals, in a stable order."""
        for conn in self._conns:
            conn.send({"op": "counts"})
        return [c for index in range(len(self._conns)) for c in self._reply(index, timeout_s=30)]

    def close_all(self) -> None:
        for conn in self._conns:
            conn.send({"op": "close"})
        for index in range(len(self._conns)):
            self._reply(index, timeout_s=60)
        self._sizes = [0] * len(self._conns)

    def stop(self) -> None:
        for index, conn in enumerate(self._conns):
            try:
                conn.send({"op": "exit"})
                self._reply(index, timeout_s=10)
            except (OSError, EOFError, TimeoutError):
                pass
        for process in self.processes:
            process.join(timeout=5)
            if process.is_alive():
                process.terminate()

    def _reply(self, index: int, *, timeout_s: float) -> Any:
        conn = self._conns[index]
        if not conn.poll(timeout_s):
            raise TimeoutError(f"viewer worker {index} did not answer within {timeout_s} s")
        return conn.recv()
