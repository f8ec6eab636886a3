"""Request bodies are capped before Django reads them (issue 11, item 16): a Content-Length over the route's cap
is answered 413 at once, a chunked body is cut off once it passes the cap, nothing big is spooled to disk, and
the server keeps answering. Raw sockets against the real ASGI server (uvicorn)."""

from __future__ import annotations

import contextlib
import os
import socket
import time
from pathlib import Path

import pytest

from tests.conftest import AsgiServer

MB = 1024 * 1024
pytestmark = pytest.mark.django_db(transaction=True)


def _connect(server: AsgiServer) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=60)
    return sock


def _status(sock: socket.socket) -> int:
    head = b""
    while b"\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            break
        head += chunk
    return int(head.split(b" ", 2)[1])


def _largest_open_file() -> int:
    """The size of the largest regular file this process holds open (Django's spooled upload is unlinked at
    once, so it shows only here)."""
    largest = 0
    for fd in Path("/proc/self/fd").iterdir():
        try:
            stat = os.stat(fd)
        except OSError:
            continue
        if stat.st_mode & 0o170000 == 0o100000:
            largest = max(largest, stat.st_size)
    return largest


def _still_answers(server: AsgiServer) -> None:
    with _connect(server) as sock:
        sock.sendall(b"GET /tips/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        assert _status(sock) == 200


@pytest.mark.parametrize("path", ["/tips/", "/tips/follow-up/reply/", "/api/tips/", "/ingest/sensors/1/events"])
def test_a_huge_content_length_is_refused_at_once(asgi_server: AsgiServer, path: str) -> None:
    with _connect(asgi_server) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\n"
            f"Content-Length: {2 * 1024 * MB}\r\n\r\n".encode()
            + b"x" * 65536
        )
        response = sock.recv(65536)
    assert response.startswith(b"HTTP/1.1 413"), response[:200]
    assert b"Request too large" in response
    _still_answers(asgi_server)


def _multipart(*, size: int) -> tuple[bytes, str]:
    boundary = "lantern-boundary"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="category"\r\n\r\nother\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="description"\r\n\r\nA big file.\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="attachments"; filename="big.mp4"\r\n'
        "Content-Type: video/mp4\r\n\r\n"
    ).encode()
    body += b"\0" * size + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def test_the_tip_form_takes_files_larger_than_the_small_cap(asgi_server: AsgiServer, settings) -> None:
    settings.REQUEST_MAX_MB = 1
    body, content_type = _multipart(size=3 * MB)
    for path, expected in (("/tips/", 201), ("/tips/follow-up/", 413)):
        with _connect(asgi_server) as sock:
            sock.sendall(
                f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            )
            with contextlib.suppress(OSError):  # refused before the body: the server may close while we send
                sock.sendall(body)
            assert _status(sock) == expected, path


def test_a_chunked_body_is_cut_off_past_the_cap(asgi_server: AsgiServer, settings) -> None:
    settings.REQUEST_MAX_MB = 4
    chunk = b"y" * MB
    sent = 0
    largest = 0
    with _connect(asgi_server) as sock:
        sock.sendall(
            b"POST /api/tips/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        sock.settimeout(0.05)
        response = b""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and sent < 200 * MB:
            try:
                response += sock.recv(65536)
            except TimeoutError:
                pass
            except OSError:
                break
            if response:
                break
            try:
                sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            except OSError:
                break  # the server closed the connection after its answer
            sent += len(chunk)
            largest = max(largest, _largest_open_file())
        sock.settimeout(30)
        while b"\r\n" not in response:
            more = sock.recv(65536)
            if not more:
                break
            response += more
    assert response.startswith(b"HTTP/1.1 413"), response[:200]
    # Stopped long before the 200 MB on offer, and no spooled body ever grew much past the cap.
    assert sent < 100 * MB
    assert largest < 8 * MB
    assert _largest_open_file() < 8 * MB
    _still_answers(asgi_server)


def test_django_keeps_small_form_fields(settings) -> None:
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE <= 2 * MB
    assert settings.TIP_UPLOAD_REQUEST_MAX_MB >= settings.TIP_MAX_ATTACHMENTS * settings.TIP_MAX_VIDEO_MB
