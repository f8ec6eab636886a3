"""The camera simulator speaks RTSP/RTP well enough for FFmpeg, PyAV and a strict hand-written client."""

from __future__ import annotations

import base64
import hashlib
import itertools
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import NamedTuple
from urllib.parse import urlsplit

import av
import av.error
import numpy as np
import pytest
from av.video.frame import PictureType

from devtools.simulator import CameraSimulator
from devtools.simulator.encoder import codec_available
from devtools.simulator.scene import StreetScene, clock_text

FPS = 15
# PyAV (like FFmpeg) analyses 5 s of stream by default; half a second keeps the tests quick.
TCP = {"rtsp_transport": "tcp", "analyzeduration": "500000"}
HEVC_CAMERA = 3  # see conftest.open_sim
NTP_EPOCH_OFFSET = 2_208_988_800


class RawRtsp:
    """A minimal RTSP client over one TCP connection that keeps interleaved RTP/RTCP apart from responses."""

    def __init__(self, *, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.buffer = b""
        self.cseq = 0
        self.interleaved: list[tuple[int, bytes, float]] = []  # channel, payload, arrival time

    def close(self) -> None:
        self.sock.close()

    def request(
        self, method: str, uri: str, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, list[str]], bytes]:
        self.cseq += 1
        lines = [f"{method} {uri} RTSP/1.0", f"CSeq: {self.cseq}", "User-Agent: lantern-tests"]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        while True:
            item = self._next()
            if item is not None:
                status, response_headers, body = item
                assert response_headers["cseq"] == [str(self.cseq)]
                return status, response_headers, body

    def read_for(self, *, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            item = self._next()
            assert item is None, "unexpected RTSP response while streaming"

    def _fill(self, size: int) -> None:
        while len(self.buffer) < size:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("server closed the connection")
            self.buffer += chunk

    def _next(self) -> tuple[int, dict[str, list[str]], bytes] | None:
        self._fill(1)
        if self.buffer[:1] == b"$":
            self._fill(4)
            length = int.from_bytes(self.buffer[2:4], "big")
            self._fill(4 + length)
            self.interleaved.append((self.buffer[1], self.buffer[4 : 4 + length], time.time()))
            self.buffer = self.buffer[4 + length :]
            return None
        while b"\r\n\r\n" not in self.buffer:
            self._fill(len(self.buffer) + 1)
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        status_line, *header_lines = head.decode().split("\r\n")
        headers: dict[str, list[str]] = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            headers.setdefault(name.strip().lower(), []).append(value.strip())
        length = int(headers.get("content-length", ["0"])[0])
        self._fill(length)
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return int(status_line.split()[1]), headers, body


@pytest.fixture
def raw(open_sim: CameraSimulator) -> Iterator[RawRtsp]:
    client = RawRtsp(port=open_sim.port)
    yield client
    client.close()


def ffmpeg_frames(*, url: str, transport: str, frames: int = 8) -> tuple[int, str]:
    """How many frames FFmpeg decoded from `url` (framemd5 prints one line per frame), and its stderr."""
    result = subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-hide_banner",
            "-loglevel",
            "error",
            "-rtsp_transport",
            transport,
            # FFmpeg analyses 5 s of stream by default; half a second keeps the tests quick.
            "-analyzeduration",
            "500000",
            "-i",
            url,
            "-frames:v",
            str(frames),
            "-f",
            "framemd5",
            "-",
        ],
        capture_output=True,
        text=True,
        timeout=20,
    )
    lines = [line for line in result.stdout.splitlines() if line and not line.startswith("#")]
    return len(lines), result.stderr


def pyav_frames(*, url: str, count: int, transport: str = "tcp") -> list[av.VideoFrame]:
    with av.open(url, options=TCP | {"rtsp_transport": transport}, timeout=5) as container:
        frames = []
        for frame in container.decode(video=0):
            frames.append(frame)
            if len(frames) >= count:
                return frames
    return frames


class RtpPacket(NamedTuple):
    version: int
    marker: bool
    pt: int
    seq: int
    ts: int
    ssrc: int
    payload: bytes


def rtp_parse(packet: bytes) -> RtpPacket:
    first, second, sequence, timestamp, ssrc = struct.unpack("!BBHII", packet[:12])
    return RtpPacket(first >> 6, bool(second & 0x80), second & 0x7F, sequence, timestamp, ssrc, packet[12:])


def play_over_tcp(raw: RawRtsp, *, url: str) -> dict[str, list[str]]:
    status, headers, _ = raw.request("DESCRIBE", url, {"Accept": "application/sdp"})
    assert status == 200
    base = headers["content-base"][0]
    status, headers, _ = raw.request("SETUP", base + "trackID=0", {"Transport": "RTP/AVP/TCP;unicast;interleaved=0-1"})
    assert status == 200
    assert headers["transport"][0].startswith("RTP/AVP/TCP;unicast;interleaved=0-1")
    session = headers["session"][0].split(";")[0]
    status, headers, _ = raw.request("PLAY", base, {"Session": session, "Range": "npt=0.000-"})
    assert status == 200
    headers["x-session"] = [session]
    return headers


def test_ffmpeg_plays_it_over_tcp(open_sim: CameraSimulator) -> None:
    frames, stderr = ffmpeg_frames(url=open_sim.url(1), transport="tcp")
    assert frames == 8, stderr


def test_ffmpeg_plays_it_over_udp(open_sim: CameraSimulator) -> None:
    frames, stderr = ffmpeg_frames(url=open_sim.url(2), transport="udp")
    assert frames == 8, stderr


def test_pyav_decodes_h264_at_the_configured_size(open_sim: CameraSimulator) -> None:
    with av.open(open_sim.url(1), options=TCP, timeout=5) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert (stream.codec_context.width, stream.codec_context.height) == (320, 180)
        assert stream.average_rate == FPS
        frame = next(container.decode(stream))
    assert (frame.width, frame.height) == (320, 180)
    assert frame.key_frame


def test_there_are_no_b_frames_and_a_keyframe_every_gop(open_sim: CameraSimulator) -> None:
    keyframe_pts: list[int] = []
    frame_pts: list[int] = []
    picture_types: set[str] = set()
    with av.open(open_sim.url(1), options=TCP, timeout=5) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.has_b_frames == 0
        for packet in container.demux(stream):
            if packet.pts is None:
                continue
            if packet.is_keyframe:
                keyframe_pts.append(packet.pts)
            for frame in packet.decode():
                assert frame.pts is not None
                frame_pts.append(frame.pts)
                picture_types.add(PictureType(frame.pict_type).name)
            if len(keyframe_pts) == 3:
                break
    assert picture_types <= {"I", "P"}
    # Without B-frames, frames come out in the order they went in.
    assert frame_pts == sorted(frame_pts)
    assert stream.time_base is not None
    gaps = {round((b - a) * stream.time_base, 3) for a, b in itertools.pairwise(keyframe_pts)}
    assert gaps == {1.0}


def test_two_clients_at_once_both_get_frames(open_sim: CameraSimulator) -> None:
    results: dict[str, tuple[int, str]] = {}

    def watch(transport: str) -> None:
        results[transport] = ffmpeg_frames(url=open_sim.url(1), transport=transport, frames=10)

    watchers = [threading.Thread(target=watch, args=(t,)) for t in ("tcp", "udp")]
    for watcher in watchers:
        watcher.start()
    for watcher in watchers:
        watcher.join(timeout=25)
    assert results["tcp"][0] == 10, results["tcp"][1]
    assert results["udp"][0] == 10, results["udp"][1]


def test_wrong_password_gets_401(locked_sim: CameraSimulator) -> None:
    wrong = locked_sim.url(1).replace("s3cret", "guess")
    with pytest.raises(av.error.HTTPUnauthorizedError):
        av.open(wrong, options=TCP, timeout=5)
    frames, stderr = ffmpeg_frames(url=wrong, transport="tcp", frames=1)
    assert frames == 0
    assert "401" in stderr


def test_missing_credentials_get_401(locked_sim: CameraSimulator) -> None:
    with pytest.raises(av.error.HTTPUnauthorizedError):
        av.open(locked_sim.url(1, with_credentials=False), options=TCP, timeout=5)


def test_right_credentials_play(locked_sim: CameraSimulator) -> None:
    assert "s3cret%3Ap%40ss%2Fword@" in locked_sim.url(1)
    frames, stderr = ffmpeg_frames(url=locked_sim.url(1), transport="tcp", frames=3)
    assert frames == 3, stderr
    assert len(pyav_frames(url=locked_sim.url(1), count=3, transport="udp")) == 3


def test_it_offers_digest_and_accepts_basic(locked_sim: CameraSimulator) -> None:
    client = RawRtsp(port=locked_sim.port)
    url = locked_sim.url(1, with_credentials=False)
    try:
        status, headers, _ = client.request("DESCRIBE", url)
        assert status == 401
        challenges = headers["www-authenticate"]
        assert challenges[0].startswith('Digest realm="') and "nonce=" in challenges[0]
        assert challenges[1].startswith("Basic ")

        wrong = base64.b64encode(f"{locked_sim.username}:nope".encode()).decode()
        assert client.request("DESCRIBE", url, {"Authorization": f"Basic {wrong}"})[0] == 401
        right = base64.b64encode(f"{locked_sim.username}:{locked_sim.password}".encode()).decode()
        status, _, body = client.request("DESCRIBE", url, {"Authorization": f"Basic {right}"})
        assert status == 200
        assert b"m=video" in body
    finally:
        client.close()


def test_digest_with_a_made_up_nonce_is_refused(locked_sim: CameraSimulator) -> None:
    client = RawRtsp(port=locked_sim.port)
    url = locked_sim.url(1, with_credentials=False)
    realm = "Lantern camera simulator"
    username, password = locked_sim.username, locked_sim.password

    # Digest authentication is defined over MD5.
    def digest(nonce: str) -> str:
        ha1 = hashlib.md5(f"{username}:{realm}:{password}".encode()).hexdigest()  # noqa: S324
        ha2 = hashlib.md5(f"DESCRIBE:{url}".encode()).hexdigest()  # noqa: S324
        response = hashlib.md5(f"{ha1}:{nonce}:{ha2}".encode()).hexdigest()  # noqa: S324
        return f'Digest username="{username}", realm="{realm}", nonce="{nonce}", uri="{url}", response="{response}"'

    try:
        assert client.request("DESCRIBE", url, {"Authorization": digest("0" * 32)})[0] == 401
        _, headers, _ = client.request("DESCRIBE", url)
        issued = headers["www-authenticate"][0].split('nonce="')[1].split('"')[0]
        assert client.request("DESCRIBE", url, {"Authorization": digest(issued)})[0] == 200
    finally:
        client.close()


def test_unknown_path_gets_404(open_sim: CameraSimulator, raw: RawRtsp) -> None:
    with pytest.raises(av.error.HTTPNotFoundError):
        av.open(open_sim.url(1).replace("/cam1", "/cam9"), options=TCP, timeout=5)
    base = f"rtsp://127.0.0.1:{open_sim.port}"
    for path in ("/cam0", "/cam4", "/", "/cam1/trackID=7", "/cam1/extra/parts", "/camera1"):
        assert raw.request("DESCRIBE", base + path)[0] == 404, path


def test_options_lists_the_methods_and_describe_returns_h264_sdp(open_sim: CameraSimulator, raw: RawRtsp) -> None:
    status, headers, _ = raw.request("OPTIONS", open_sim.url(1))
    assert status == 200
    for method in ("DESCRIBE", "SETUP", "PLAY", "TEARDOWN", "GET_PARAMETER", "SET_PARAMETER"):
        assert method in headers["public"][0]

    status, headers, body = raw.request("DESCRIBE", open_sim.url(1), {"Accept": "application/sdp"})
    assert status == 200
    assert headers["content-type"] == ["application/sdp"]
    assert headers["content-base"] == [open_sim.url(1) + "/"]
    sdp = body.decode().splitlines()
    assert "m=video 0 RTP/AVP 96" in sdp
    assert "a=rtpmap:96 H264/90000" in sdp
    assert "a=control:trackID=0" in sdp
    fmtp = next(line for line in sdp if line.startswith("a=fmtp:96 "))
    params = dict(item.split("=", 1) for item in fmtp.removeprefix("a=fmtp:96 ").split(";"))
    assert params["packetization-mode"] == "1"
    sps, pps = (base64.b64decode(p) for p in params["sprop-parameter-sets"].split(","))
    assert sps[0] & 0x1F == 7 and pps[0] & 0x1F == 8
    assert params["profile-level-id"] == sps[1:4].hex().upper()


def test_rtp_over_tcp_follows_rfc_6184(open_sim: CameraSimulator, raw: RawRtsp) -> None:
    headers = play_over_tcp(raw, url=open_sim.url(2))
    rtp_info = dict(item.split("=", 1) for item in headers["rtp-info"][0].split(";"))
    assert rtp_info["url"].endswith("/cam2/trackID=0")
    raw.read_for(seconds=1.3)

    packets = [rtp_parse(p) for ch, p, _ in raw.interleaved if ch == 0]
    assert packets, "no RTP arrived"
    assert {(p.version, p.pt) for p in packets} == {(2, 96)}
    assert len({p.ssrc for p in packets}) == 1
    assert packets[0].seq == int(rtp_info["seq"])
    assert all((b.seq - a.seq) % 65536 == 1 for a, b in itertools.pairwise(packets))

    # Group packets into access units by timestamp; the marker bit closes each one.
    units: list[list[RtpPacket]] = []
    for packet in packets:
        if units and units[-1][-1].ts == packet.ts:
            units[-1].append(packet)
        else:
            units.append([packet])
    assert len(units) >= FPS
    for unit in units[:-1]:
        assert [p.marker for p in unit] == [False] * (len(unit) - 1) + [True]
    steps = {(b[0].ts - a[0].ts) % 2**32 for a, b in itertools.pairwise(units)}
    assert steps == {90_000 // FPS}

    def nal_types(unit: list[RtpPacket]) -> list[int]:
        types, fragments_open = [], False
        for packet in unit:
            payload = packet.payload
            kind = payload[0] & 0x1F
            if kind == 28:  # FU-A
                start, end = bool(payload[1] & 0x80), bool(payload[1] & 0x40)
                assert start != fragments_open, "FU-A start bit out of order"
                if start:
                    types.append(payload[1] & 0x1F)
                fragments_open = not end
            else:
                assert 1 <= kind <= 23 and not fragments_open
                types.append(kind)
        assert not fragments_open
        return types

    first = nal_types(units[0])
    # A new viewer starts on a keyframe with its parameter sets in front.
    assert first[:2] == [7, 8] and 5 in first
    assert any(p.payload[0] & 0x1F == 28 for p in packets), "expected FU-A fragments"
    for unit in units[1:]:
        nal_types(unit)


def test_sender_reports_tie_rtp_time_to_the_wall_clock(open_sim: CameraSimulator, raw: RawRtsp) -> None:
    play_over_tcp(raw, url=open_sim.url(1))
    # Wait for the first sender report, however long a busy machine takes to send it: this tests the
    # clock the report carries, not how soon it comes.
    deadline = time.monotonic() + 30
    while not any(ch == 1 for ch, _, _ in raw.interleaved):
        assert time.monotonic() < deadline, "no RTCP sender report within 30 s"
        raw.read_for(seconds=0.1)
    reports = [(p, arrived) for ch, p, arrived in raw.interleaved if ch == 1]
    report, arrived = reports[0]
    assert report[1] == 200  # SR
    ssrc, ntp_seconds, ntp_fraction, rtp_time = struct.unpack("!IIII", report[4:20])
    wall = ntp_seconds - NTP_EPOCH_OFFSET + ntp_fraction / 2**32
    # Same clock: the report's time is when it was sent, give or take the time it took us to read it.
    assert abs(wall - arrived) < 5
    assert report[28 + 1] == 202  # SDES with the CNAME follows
    # RTP timestamps are the capture time on the same clock, so the newest frame is slightly older than the SR.
    newest = max((rtp_parse(p) for ch, p, when in raw.interleaved if ch == 0 and when <= arrived), key=lambda p: p.seq)
    age = ((rtp_time - newest.ts) % 2**32) / 90_000
    assert 0 <= age < 5  # a starved encoder thread may lag behind the report; the clock is what counts
    assert newest.ssrc == ssrc


def test_keepalives_and_teardown(open_sim: CameraSimulator, raw: RawRtsp) -> None:
    session = play_over_tcp(raw, url=open_sim.url(1))["x-session"][0]
    assert raw.request("GET_PARAMETER", open_sim.url(1), {"Session": session})[0] == 200
    assert raw.request("SET_PARAMETER", open_sim.url(1), {"Session": session})[0] == 200
    assert raw.request("TEARDOWN", open_sim.url(1), {"Session": session})[0] == 200
    assert raw.request("PLAY", open_sim.url(1), {"Session": session})[0] == 454
    assert raw.request("ANNOUNCE", open_sim.url(1))[0] == 501


def test_setup_refuses_multicast(open_sim: CameraSimulator, raw: RawRtsp) -> None:
    status, _, _ = raw.request("SETUP", open_sim.url(1) + "/trackID=0", {"Transport": "RTP/AVP;multicast"})
    assert status == 461


def test_a_session_nobody_keeps_alive_times_out() -> None:
    with CameraSimulator(cameras=1, width=160, height=90, session_timeout_s=1) as sim:
        client = RawRtsp(port=sim.port)
        try:
            status, headers, _ = client.request(
                "SETUP", sim.url(1) + "/trackID=0", {"Transport": "RTP/AVP;unicast;client_port=40000-40001"}
            )
            assert status == 200
            assert ";server_port=" in headers["transport"][0]
            session, timeout = headers["session"][0].split(";")
            assert timeout == "timeout=1"
            time.sleep(0.6)
            assert client.request("GET_PARAMETER", sim.url(1), {"Session": session})[0] == 200
            time.sleep(0.6)
            assert client.request("GET_PARAMETER", sim.url(1), {"Session": session})[0] == 200
            time.sleep(1.8)
            assert client.request("PLAY", sim.url(1), {"Session": session})[0] == 454
        finally:
            client.close()


def test_it_encodes_only_while_someone_watches() -> None:
    with CameraSimulator(cameras=2, width=160, height=90, idle_stop_s=0.3) as sim:
        assert sim.encoding_cameras() == frozenset()
        with av.open(sim.url(2), options=TCP, timeout=5) as container:
            next(container.decode(video=0))
            assert sim.encoding_cameras() == {2}
        deadline = time.monotonic() + 3
        while sim.encoding_cameras() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sim.encoding_cameras() == frozenset()


def test_stop_then_start_serves_again_on_the_same_port() -> None:
    sim = CameraSimulator(cameras=1, width=160, height=90)
    sim.start()
    try:
        port = sim.port
        container = av.open(sim.url(1), options=TCP, timeout=3)
        frames = container.decode(video=0)
        next(frames)
        started = time.monotonic()
        sim.stop()
        # The viewer's connection is closed, so its stream ends instead of hanging.
        with pytest.raises((StopIteration, av.error.FFmpegError)):
            for _ in range(1000):
                next(frames)
        assert time.monotonic() - started < 4
        container.close()
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=1)

        sim.start()
        assert sim.port == port
        assert len(pyav_frames(url=sim.url(1), count=3)) == 3
    finally:
        sim.stop()


@pytest.mark.skipif(not codec_available(codec="hevc"), reason="this PyAV build has no libx265 encoder")
def test_an_hevc_camera_serves_h265(open_sim: CameraSimulator) -> None:
    assert open_sim.settings[HEVC_CAMERA - 1].codec == "hevc"
    with av.open(open_sim.url(HEVC_CAMERA), options=TCP, timeout=5) as container:
        assert container.streams.video[0].codec_context.name == "hevc"
        frame = next(container.decode(video=0))
    assert (frame.width, frame.height) == (320, 180)
    frames, stderr = ffmpeg_frames(url=open_sim.url(HEVC_CAMERA), transport="udp", frames=3)
    assert frames == 3, stderr


def test_url_carries_percent_encoded_credentials(locked_sim: CameraSimulator) -> None:
    parts = urlsplit(locked_sim.url(1))
    assert (parts.scheme, parts.hostname, parts.port, parts.path) == ("rtsp", "127.0.0.1", locked_sim.port, "/cam1")
    assert locked_sim.url(1, with_credentials=False) == f"rtsp://127.0.0.1:{locked_sim.port}/cam1"


def test_the_scene_moves_and_is_the_same_for_the_same_camera() -> None:
    at = 1_795_000_000.25
    one = StreetScene(index=1, name="cam1", width=320, height=180)
    again = StreetScene(index=1, name="cam1", width=320, height=180)
    other = StreetScene(index=2, name="cam2", width=320, height=180)
    frame = one.render(at=at)
    assert frame.shape == (180, 320, 3) and frame.dtype == np.uint8
    assert np.array_equal(frame, again.render(at=at))
    assert not np.array_equal(frame, other.render(at=at))
    assert not np.array_equal(frame, one.render(at=at + 0.5))
    assert clock_text(at=at) == "2026-11-18 11:06:40.250 UTC"
