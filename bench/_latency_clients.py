"""Clients for bench/relay_latency.py that decode every frame and read its burned-in capture time.

Each runs in its own process (run_in_process): a direct RTSP reader (PyAV), a WebRTC viewer of the relay
that assembles H.264 access units on the RTP marker bit as a browser does, the same viewer through
aiortc's own receiver (whose jitter buffer holds each frame until the next one starts), and a late
joiner that opens the relay repeatedly and times its first decoded frame.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import av
from aiortc import RTCPeerConnection

from bench._clock import ClockReader
from bench._loopback import client_configuration, client_loopback_only
from bench._viewers import Target, lantern_close, lantern_open, rtp_intercept

WIDTH, HEIGHT = 1920, 1080
START_CODE = b"\x00\x00\x00\x01"
# The relay's own RTSP options (cameras/media/source.py), so that the direct reader demuxes as it does.
RTSP_OPTIONS = {"rtsp_transport": "tcp", "allowed_media_types": "video", "probesize": "32", "analyzeduration": "1"}
# A frame whose picture is this close to now counts as live (the burst of a late joiner's GOP is older).
LIVE_AGE_S = 0.25


@dataclass
class FrameLog:
    """Per decoded frame: burned-in capture time, when its last packet arrived, when it was decoded."""

    captured: list[float] = field(default_factory=list)
    arrived: list[float] = field(default_factory=list)
    decoded: list[float] = field(default_factory=list)
    unreadable: int = 0
    doubtful_margin: float = 1.0  # the smallest digit-match margin seen

    def add(self, *, reader: ClockReader, frame: av.VideoFrame, arrived: float) -> float | None:
        decoded = time.time()
        reading = reader.read_frame(frame)
        if reading is None or not decoded - 30 < reading.at < decoded + 1:
            self.unreadable += 1
            return None
        self.doubtful_margin = min(self.doubtful_margin, reading.margin)
        self.captured.append(reading.at)
        self.arrived.append(arrived)
        self.decoded.append(decoded)
        return reading.at

    def since(self, start: float) -> dict[str, Any]:
        keep = [i for i, d in enumerate(self.decoded) if d >= start]
        return {
            "captured": [self.captured[i] for i in keep],
            "arrived": [self.arrived[i] for i in keep],
            "decoded": [self.decoded[i] for i in keep],
            "unreadable": self.unreadable,
            "margin": self.doubtful_margin,
        }


def decoder_open() -> av.VideoCodecContext:
    # One thread: frame threading would hold frames back, and both paths must decode alike.
    codec = av.CodecContext.create("h264", "r")
    assert isinstance(codec, av.VideoCodecContext)
    codec.thread_count = 1
    return codec


class AccessUnitAssembler:
    """RFC 6184 depacketizer: single NAL units, STAP-A and FU-A into Annex B, one access unit per marker bit."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._timestamp: int | None = None
        self._next_sequence: int | None = None
        self._broken = False
        self.lost = 0

    def push(self, packet: bytes) -> bytes | None:
        sequence = int.from_bytes(packet[2:4], "big")
        timestamp = int.from_bytes(packet[4:8], "big")
        marker = bool(packet[1] & 0x80)
        header = 12 + 4 * (packet[0] & 0x0F)
        if packet[0] & 0x10:
            header += 4 + 4 * int.from_bytes(packet[header + 2 : header + 4], "big")
        end = len(packet) - (packet[-1] if packet[0] & 0x20 else 0)
        payload = packet[header:end]
        if self._next_sequence is not None and sequence != self._next_sequence:
            self.lost += (sequence - self._next_sequence) & 0xFFFF
            self._broken = True
        self._next_sequence = (sequence + 1) & 0xFFFF
        if self._timestamp is not None and timestamp != self._timestamp:
            # A new picture began before the last one's marker: that one is incomplete.
            self._parts, self._broken = [], False
        self._timestamp = timestamp
        if payload:
            self._payload_add(payload)
        if not marker:
            return None
        unit, broken = b"".join(self._parts), self._broken
        self._parts, self._broken, self._timestamp = [], False, None
        return None if broken or not unit else unit

    def _payload_add(self, payload: bytes) -> None:
        kind = payload[0] & 0x1F
        if 1 <= kind <= 23:
            self._parts.append(START_CODE + payload)
        elif kind == 24:  # STAP-A: 16-bit sizes, each followed by a NAL unit
            at = 1
            while at + 2 <= len(payload):
                size = int.from_bytes(payload[at : at + 2], "big")
                self._parts.append(START_CODE + payload[at + 2 : at + 2 + size])
                at += 2 + size
        elif kind == 28:  # FU-A
            fu_header = payload[1]
            if fu_header & 0x80:
                self._parts.append(START_CODE + bytes(((payload[0] & 0xE0) | (fu_header & 0x1F),)))
            self._parts.append(payload[2:])


def run_in_process(function: Callable[..., Any], **kwargs: Any) -> Any:
    """function(**kwargs) in a fresh spawned process; its return value comes back through a pipe."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(child, function, kwargs), daemon=True)
    process.start()
    child.close()
    try:
        outcome = parent.recv()
    except EOFError:
        raise RuntimeError(f"{function.__name__} died (exit code {process.exitcode})") from None
    finally:
        process.join(timeout=10)
    if "error" in outcome:
        raise RuntimeError(f"{function.__name__} failed: {outcome['error']}")
    return outcome["result"]


def _child(conn: Any, function: Callable[..., Any], kwargs: dict[str, Any]) -> None:
    import traceback

    try:
        conn.send({"result": function(**kwargs)})
    except BaseException:
        conn.send({"error": traceback.format_exc()})


# The direct reader.


def direct_frames(*, url: str, warmup_s: float, sample_s: float) -> dict[str, Any]:
    """Reads the camera's RTSP with PyAV as the relay does and decodes every frame."""
    reader = ClockReader(width=WIDTH, height=HEIGHT)
    log = FrameLog()
    container = av.open(url, options=RTSP_OPTIONS, timeout=(10, 10))
    try:
        stream = container.streams.video[0]
        stream.codec_context.thread_count = 1
        started = time.time()
        for packet in container.demux(stream):
            arrived = time.time()
            for frame in packet.decode():
                log.add(reader=reader, frame=frame, arrived=arrived)
            if arrived - started > warmup_s + sample_s:
                break
    finally:
        container.close()
    return log.since(started + warmup_s)


def camera_rtp_frames(*, url: str, warmup_s: float, sample_s: float) -> dict[str, Any]:
    """Reads the camera's RTP over RTSP/TCP with no FFmpeg demuxer, decoding each picture at its marker bit.

    A floor for both other paths: FFmpeg's RTSP demuxer (used by the direct reader and by the relay) only
    knows a picture is complete when the next one starts.
    """
    parts = urlsplit(url)
    reader = ClockReader(width=WIDTH, height=HEIGHT)
    log, assembler, decoder = FrameLog(), AccessUnitAssembler(), decoder_open()
    with socket.create_connection((parts.hostname, parts.port or 554), timeout=10) as sock:
        stream = sock.makefile("rb")
        cseq = 0

        def request(method: str, uri: str, *headers: str) -> dict[str, str]:
            nonlocal cseq
            cseq += 1
            lines = [f"{method} {uri} RTSP/1.0", f"CSeq: {cseq}", *headers, "", ""]
            sock.sendall("\r\n".join(lines).encode())
            status = stream.readline().decode()
            if " 200 " not in status:
                raise RuntimeError(f"{method} {uri}: {status.strip()}")
            found: dict[str, str] = {}
            while (line := stream.readline().decode().strip()) != "":
                name, _, value = line.partition(":")
                found[name.strip().lower()] = value.strip()
            stream.read(int(found.get("content-length", "0")))
            return found

        described = request("DESCRIBE", url, "Accept: application/sdp")
        base = described.get("content-base", url.rstrip("/") + "/")
        setup = request("SETUP", base + "trackID=0", "Transport: RTP/AVP/TCP;unicast;interleaved=0-1")
        session = setup["session"].split(";")[0]
        request("PLAY", url, f"Session: {session}", "Range: npt=0.000-")
        started = time.time()
        while time.time() - started < warmup_s + sample_s:
            if stream.read(1) != b"$":
                continue  # an RTSP message between packets; the simulator sends none after PLAY
            channel, length = stream.read(1)[0], int.from_bytes(stream.read(2), "big")
            packet = stream.read(length)
            if channel != 0:
                continue
            unit = assembler.push(packet)
            if unit is None:
                continue
            arrived = time.time()
            for frame in decoder.decode(av.Packet(unit)):
                log.add(reader=reader, frame=frame, arrived=arrived)
    result = log.since(started + warmup_s)
    result["lost_packets"] = assembler.lost
    return result


# WebRTC viewers of the relay.


class MarkerViewer:
    """A relay viewer that decrypts and assembles its own RTP and decodes each picture at its marker bit."""

    def __init__(self, *, reader: ClockReader) -> None:
        self.reader = reader
        self.pc = RTCPeerConnection(client_configuration())
        self.log = FrameLog()
        self.assembler = AccessUnitAssembler()
        self.decoder = decoder_open()
        self.first_packet_at: float | None = None
        self.first_frame_at: float | None = None
        self.first_frame_age: float | None = None
        self.live_frame_at: float | None = None
        self.connected_at: float | None = None
        self.done = asyncio.Event()
        self.pc.on("connectionstatechange", self._state_changed)

    def install(self) -> None:
        rtp_intercept(self.pc, self._rtp)

    def _state_changed(self) -> None:
        if self.pc.connectionState == "connected" and self.connected_at is None:
            self.connected_at = time.perf_counter()

    def _rtp(self, data: bytes, dtls: Any) -> None:
        srtp = dtls._rx_srtp
        if srtp is None:
            return
        try:
            packet = srtp.unprotect(data)
        except Exception:  # pylibsrtp.Error: a packet we cannot decrypt is a lost one
            return
        if self.first_packet_at is None:
            self.first_packet_at = time.perf_counter()
        if packet[1] & 0x7F < 96:
            return
        unit = self.assembler.push(packet)
        if unit is None:
            return
        arrived = time.time()
        try:
            frames = self.decoder.decode(av.Packet(unit))
        except av.FFmpegError:
            return
        for frame in frames:
            captured = self.log.add(reader=self.reader, frame=frame, arrived=arrived)
            now = time.perf_counter()
            if self.first_frame_at is None:
                self.first_frame_at = now
                self.first_frame_age = time.time() - captured if captured is not None else None
            if captured is not None and self.live_frame_at is None and time.time() - captured < LIVE_AGE_S:
                self.live_frame_at = now
                self.done.set()


def _client_setup() -> None:
    client_loopback_only()


async def _relay_marker(*, target: Target, warmup_s: float, sample_s: float) -> dict[str, Any]:
    viewer = MarkerViewer(reader=ClockReader(width=WIDTH, height=HEIGHT))
    signalled = await lantern_open(viewer.pc, target, before_send=viewer.install)
    started = time.time()
    await asyncio.sleep(warmup_s + sample_s)
    await lantern_close(viewer.pc, target, signalled.session)
    result = viewer.log.since(started + warmup_s)
    result["lost_packets"] = viewer.assembler.lost
    return result


async def _relay_aiortc(*, target: Target, warmup_s: float, sample_s: float) -> dict[str, Any]:
    from aiortc.mediastreams import MediaStreamError

    reader = ClockReader(width=WIDTH, height=HEIGHT)
    log = FrameLog()
    pc = RTCPeerConnection(client_configuration())
    tasks = []

    async def consume(track: Any) -> None:
        try:
            while True:
                frame = await track.recv()
                log.add(reader=reader, frame=frame, arrived=time.time())
        except MediaStreamError:
            pass

    pc.on("track", lambda track: tasks.append(asyncio.ensure_future(consume(track))))
    signalled = await lantern_open(pc, target, before_send=lambda: None)
    started = time.time()
    await asyncio.sleep(warmup_s + sample_s)
    await lantern_close(pc, target, signalled.session)
    for task in tasks:
        task.cancel()
    return log.since(started + warmup_s)


async def _joins(*, target: Target, joins: int, warmup_joins: int, timeout_s: float) -> list[dict[str, Any]]:
    reader = ClockReader(width=WIDTH, height=HEIGHT)
    results = []
    for n in range(warmup_joins + joins):
        viewer = MarkerViewer(reader=reader)
        began = time.perf_counter()
        signalled = await lantern_open(viewer.pc, target, before_send=viewer.install)
        with contextlib.suppress(TimeoutError):  # counted as a join without a (live) frame
            await asyncio.wait_for(viewer.done.wait(), timeout=timeout_s)
        await lantern_close(viewer.pc, target, signalled.session)
        sent = signalled.sdp_sent_at

        def since_sent(at: float | None) -> float | None:
            return None if at is None else (at - sent) * 1000  # noqa: B023 - used at once

        if n >= warmup_joins:
            results.append(
                {
                    "offer_ms": (sent - began) * 1000,
                    "answer_ms": since_sent(signalled.answered_at),
                    "server_open_ms": signalled.server_open_ms,
                    "connected_ms": since_sent(viewer.connected_at),
                    "first_packet_ms": since_sent(viewer.first_packet_at),
                    "first_frame_ms": since_sent(viewer.first_frame_at),
                    "first_frame_age_ms": None if viewer.first_frame_age is None else viewer.first_frame_age * 1000,
                    "live_frame_ms": since_sent(viewer.live_frame_at),
                }
            )
        await asyncio.sleep(0.5)
    return results


def relay_frames(*, mode: str, target: dict[str, Any], warmup_s: float, sample_s: float) -> dict[str, Any]:
    """Watches the relay for warmup_s + sample_s, decoding every frame ("marker" or "aiortc" receive path)."""
    import uvloop

    _client_setup()
    run = _relay_marker if mode == "marker" else _relay_aiortc
    return dict(uvloop.run(run(target=Target(**target), warmup_s=warmup_s, sample_s=sample_s)))


def relay_joins(*, target: dict[str, Any], joins: int, warmup_joins: int, timeout_s: float) -> list[dict[str, Any]]:
    """Opens the relay `joins` times (after warmup_joins untimed ones), timing each first decoded frame."""
    import uvloop

    _client_setup()
    return list(
        uvloop.run(_joins(target=Target(**target), joins=joins, warmup_joins=warmup_joins, timeout_s=timeout_s))
    )
