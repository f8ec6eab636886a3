"""Serves simulated cameras over RTSP/1.0 with RTP over TCP (interleaved) or UDP, from a background thread."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import logging
import random
import secrets
import socket
import threading
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import cast
from urllib.parse import quote, urlsplit

from devtools.simulator.auth import CameraCredentials
from devtools.simulator.encoder import (
    ENCODERS,
    AccessUnit,
    EncoderSettings,
    StreamEncoder,
    codec_available,
    parameter_sets,
)
from devtools.simulator.rtp import (
    CLOCK_RATE,
    PAYLOAD_TYPE,
    payloads_h264,
    payloads_hevc,
    rtcp_sender_report,
    rtp_header,
    rtp_timestamp,
)
from devtools.simulator.rtsp import (
    InterleavedFrame,
    MalformedRequest,
    RtspRequest,
    TransportSpec,
    message_read,
    response_format,
    transport_choose,
)
from devtools.simulator.scene import StreetScene

logger = logging.getLogger(__name__)

PUBLIC_METHODS = "OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, TEARDOWN, GET_PARAMETER, SET_PARAMETER"
TRACK = "trackID=0"
SENDER_REPORT_INTERVAL_S = 5.0
# A viewer whose socket is this far behind is too slow for live video; it skips to the next keyframe instead.
MAX_QUEUED_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class _RtpFrame:
    payloads: list[bytes]
    timestamp: int
    keyframe: bool


@dataclass
class _Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""
    after: Callable[[], None] | None = None  # runs once the response is queued, e.g. to start RTP after PLAY


class _UdpPort(asyncio.DatagramProtocol):
    """One of the server's two UDP sockets; anything a client sends to it (RTCP receiver reports,
    FFmpeg's NAT punch packets) only proves that the client is still there."""

    def __init__(self, *, on_datagram: Callable[[tuple[str, int]], None]) -> None:
        self._on_datagram = on_datagram
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # asyncio's selector datagram transport does not subclass DatagramTransport, so no isinstance check.
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self._on_datagram(addr[:2])

    def error_received(self, exc: Exception) -> None:
        # ICMP port-unreachable from a vanished UDP viewer; its session times out on its own.
        logger.debug("udp error: %s", exc)


class _Connection:
    def __init__(self, *, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        peer = writer.get_extra_info("peername")
        self.peer_host: str = peer[0] if peer else "127.0.0.1"
        self.sessions: dict[str, _Session] = {}
        self.next_channel = 0


class _Session:
    """One client's RTP session for one camera (RFC 2326 §3.8)."""

    def __init__(
        self, *, stream: _CameraStream, connection: _Connection, transport: TransportSpec, server: _RtspServer
    ) -> None:
        self.id = secrets.token_hex(8)
        self.stream = stream
        self.connection = connection
        self.tcp = transport.tcp
        self.channels = transport.interleaved or (0, 1)
        self.client_rtp: tuple[str, int] | None = None
        self.client_rtcp: tuple[str, int] | None = None
        if transport.client_port is not None:
            self.client_rtp = (connection.peer_host, transport.client_port[0])
            self.client_rtcp = (connection.peer_host, transport.client_port[1])
        self.server = server
        self.ssrc = random.getrandbits(32)
        self.sequence = random.getrandbits(16)
        self.packets = 0
        self.octets = 0
        self.last_report = 0.0
        self.last_seen = time.monotonic()
        self.playing = False
        self.waiting_for_keyframe = True

    def frame_send(self, frame: _RtpFrame) -> None:
        if self.waiting_for_keyframe and not frame.keyframe:
            return
        writer = self.connection.writer
        if self.tcp:
            if writer.is_closing():
                return
            if writer.transport.get_write_buffer_size() > MAX_QUEUED_BYTES:
                self.waiting_for_keyframe = True
                return
        self.waiting_for_keyframe = False
        last = len(frame.payloads) - 1
        chunks = []
        for n, payload in enumerate(frame.payloads):
            packet = rtp_header(marker=n == last, sequence=self.sequence, timestamp=frame.timestamp, ssrc=self.ssrc)
            packet += payload
            self.sequence = (self.sequence + 1) & 0xFFFF
            self.packets += 1
            self.octets += len(payload)
            if self.tcp:
                chunks.append(b"$" + bytes((self.channels[0],)) + len(packet).to_bytes(2, "big") + packet)
            else:
                self.server.udp_send(packet=packet, addr=self.client_rtp, rtcp=False)
        if chunks:
            writer.write(b"".join(chunks))
        now = time.time()
        if now - self.last_report >= SENDER_REPORT_INTERVAL_S:
            self.last_report = now
            self._report_send(now=now)

    def _report_send(self, *, now: float) -> None:
        report = rtcp_sender_report(
            ssrc=self.ssrc,
            rtp_offset=self.stream.rtp_offset,
            packets=self.packets,
            octets=self.octets,
            cname=f"{self.stream.name}@lantern-simulator",
            now=now,
        )
        if self.tcp:
            self.connection.writer.write(b"$" + bytes((self.channels[1],)) + len(report).to_bytes(2, "big") + report)
        else:
            self.server.udp_send(packet=report, addr=self.client_rtcp, rtcp=True)


class _CameraStream:
    """One `/camN` path: its scene, its encoder while anyone watches, and the current GOP for late joiners."""

    def __init__(self, *, index: int, settings: EncoderSettings, idle_stop_s: float, walker: bool = False) -> None:
        self.index = index
        self.name = f"cam{index}"
        self.settings = settings
        self.scene = StreetScene(
            index=index, name=self.name, width=settings.width, height=settings.height, walker=walker
        )
        self.idle_stop_s = idle_stop_s
        self.rtp_offset = random.getrandbits(32)
        self.viewers: set[_Session] = set()
        self.gop: list[_RtpFrame] = []
        self.encoder: StreamEncoder | None = None
        self._idle_timer: asyncio.TimerHandle | None = None
        self._parameter_sets: list[bytes] | None = None
        self._parameter_sets_lock = asyncio.Lock()
        self._loop = asyncio.get_running_loop()

    async def sdp(self, *, host: str) -> str:
        async with self._parameter_sets_lock:
            if self._parameter_sets is None:
                self._parameter_sets = await self._loop.run_in_executor(
                    None, functools.partial(parameter_sets, settings=self.settings)
                )
        if self.settings.codec == "h264":
            sps = next(nal for nal in self._parameter_sets if nal[0] & 0x1F == 7)
            sets = ",".join(_base64(nal) for nal in self._parameter_sets if nal[0] & 0x1F in (7, 8))
            rtpmap = f"H264/{CLOCK_RATE}"
            fmtp = f"packetization-mode=1;profile-level-id={sps[1:4].hex().upper()};sprop-parameter-sets={sets}"
        else:
            by_type = {(nal[0] >> 1) & 0x3F: _base64(nal) for nal in self._parameter_sets}
            rtpmap = f"H265/{CLOCK_RATE}"
            fmtp = f"sprop-vps={by_type[32]};sprop-sps={by_type[33]};sprop-pps={by_type[34]}"
        lines = [
            "v=0",
            f"o=- {self.rtp_offset} 1 IN IP4 {host}",
            f"s=Lantern simulator {self.name}",
            "c=IN IP4 0.0.0.0",
            "t=0 0",
            "a=tool:lantern-camera-simulator",
            "a=range:npt=now-",
            "a=control:*",
            f"m=video 0 RTP/AVP {PAYLOAD_TYPE}",
            f"a=rtpmap:{PAYLOAD_TYPE} {rtpmap}",
            f"a=fmtp:{PAYLOAD_TYPE} {fmtp}",
            f"a=framerate:{self.settings.fps}",
            f"a=control:{TRACK}",
        ]
        return "\r\n".join(lines) + "\r\n"

    def rtp_info_time(self) -> int:
        return self.gop[0].timestamp if self.gop else rtp_timestamp(wall_time=time.time(), offset=self.rtp_offset)

    def viewer_add(self, session: _Session) -> None:
        if session in self.viewers:
            return
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        self.viewers.add(session)
        session.waiting_for_keyframe = True
        # Replaying the GOP so far gives a new viewer a picture now instead of at the next keyframe.
        # A viewer resuming after PAUSE must not get it: its timestamps would run backwards.
        if session.packets == 0:
            for frame in self.gop:
                session.frame_send(frame)
        if self.encoder is None:
            self._encoder_start()

    def viewer_remove(self, session: _Session) -> None:
        self.viewers.discard(session)
        if not self.viewers and self.encoder is not None and self._idle_timer is None:
            self._idle_timer = self._loop.call_later(self.idle_stop_s, self._stop_if_idle)

    def close(self) -> None:
        if self._idle_timer is not None:
            self._idle_timer.cancel()
        self.viewers.clear()
        self._encoder_stop(wait=True)

    def _encoder_start(self) -> None:
        encoder: StreamEncoder | None = None

        def on_access_unit(unit: AccessUnit) -> None:
            assert encoder is not None
            self._access_unit_received(encoder=encoder, unit=unit)

        encoder = StreamEncoder(scene=self.scene, settings=self.settings, on_access_unit=on_access_unit)
        self.encoder = encoder
        encoder.start()
        logger.info("%s: encoding started", self.name)

    def _encoder_stop(self, *, wait: bool) -> None:
        if self.encoder is not None:
            self.encoder.stop(wait=wait)
            self.encoder = None
            logger.info("%s: encoding stopped", self.name)
        # A GOP from a stopped encoder would hand the next viewer stale pictures and timestamps.
        self.gop = []

    def _stop_if_idle(self) -> None:
        self._idle_timer = None
        if not self.viewers:
            self._encoder_stop(wait=False)

    def _access_unit_received(self, *, encoder: StreamEncoder, unit: AccessUnit) -> None:
        # Runs on the encoder thread, so the packetizing stays off the event loop.
        packetize = payloads_h264 if self.settings.codec == "h264" else payloads_hevc
        frame = _RtpFrame(
            payloads=packetize(nals=unit.nals),
            timestamp=rtp_timestamp(wall_time=unit.capture_time, offset=self.rtp_offset),
            keyframe=unit.keyframe,
        )
        try:
            self._loop.call_soon_threadsafe(self._frame_publish, encoder, frame)
        except RuntimeError:
            encoder.stop()  # the loop has closed under us: the simulator stopped

    def _frame_publish(self, encoder: StreamEncoder, frame: _RtpFrame) -> None:
        if encoder is not self.encoder:
            return
        if frame.keyframe:
            self.gop = [frame]
        elif self.gop:
            self.gop.append(frame)
        for session in list(self.viewers):
            session.frame_send(frame)


def _base64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class _RtspServer:
    """The RTSP protocol state for one run of the simulator; lives on its event loop."""

    def __init__(
        self,
        *,
        settings: list[EncoderSettings],
        credentials: CameraCredentials | None,
        idle_stop_s: float,
        session_timeout_s: int,
        walkers: Collection[int] = (),
    ) -> None:
        self.streams = {
            f"cam{n}": _CameraStream(index=n, settings=s, idle_stop_s=idle_stop_s, walker=n in walkers)
            for n, s in enumerate(settings, 1)
        }
        self.credentials = credentials
        self.session_timeout_s = session_timeout_s
        self.sessions: dict[str, _Session] = {}
        self.connections: set[_Connection] = set()
        self.handlers: set[asyncio.Task[None]] = set()
        self.host = "127.0.0.1"
        self.port = 0
        self.udp_ports = (0, 0)
        self._server: asyncio.Server | None = None
        self._udp: tuple[_UdpPort, _UdpPort] | None = None
        self._reaper: asyncio.Task[None] | None = None

    async def open(self, *, host: str, port: int) -> None:
        self.host = host
        self._server = await asyncio.start_server(self._connection_serve, host, port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]
        await self._udp_open()
        self._reaper = asyncio.create_task(self._sessions_reap())

    async def close(self) -> None:
        if self._reaper is not None:
            self._reaper.cancel()
        if self._server is not None:
            self._server.close()
        for connection in list(self.connections):
            connection.writer.transport.abort()
        if self.handlers:
            await asyncio.wait(self.handlers, timeout=5)
        if self._server is not None:
            await self._server.wait_closed()
        for stream in self.streams.values():
            stream.close()
        if self._udp is not None:
            for port in self._udp:
                if port.transport is not None:
                    port.transport.close()

    def udp_send(self, *, packet: bytes, addr: tuple[str, int] | None, rtcp: bool) -> None:
        if self._udp is None or addr is None:
            return
        transport = self._udp[1 if rtcp else 0].transport
        if transport is not None and not transport.is_closing():
            transport.sendto(packet, addr)

    def encoding_cameras(self) -> frozenset[int]:
        return frozenset(s.index for s in self.streams.values() if s.encoder is not None)

    async def _udp_open(self) -> None:
        # RTP wants an even port with RTCP on the next one up (RFC 3550 §11), so bind them as a pair.
        loop = asyncio.get_running_loop()
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        for _ in range(100):
            rtp_sock = socket.socket(family, socket.SOCK_DGRAM)
            rtcp_sock = socket.socket(family, socket.SOCK_DGRAM)
            try:
                rtp_sock.bind((self.host, 0))
                base = rtp_sock.getsockname()[1]
                if base % 2:
                    raise OSError("odd port")
                rtcp_sock.bind((self.host, base + 1))
            except OSError:
                rtp_sock.close()
                rtcp_sock.close()
                continue
            ports = []
            for sock in (rtp_sock, rtcp_sock):
                _, protocol = await loop.create_datagram_endpoint(
                    lambda: _UdpPort(on_datagram=self._udp_heard), sock=sock
                )
                ports.append(protocol)
            self._udp = (ports[0], ports[1])
            self.udp_ports = (base, base + 1)
            return
        raise OSError("could not bind a pair of UDP ports for RTP/RTCP")

    def _udp_heard(self, addr: tuple[str, int]) -> None:
        for session in self.sessions.values():
            if addr in (session.client_rtp, session.client_rtcp):
                session.last_seen = time.monotonic()

    async def _sessions_reap(self) -> None:
        interval = max(0.5, min(5.0, self.session_timeout_s / 4))
        while True:
            await asyncio.sleep(interval)
            now = time.monotonic()
            for session in list(self.sessions.values()):
                # A playing TCP session lives as long as its connection: a dead client closes it, and a
                # stuck one is throttled by MAX_QUEUED_BYTES. UDP has no such signal, so it needs keepalives.
                if session.tcp and session.playing:
                    continue
                if now - session.last_seen > self.session_timeout_s:
                    logger.info("session %s for %s timed out", session.id, session.stream.name)
                    self._session_end(session)

    def _session_end(self, session: _Session) -> None:
        session.playing = False
        session.stream.viewer_remove(session)
        self.sessions.pop(session.id, None)
        session.connection.sessions.pop(session.id, None)

    async def _connection_serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.handlers.add(task)
        connection = _Connection(reader=reader, writer=writer)
        self.connections.add(connection)
        try:
            while True:
                try:
                    message = await message_read(reader=reader)
                except MalformedRequest as exc:
                    logger.info("closing connection from %s: %s", connection.peer_host, exc)
                    writer.write(response_format(status=400, cseq=None))
                    break
                if message is None:
                    break
                if isinstance(message, InterleavedFrame):
                    for session in connection.sessions.values():
                        if message.channel in session.channels:
                            session.last_seen = time.monotonic()
                    continue
                reply = await self._request_handle(connection=connection, request=message)
                if writer.is_closing():
                    break
                writer.write(
                    response_format(status=reply.status, cseq=message.cseq, headers=reply.headers, body=reply.body)
                )
                if reply.after is not None:
                    reply.after()
        except Exception:  # one broken client must not take the server down
            logger.exception("RTSP connection from %s failed", connection.peer_host)
        finally:
            for session in list(connection.sessions.values()):
                self._session_end(session)
            self.connections.discard(connection)
            writer.close()
            self.handlers.discard(task)

    async def _request_handle(self, *, connection: _Connection, request: RtspRequest) -> _Reply:
        if request.version != "RTSP/1.0":
            return _Reply(505, [])
        session = self.sessions.get(request.session_id or "")
        if session is not None:
            session.last_seen = time.monotonic()
        if request.method == "OPTIONS":
            # Answered without credentials or a path check, like most cameras, so it reveals nothing.
            return _Reply(200, [("Public", PUBLIC_METHODS)])
        if self.credentials is not None and not self.credentials.accepts(
            method=request.method, authorization=request.header("Authorization")
        ):
            return _Reply(401, self.credentials.challenge_headers())
        handler = {
            "DESCRIBE": self._describe,
            "SETUP": self._setup,
            "PLAY": self._play,
            "PAUSE": self._pause,
            "TEARDOWN": self._teardown,
            "GET_PARAMETER": self._parameter,
            "SET_PARAMETER": self._parameter,
        }.get(request.method)
        if handler is None:
            return _Reply(501, [("Public", PUBLIC_METHODS)])
        return await handler(connection=connection, request=request, session=session)

    def _stream_for(self, *, uri: str) -> _CameraStream | None:
        path = urlsplit(uri).path if "://" in uri else uri
        parts = [part for part in path.split("/") if part]
        if not parts or len(parts) > 2 or (len(parts) == 2 and parts[1] != TRACK):
            return None
        return self.streams.get(parts[0])

    async def _describe(self, *, connection: _Connection, request: RtspRequest, session: _Session | None) -> _Reply:
        stream = self._stream_for(uri=request.uri)
        if stream is None:
            return _Reply(404, [])
        body = (await stream.sdp(host=self.host)).encode()
        base = request.uri if request.uri.endswith("/") else request.uri + "/"
        return _Reply(200, [("Content-Base", base), ("Content-Type", "application/sdp")], body)

    async def _setup(self, *, connection: _Connection, request: RtspRequest, session: _Session | None) -> _Reply:
        stream = self._stream_for(uri=request.uri)
        if stream is None:
            return _Reply(404, [])
        if request.session_id and session is None:
            return _Reply(454, [])
        if session is not None and session.stream is not stream:
            return _Reply(459, [])
        spec = transport_choose(header=request.header("Transport") or "")
        if spec is None:
            return _Reply(461, [])
        if spec.tcp:
            channels = spec.interleaved or (connection.next_channel, connection.next_channel + 1)
            if max(channels) > 255:
                return _Reply(461, [])
            connection.next_channel = max(channels) + 1
            spec = TransportSpec(tcp=True, interleaved=channels)
            transport = f"RTP/AVP/TCP;unicast;interleaved={channels[0]}-{channels[1]}"
        else:
            assert spec.client_port is not None
            transport = (
                f"RTP/AVP;unicast;client_port={spec.client_port[0]}-{spec.client_port[1]};"
                f"server_port={self.udp_ports[0]}-{self.udp_ports[1]}"
            )
        if session is not None:
            # Re-SETUP of the one track may change the transport; drop the old session for a clean one.
            self._session_end(session)
        session = _Session(stream=stream, connection=connection, transport=spec, server=self)
        self.sessions[session.id] = session
        connection.sessions[session.id] = session
        return _Reply(
            200,
            [
                ("Transport", f"{transport};ssrc={session.ssrc:08X}"),
                ("Session", f"{session.id};timeout={self.session_timeout_s}"),
            ],
        )

    async def _play(self, *, connection: _Connection, request: RtspRequest, session: _Session | None) -> _Reply:
        if session is None:
            return _Reply(454, [])
        stream = self._stream_for(uri=request.uri)
        if stream is not session.stream:
            return _Reply(404 if stream is None else 459, [])
        track_url = (
            request.uri.rstrip("/")
            if request.uri.rstrip("/").endswith(TRACK)
            else (request.uri.rstrip("/") + "/" + TRACK)
        )
        headers = [
            ("Session", f"{session.id};timeout={self.session_timeout_s}"),
            ("Range", "npt=0.000-"),
            ("RTP-Info", f"url={track_url};seq={session.sequence};rtptime={stream.rtp_info_time()}"),
        ]
        session.playing = True
        return _Reply(200, headers, after=lambda: stream.viewer_add(session))

    async def _pause(self, *, connection: _Connection, request: RtspRequest, session: _Session | None) -> _Reply:
        if session is None:
            return _Reply(454, [])
        session.playing = False
        session.stream.viewer_remove(session)
        return _Reply(200, [("Session", session.id)])

    async def _teardown(self, *, connection: _Connection, request: RtspRequest, session: _Session | None) -> _Reply:
        if session is None:
            return _Reply(454, [])
        self._session_end(session)
        return _Reply(200, [])

    async def _parameter(self, *, connection: _Connection, request: RtspRequest, session: _Session | None) -> _Reply:
        # Clients send these empty as keepalives; we have no parameters to set.
        if request.method == "SET_PARAMETER" and request.body.strip():
            return _Reply(451, [])
        return _Reply(200, [("Session", session.id)] if session is not None else [])


class CameraSimulator:
    """N synthetic cameras on one RTSP port, at rtsp://HOST:PORT/cam1 … /camN, served from a background thread.

    Encoding runs only while a camera has viewers, so an idle simulator costs no CPU.
    """

    def __init__(
        self,
        *,
        cameras: int = 4,
        width: int = 640,
        height: int = 360,
        fps: int = 15,
        gop_s: float = 1.0,
        bitrate: int = 1_000_000,
        host: str = "127.0.0.1",
        port: int = 0,
        username: str | None = None,
        password: str | None = None,
        codecs: Mapping[int, str] | None = None,
        idle_stop_s: float = 3.0,
        session_timeout_s: int = 60,
        walkers: Collection[int] = (),
    ) -> None:
        """`walkers`: the cameras (by number) across whose view a pedestrian walks every 12 s."""
        if cameras < 1:
            raise ValueError("cameras must be at least 1")
        if width < 16 or height < 16 or width % 2 or height % 2:
            raise ValueError("width and height must be even and at least 16")
        if not 1 <= fps <= 120:
            raise ValueError("fps must be between 1 and 120")
        if not 0.1 <= gop_s <= 60:
            raise ValueError("gop_s must be between 0.1 and 60 seconds")
        if bitrate < 10_000:
            raise ValueError("bitrate is in bits per second and must be at least 10000")
        if (username is None) != (password is None):
            raise ValueError("give both username and password, or neither")
        codecs = dict(codecs or {})
        for index, codec in codecs.items():
            if not 1 <= index <= cameras:
                raise ValueError(f"codecs names camera {index}, but there are {cameras}")
            if codec not in ENCODERS:
                raise ValueError(f"codec must be one of {sorted(ENCODERS)}, not {codec!r}")
            if not codec_available(codec=codec):
                raise ValueError(f"this PyAV build has no {ENCODERS[codec]} encoder, so {codec} is unavailable")
        self.settings = [
            EncoderSettings(
                codec=codecs.get(n, "h264"), width=width, height=height, fps=fps, gop_s=gop_s, bitrate=bitrate
            )
            for n in range(1, cameras + 1)
        ]
        self.cameras = cameras
        self.host = host
        self.username = username
        self.password = password
        self.idle_stop_s = idle_stop_s
        self.session_timeout_s = session_timeout_s
        self.walkers = frozenset(walkers)
        self._port = port
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_requested: asyncio.Event | None = None
        self._server: _RtspServer | None = None
        self._startup_error: BaseException | None = None

    @property
    def port(self) -> int:
        """The RTSP port; after the first start() this is the bound one, and restarts reuse it."""
        return self._port

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self.running:
            raise RuntimeError("the simulator is already running")
        ready = threading.Event()
        self._startup_error = None
        self._thread = threading.Thread(target=self._thread_main, args=(ready,), name="camera-simulator", daemon=True)
        self._thread.start()
        if not ready.wait(timeout=30):
            raise TimeoutError("the camera simulator did not start within 30 s")
        if self._startup_error is not None:
            self._thread.join(timeout=5)
            self._thread = None
            raise self._startup_error

    def stop(self) -> None:
        """Closes every client connection, stops all encoders and frees the port."""
        thread, loop, stop_requested = self._thread, self._loop, self._stop_requested
        if thread is None:
            return
        if loop is not None and stop_requested is not None and thread.is_alive():
            with contextlib.suppress(RuntimeError):  # the loop already ended
                loop.call_soon_threadsafe(stop_requested.set)
        thread.join(timeout=15)
        self._thread = None
        self._loop = None
        self._server = None

    def url(self, index: int, /, *, with_credentials: bool = True) -> str:
        if not 1 <= index <= self.cameras:
            raise ValueError(f"there is no camera {index}; cameras are 1..{self.cameras}")
        userinfo = ""
        if with_credentials and self.username is not None and self.password is not None:
            userinfo = f"{quote(self.username, safe='')}:{quote(self.password, safe='')}@"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"rtsp://{userinfo}{host}:{self._port}/cam{index}"

    def urls(self, *, with_credentials: bool = True) -> list[str]:
        return [self.url(n, with_credentials=with_credentials) for n in range(1, self.cameras + 1)]

    def encoding_cameras(self) -> frozenset[int]:
        """Indexes of the cameras whose encoders are running right now."""
        server = self._server
        return server.encoding_cameras() if server is not None else frozenset()

    def __enter__(self) -> CameraSimulator:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _thread_main(self, ready: threading.Event) -> None:
        try:
            asyncio.run(self._serve(ready=ready))
        except BaseException as exc:  # handed to the thread that called start(), e.g. "address in use"
            if not ready.is_set():
                self._startup_error = exc
                ready.set()
            else:
                logger.exception("camera simulator stopped with an error")

    async def _serve(self, *, ready: threading.Event) -> None:
        credentials = None
        if self.username is not None and self.password is not None:
            credentials = CameraCredentials(username=self.username, password=self.password)
        server = _RtspServer(
            settings=self.settings,
            credentials=credentials,
            idle_stop_s=self.idle_stop_s,
            session_timeout_s=self.session_timeout_s,
            walkers=self.walkers,
        )
        await server.open(host=self.host, port=self._port)
        self._port = server.port
        self._loop = asyncio.get_running_loop()
        self._stop_requested = asyncio.Event()
        self._server = server
        ready.set()
        try:
            await self._stop_requested.wait()
        finally:
            await server.close()
