"""Stream addresses: Lantern never connects to loopback, private, link-local or metadata addresses unless the
operator allows private camera networks, and checks again on every redirect and playlist hop.

The "internal service" in these tests listens on 127.0.0.2 and the "camera" on 127.0.0.1, with only
127.0.0.1/32 allowed: a hop from one to the other is exactly a public camera pointing the server inward.
"""

from __future__ import annotations

import functools
import http.server
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils.html import escape

from cameras.credentials import stream_url_validate
from cameras.media.addresses import REFUSED_MESSAGE
from cameras.media.probe import ERROR, ONLINE, probe_stream
from cameras.models import Camera
from community.models import Site, User
from devtools.simulator import CameraSimulator

INTERNAL_HOST = "127.0.0.2"


@pytest.fixture
def private_refused(settings: Any) -> Any:
    settings.STREAM_ALLOW_PRIVATE = False
    settings.STREAM_ALLOWED_NETWORKS = []
    return settings


@pytest.fixture
def only_the_camera_allowed(settings: Any) -> Any:
    settings.STREAM_ALLOW_PRIVATE = False
    settings.STREAM_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    return settings


def _clip_write(path: Path) -> None:
    with av.open(str(path), "w", format="mpegts") as out:
        stream = out.add_stream("libx264", rate=15)
        assert isinstance(stream, av.VideoStream)
        stream.width, stream.height, stream.pix_fmt = 320, 180, "yuv420p"
        for n in range(15):
            frame = av.VideoFrame.from_ndarray(np.full((180, 320, 3), n * 10, dtype=np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


class _Server:
    """A tiny HTTP server that serves files, redirects and playlists, and remembers every path asked for."""

    def __init__(self, *, host: str, root: Path, routes: dict[str, tuple[int, dict[str, str], bytes]]) -> None:
        self.requests: list[str] = []
        server = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                server.requests.append(self.path)
                if self.path in routes:
                    status, headers, body = routes[self.path]
                    self.send_response(status)
                    for name, value in {**headers, "Content-Length": str(len(body))}.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(body)
                    return
                super().do_GET()

        self.httpd = http.server.ThreadingHTTPServer((host, 0), functools.partial(Handler, directory=str(root)))
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def internal(tmp_path: Path) -> Iterator[_Server]:
    """The internal service an attacker wants read back: it serves a video, so a leak would show as a snapshot."""
    root = tmp_path / "internal"
    root.mkdir()
    _clip_write(root / "secret.ts")
    server = _Server(host=INTERNAL_HOST, root=root, routes={})
    yield server
    server.close()


@pytest.fixture
def camera(tmp_path: Path, internal: _Server) -> Iterator[_Server]:
    """The owner's "camera" on 127.0.0.1: a real clip, a redirect inward and playlists."""
    root = tmp_path / "camera"
    root.mkdir()
    _clip_write(root / "clip.ts")
    inward = f"http://{INTERNAL_HOST}:{internal.port}/secret.ts"
    mpegurl = {"Content-Type": "application/vnd.apple.mpegurl"}

    def playlist(segment: str) -> bytes:
        return (
            "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n"
            f"#EXTINF:1.0,\n{segment}\n#EXT-X-ENDLIST\n"
        ).encode()

    server = _Server(
        host="127.0.0.1",
        root=root,
        routes={
            "/redirect": (302, {"Location": inward}, b""),
            "/inward.m3u8": (200, mpegurl, playlist(inward)),
            "/own.m3u8": (200, mpegurl, playlist("clip.ts")),
        },
    )
    yield server
    server.close()


@pytest.fixture
def closed_internal_port() -> int:
    sock = socket.socket()
    sock.bind((INTERNAL_HOST, 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def test_an_allowed_camera_is_still_probed(only_the_camera_allowed: Any, camera: _Server) -> None:
    result = probe_stream(url=f"http://127.0.0.1:{camera.port}/clip.ts", timeout_s=10)
    assert result.health == ONLINE, result.message
    assert result.snapshot_jpeg is not None


def test_a_playlist_whose_segments_stay_on_the_camera_is_still_probed(
    only_the_camera_allowed: Any, camera: _Server
) -> None:
    result = probe_stream(url=f"http://127.0.0.1:{camera.port}/own.m3u8", timeout_s=10)
    assert result.health == ONLINE, result.message


def test_a_redirect_to_an_internal_address_is_refused_and_never_followed(
    only_the_camera_allowed: Any, camera: _Server, internal: _Server
) -> None:
    result = probe_stream(url=f"http://127.0.0.1:{camera.port}/redirect", timeout_s=10)

    assert "/redirect" in camera.requests
    assert internal.requests == []
    assert (result.health, result.message, result.snapshot_jpeg) == (ERROR, REFUSED_MESSAGE, None)


def test_a_playlist_naming_an_internal_segment_is_refused_and_the_segment_never_fetched(
    only_the_camera_allowed: Any, camera: _Server, internal: _Server
) -> None:
    result = probe_stream(url=f"http://127.0.0.1:{camera.port}/inward.m3u8", timeout_s=10)

    assert "/inward.m3u8" in camera.requests
    assert internal.requests == []
    assert (result.health, result.message, result.snapshot_jpeg) == (ERROR, REFUSED_MESSAGE, None)


def test_a_loopback_address_is_refused_with_the_same_words_whether_its_port_is_open_or_closed(
    private_refused: Any, internal: _Server, closed_internal_port: int
) -> None:
    open_port = probe_stream(url=f"http://{INTERNAL_HOST}:{internal.port}/secret.ts", timeout_s=5)
    closed_port = probe_stream(url=f"http://{INTERNAL_HOST}:{closed_internal_port}/secret.ts", timeout_s=5)
    by_name = probe_stream(url=f"rtsp://localhost:{internal.port}/cam1", timeout_s=5)

    assert internal.requests == []
    assert open_port.message == closed_port.message == by_name.message == REFUSED_MESSAGE
    assert open_port.snapshot_jpeg is None


def test_an_rtsp_camera_on_loopback_is_refused_unless_private_networks_are_allowed(
    settings: Any,
) -> None:
    with CameraSimulator(cameras=1, width=320, height=180, bitrate=300_000) as sim:
        settings.STREAM_ALLOW_PRIVATE = False
        refused = probe_stream(url=sim.url(1), timeout_s=5)
        settings.STREAM_ALLOW_PRIVATE = True
        allowed = probe_stream(url=sim.url(1), timeout_s=5)

    assert (refused.health, refused.message) == (ERROR, REFUSED_MESSAGE)
    assert allowed.health == ONLINE, allowed.message


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:6379/",
        "rtsp://10.0.0.5/stream",
        "rtsp://192.168.1.20:554/live",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:8000/",
        "http://[::ffff:127.0.0.1]/",
        "rtsp://100.64.0.1/cam",
        "http://0.0.0.0:8000/",
        "rtsp://localhost:8554/cam1",
    ],
)
def test_enrolment_refuses_non_public_addresses(private_refused: Any, url: str) -> None:
    with pytest.raises(ValidationError) as refused:
        stream_url_validate(url)
    assert refused.value.messages == [REFUSED_MESSAGE]


def test_allowing_private_networks_never_allows_the_metadata_address(settings: Any) -> None:
    settings.STREAM_ALLOW_PRIVATE = True
    assert stream_url_validate("rtsp://192.168.1.20:554/live") == "rtsp://192.168.1.20:554/live"
    with pytest.raises(ValidationError):
        stream_url_validate("http://169.254.169.254/latest/meta-data/")


def test_a_public_address_is_accepted_with_private_networks_refused(private_refused: Any) -> None:
    assert stream_url_validate("rtsp://8.8.8.8:554/live") == "rtsp://8.8.8.8:554/live"


def test_the_api_answers_400_for_a_loopback_stream_address_and_stores_nothing(
    private_refused: Any, client_as, alice_site: Site
) -> None:
    response = client_as("alice").post(
        "/api/cameras/",
        {"site": alice_site.pk, "name": "Back door", "stream_url": "http://127.0.0.1:6379/"},
        format="json",
    )

    assert response.status_code == 400
    assert REFUSED_MESSAGE in str(response.json())
    assert not Camera.objects.exists()


def test_the_enrolment_form_refuses_a_metadata_address_and_stores_nothing(
    private_refused: Any, alice: User, alice_site: Site
) -> None:
    client = Client()
    client.force_login(alice)
    response = client.post(
        f"/portal/businesses/{alice_site.business_id}/cameras/new/",
        {
            "name": "Back door",
            "site": alice_site.pk,
            "source": "pull",
            "stream_url": "http://169.254.169.254/latest/meta-data/",
            "placement": "outdoor",
        },
    )

    assert response.status_code in (200, 400)
    assert escape(REFUSED_MESSAGE) in response.content.decode()
    assert not Camera.objects.exists()
