"""Two relay processes share the cameras by rendezvous hashing over Redis; a POST to the wrong one is
redirected (307) to the owner, and the viewer gets frames from there."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from rest_framework.authtoken.models import Token

from cameras.credentials import stream_url_encrypt
from cameras.models import Camera, LiveSession
from cameras.relay_registry import relay_for_camera
from tests.cameras.live.whep_client import delete, poll, stop, wait_for, watch

ROOT = Path(__file__).resolve().parents[3]

pytestmark = pytest.mark.skipif(
    not (os.environ.get("LANTERN_REDIS_URL") and connection.vendor == "postgresql"),
    reason="two relay processes need PostgreSQL and Redis (CI has both)",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def relay_process(relay_id: str, port: int) -> subprocess.Popen:
    database = settings.DATABASES["default"]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "LANTERN_DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}",
        "LANTERN_RELAY_ID": relay_id,
        "LANTERN_RELAY_URL": f"http://127.0.0.1:{port}",
        "LANTERN_RELAY_HEARTBEAT_S": "0.5",
        "LANTERN_SECRET_KEY": settings.SECRET_KEY,
        # The simulator listens on loopback, which real deployments refuse as a camera address.
        "LANTERN_STREAM_ALLOW_PRIVATE": "true",
        # Their periodic reports would close the sessions these tests make up for them; not within a test.
        "LANTERN_LIVE_REPORT_S": "600",
    }
    command = [
        *(sys.executable, "-m", "uvicorn", "config.asgi:application"),
        *("--host", "127.0.0.1", "--port", str(port), "--timeout-graceful-shutdown", "3"),
    ]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def wait_up(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(process.stderr.read().decode())
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/transparency/", timeout=2)
            return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"relay on {port} did not start")


@pytest.fixture
def two_relays(transactional_db):
    suffix = uuid.uuid4().hex[:6]
    relays = {}
    processes = []
    for name in ("a", "b"):
        port = free_port()
        relay_id = f"relay-{name}-{suffix}"
        process = relay_process(relay_id, port)
        processes.append(process)
        relays[relay_id] = f"http://127.0.0.1:{port}"
    try:
        for (_, url), process in zip(relays.items(), processes, strict=True):
            wait_up(int(url.rsplit(":", 1)[1]), process)
        time.sleep(1.0)  # both have beaten at least once
        yield relays
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


def test_a_post_to_the_wrong_relay_is_redirected_and_the_viewer_gets_frames(
    two_relays, alice_camera, monitor, simulator
):
    Camera.objects.filter(pk=alice_camera.pk).update(
        stream_url_encrypted=stream_url_encrypt(simulator.url(1)), health="online", codec="h264"
    )
    token = Token.objects.create(user=monitor).key
    owner = relay_for_camera(camera_id=alice_camera.pk, relays=two_relays)
    wrong = next(url for relay_id, url in two_relays.items() if relay_id != owner)

    async def scenario():
        result = await watch(f"{wrong}/live/cameras/{alice_camera.pk}/whep", token)
        assert result.status == 201, result.error
        assert result.redirected_from.startswith(wrong)
        assert result.final_url.startswith(two_relays[owner])
        assert await wait_for(lambda: result.frames >= 5, timeout=15)
        assert await asyncio.to_thread(delete, result.location, token) == 200
        await stop(result)

    asyncio.run(scenario())
    session = LiveSession.objects.get()
    assert session.relay_id == owner
    assert poll(lambda: LiveSession.objects.get().ended_at is not None)


def _delete_at(url: str, token: str) -> tuple[int, str]:
    """DELETE without following redirects: (status, Location)."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"}, method="DELETE")
    try:
        with urllib.request.build_opener(NoRedirect).open(request, timeout=20) as response:
            return response.status, response.headers.get("Location", "")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Location", "")


def test_a_delete_at_the_wrong_relay_is_sent_to_the_relay_holding_the_session(
    two_relays, alice_camera, monitor, simulator
):
    Camera.objects.filter(pk=alice_camera.pk).update(
        stream_url_encrypted=stream_url_encrypt(simulator.url(1)), health="online", codec="h264"
    )
    token = Token.objects.create(user=monitor).key
    owner = relay_for_camera(camera_id=alice_camera.pk, relays=two_relays)
    wrong = next(url for relay_id, url in two_relays.items() if relay_id != owner)

    async def scenario():
        result = await watch(f"{two_relays[owner]}/live/cameras/{alice_camera.pk}/whep", token)
        assert result.status == 201, result.error
        assert await wait_for(lambda: result.frames >= 5, timeout=30)
        at_wrong = result.location.replace(two_relays[owner], wrong)
        status, location = await asyncio.to_thread(_delete_at, at_wrong, token)
        assert status == 307
        assert location == result.location
        # The record stays open and the viewer keeps playing on the relay that holds it.
        assert await asyncio.to_thread(lambda: LiveSession.objects.get().ended_at is None)
        frames = result.frames
        assert await wait_for(lambda: result.frames > frames + 5, timeout=30)
        assert (await asyncio.to_thread(_delete_at, location, token))[0] == 200
        await stop(result)

    asyncio.run(scenario())
    assert poll(lambda: LiveSession.objects.get().ended_at is not None, timeout=30)
    assert LiveSession.objects.get().end_reason == "The viewer closed the tile."


def test_a_delete_for_another_relays_session_closes_the_record_only_when_that_relay_is_gone(
    two_relays, alice_camera, monitor
):
    token = Token.objects.create(user=monitor).key
    (other, other_url), (_, here_url) = list(two_relays.items())
    LiveSession.objects.create(id="on-the-other", camera=alice_camera, viewer=monitor, relay_id=other)
    LiveSession.objects.create(id="on-a-dead-one", camera=alice_camera, viewer=monitor, relay_id="relay-gone-long-ago")

    # The other relay beats: the DELETE goes there, and nothing is closed here.
    status, location = _delete_at(f"{here_url}/live/sessions/on-the-other", token)
    assert (status, location) == (307, f"{other_url}/live/sessions/on-the-other")
    assert LiveSession.objects.get(pk="on-the-other").ended_at is None
    # A relay that no longer beats took its viewers with it: the record is closed.
    assert _delete_at(f"{here_url}/live/sessions/on-a-dead-one", token)[0] == 200
    assert LiveSession.objects.get(pk="on-a-dead-one").ended_at is not None
