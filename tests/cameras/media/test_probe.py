"""probe_stream tells a shop owner, quickly and in words, whether a camera works, and never leaks its password."""

from __future__ import annotations

import errno
import functools
import http.server
import io
import socket
import threading
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from urllib.parse import quote

import av
import av.error
import numpy as np
import pytest
from PIL import Image

from cameras.media import probe as probe_module
from cameras.media.probe import ERROR, OFFLINE, ONLINE, probe_stream, text_without_credentials
from devtools.simulator import CameraSimulator
from devtools.simulator import server as simulator_server
from devtools.simulator.encoder import codec_available

PASSWORD = "pa:ss@w/rd"
PASSWORD_IN_URL = quote(PASSWORD, safe="")
HEVC = codec_available(codec="hevc")


@pytest.fixture(scope="module")
def sim() -> Iterator[CameraSimulator]:
    """Camera 1 is H.264; camera 2 is H.265 when this PyAV build can encode it."""
    with CameraSimulator(cameras=2, width=320, height=180, bitrate=300_000, codecs={2: "hevc"} if HEVC else {}) as s:
        yield s


@pytest.fixture(scope="module")
def locked_sim() -> Iterator[CameraSimulator]:
    with CameraSimulator(cameras=1, width=320, height=180, bitrate=300_000, username="alice", password=PASSWORD) as s:
        yield s


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A loopback port that accepts connections and then never says a word."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                held.append(listener.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    yield listener.getsockname()[1]
    listener.close()
    for conn in held:
        conn.close()


@pytest.fixture
def closed_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


@pytest.fixture
def web_root(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    """A directory served over HTTP on loopback, like a camera's MJPEG or MP4 endpoint."""
    handler = functools.partial(QuietHandler, directory=str(tmp_path))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield tmp_path, httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def video_file_write(*, path: Path, codec: str, container_format: str, frames: int = 15) -> None:
    with av.open(str(path), "w", format=container_format) as out:
        stream = out.add_stream(codec, rate=15)
        assert isinstance(stream, av.VideoStream)
        stream.width, stream.height = 320, 180
        stream.pix_fmt = "yuvj420p" if codec == "mjpeg" else "yuv420p"
        for n in range(frames):
            image = np.full((180, 320, 3), (n * 16) % 255, dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = n, Fraction(1, 15)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))


def test_a_simulated_camera_is_online_with_its_details_and_a_snapshot(sim: CameraSimulator) -> None:
    result = probe_stream(url=sim.url(1), timeout_s=5)
    assert (result.health, result.message) == (ONLINE, "")
    assert result.codec == "h264"
    assert result.profile  # x264 ultrafast gives "Constrained Baseline"
    assert (result.width, result.height, result.fps) == (320, 180, 15.0)
    assert result.snapshot_jpeg is not None and result.snapshot_jpeg[:3] == b"\xff\xd8\xff"
    snapshot = Image.open(io.BytesIO(result.snapshot_jpeg))
    assert (snapshot.format, snapshot.size) == ("JPEG", (320, 180))
    assert 0 < result.elapsed_s < 5


def test_a_full_hd_snapshot_is_scaled_down_to_1280_wide() -> None:
    with CameraSimulator(cameras=1, width=1920, height=1080, bitrate=4_000_000) as big:
        result = probe_stream(url=big.url(1), timeout_s=5)
    assert result.health == ONLINE
    assert (result.width, result.height) == (1920, 1080)
    assert result.snapshot_jpeg is not None
    assert Image.open(io.BytesIO(result.snapshot_jpeg)).size == (1280, 720)


def test_right_credentials_are_online(locked_sim: CameraSimulator) -> None:
    assert probe_stream(url=locked_sim.url(1), timeout_s=5).health == ONLINE


def test_a_wrong_password_says_so_and_never_repeats_it(locked_sim: CameraSimulator) -> None:
    url = locked_sim.url(1).replace("pa%3Ass", "guess%3Ass")
    result = probe_stream(url=url, timeout_s=5)
    assert result.health == ERROR
    assert "username or password" in result.message
    assert "guess" not in repr(result) and "ss%40w" not in repr(result)
    assert result.elapsed_s < 2


def test_missing_credentials_say_so(locked_sim: CameraSimulator) -> None:
    result = probe_stream(url=locked_sim.url(1, with_credentials=False), timeout_s=5)
    assert result.health == ERROR
    assert "username or password" in result.message


def test_an_unknown_path_says_there_is_no_stream_there(sim: CameraSimulator) -> None:
    result = probe_stream(url=sim.url(1).replace("/cam1", "/cam9"), timeout_s=5)
    assert result.health == ERROR
    assert "no stream at this address" in result.message


def test_a_closed_port_is_offline_and_quick(closed_port: int) -> None:
    result = probe_stream(url=f"rtsp://admin:{PASSWORD_IN_URL}@127.0.0.1:{closed_port}/cam1", timeout_s=5)
    assert result.health == OFFLINE
    assert f"127.0.0.1:{closed_port} is unreachable" in result.message
    assert "refused" in result.message
    assert PASSWORD_IN_URL not in result.message
    assert result.elapsed_s < 1


def test_a_port_that_never_answers_gives_up_after_the_timeout(silent_port: int) -> None:
    result = probe_stream(url=f"rtsp://127.0.0.1:{silent_port}/cam1", timeout_s=1.5)
    assert result.health == OFFLINE
    assert result.message == f"The camera at 127.0.0.1:{silent_port} did not answer within 1.5 s."
    assert 1.3 < result.elapsed_s < 2.2


def test_a_camera_that_plays_but_sends_no_video_gives_up_after_the_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # PLAY succeeds but the encoder never runs: the connection stays up and no packet ever comes.
    monkeypatch.setattr(simulator_server.StreamEncoder, "start", lambda self: None)
    with CameraSimulator(cameras=1, width=160, height=90) as mute:
        result = probe_stream(url=mute.url(1), timeout_s=1.5)
    assert result.health == OFFLINE
    assert "within 1.5 s" in result.message
    assert result.elapsed_s < 2.2


@pytest.mark.skipif(not HEVC, reason="this PyAV build has no libx265 encoder, so the simulator cannot serve H.265")
def test_hevc_is_described_but_not_supported_for_live_view(sim: CameraSimulator) -> None:
    result = probe_stream(url=sim.url(2), timeout_s=5)
    assert result.health == ERROR
    assert result.message == "H.265 is not supported for live view; set the camera to H.264."
    assert (result.codec, result.width, result.height) == ("hevc", 320, 180)
    assert result.snapshot_jpeg is not None
    assert Image.open(io.BytesIO(result.snapshot_jpeg)).size == (320, 180)


def test_an_mp4_over_http_is_online(web_root: tuple[Path, int]) -> None:
    root, port = web_root
    video_file_write(path=root / "clip.mp4", codec="libx264", container_format="mp4")
    result = probe_stream(url=f"http://127.0.0.1:{port}/clip.mp4", timeout_s=5)
    assert result.health == ONLINE, result.message
    assert (result.codec, result.width, result.height, result.fps) == ("h264", 320, 180, 15.0)
    assert result.snapshot_jpeg is not None


def test_mjpeg_over_http_is_described_but_not_supported_for_live_view(web_root: tuple[Path, int]) -> None:
    root, port = web_root
    video_file_write(path=root / "camera.mjpg", codec="mjpeg", container_format="mjpeg")
    result = probe_stream(url=f"http://127.0.0.1:{port}/camera.mjpg", timeout_s=5)
    assert result.health == ERROR
    assert result.message == "MJPEG is not supported for live view; set the camera to H.264."
    assert (result.codec, result.width, result.height) == ("mjpeg", 320, 180)
    assert result.snapshot_jpeg is not None


def test_a_missing_http_resource_says_there_is_no_stream_there(web_root: tuple[Path, int]) -> None:
    _, port = web_root
    result = probe_stream(url=f"http://127.0.0.1:{port}/nothing.mjpg", timeout_s=5)
    assert result.health == ERROR
    assert "no stream at this address" in result.message


@pytest.mark.parametrize(
    ("code", "resolves", "expected"),
    [
        (errno.EHOSTUNREACH, True, "is unreachable: there is no network route to it"),
        (errno.ENETUNREACH, True, "is unreachable: there is no network route to it"),
        (errno.EIO, False, "is unreachable: the name cam.example.invalid could not be found"),
        (errno.ETIMEDOUT, True, "did not answer within 5 s"),
    ],
)
def test_network_failures_are_offline_with_a_clear_message(
    monkeypatch: pytest.MonkeyPatch, code: int, resolves: bool, expected: str
) -> None:
    # Real DNS and routing failures need the outside network, which tests must not touch; FFmpeg's
    # errors for them are raised here instead.
    def fake_open(url: str, **kwargs: object) -> None:
        av.error.err_check(-code, url)

    def fake_getaddrinfo(host: str, *args: object, **kwargs: object) -> list[object]:
        if not resolves:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return []

    monkeypatch.setattr(probe_module.av, "open", fake_open)
    monkeypatch.setattr(probe_module.socket, "getaddrinfo", fake_getaddrinfo)
    result = probe_stream(url=f"rtsp://admin:{PASSWORD_IN_URL}@cam.example.invalid:554/live", timeout_s=5)
    assert result.health == OFFLINE
    assert result.message.startswith("The camera at cam.example.invalid:554 ")
    assert expected in result.message
    assert PASSWORD_IN_URL not in result.message


def test_an_unexpected_error_is_reported_without_the_password(monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"rtsp://admin:{PASSWORD_IN_URL}@127.0.0.1:554/live"

    def fake_open(url: str, **kwargs: object) -> None:
        raise RuntimeError(f"something broke opening {url}")

    monkeypatch.setattr(probe_module.av, "open", fake_open)
    result = probe_stream(url=url, timeout_s=5)
    assert result.health == ERROR
    assert "something broke" in result.message
    assert "pa%3Ass" not in result.message and "admin" not in result.message


def test_a_url_without_a_scheme_is_an_error() -> None:
    result = probe_stream(url="127.0.0.1/cam1", timeout_s=1)
    assert result.health == ERROR
    assert "rtsp://" in result.message


def test_text_without_credentials_strips_every_form_of_the_password() -> None:
    url = "rtsp://alice:pa%3Ass%40w%2Frd@127.0.0.1:554/cam1"
    text = f"[Errno 111] Connection refused: '{url}' (password pa:ss@w/rd)"
    cleaned = text_without_credentials(text=text, url=url)
    assert "pa:ss@w/rd" not in cleaned and "pa%3Ass" not in cleaned and "alice" not in cleaned
    assert "rtsp://127.0.0.1:554/cam1" in cleaned
