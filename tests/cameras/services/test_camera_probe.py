"""Probing a camera: online with codec, size and a snapshot from the simulator; offline with a clear
message for a closed port; the stream is contacted only by the worker, after the commit."""

from __future__ import annotations

import io

import pytest
from django.urls import reverse
from PIL import Image

from cameras.models import Camera
from cameras.services import camera_create, camera_probe
from cameras.tasks import cameras_probe_due
from community.models import AuditEvent


def test_a_simulator_camera_probes_online_with_codec_size_and_snapshot(alice_business, alice_site, alice, simulator):
    camera, _ = camera_create(
        business=alice_business, by=alice, site=alice_site, name="Sim", stream_url=simulator.url(1)
    )
    result = camera_probe(camera=camera)
    camera.refresh_from_db()
    assert (camera.health, camera.codec, camera.width, camera.height) == ("online", "h264", 320, 180)
    assert camera.fps == pytest.approx(10, abs=1)
    assert camera.last_seen_at is not None
    with camera.snapshot.open("rb") as f:
        assert Image.open(io.BytesIO(f.read())).size == (320, 180)
    event = AuditEvent.objects.get(action="camera.probe", camera_id=camera.pk)
    assert event.details["health"] == "online"
    assert result.elapsed_s < 5


def test_a_closed_port_probes_offline_with_a_message_an_owner_understands(alice_business, alice_site, alice):
    with socket_closed() as port:
        camera, _ = camera_create(
            business=alice_business,
            by=alice,
            site=alice_site,
            name="Gone",
            stream_url=f"rtsp://user:pw@127.0.0.1:{port}/x",
        )
        camera_probe(camera=camera)
    camera.refresh_from_db()
    assert camera.health == "offline"
    assert camera.health_message
    assert "pw" not in camera.health_message.replace("pwd", "")
    assert camera.last_seen_at is None


def test_saving_a_camera_never_contacts_the_stream_before_the_commit(
    client_for, alice, alice_site, silent_port, django_capture_on_commit_callbacks, settings
):
    settings.PROBE_TIMEOUT_S = 1.0
    url = f"rtsp://127.0.0.1:{silent_port.port}/stream"
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        client_for(alice).post(
            reverse("cameras:camera_create", args=[alice_site.business_id]),
            {"name": "Quiet", "site": alice_site.pk, "source": "pull", "stream_url": url, "placement": "outdoor"},
        )
    assert silent_port.connections == 0  # validation and saving did not touch it
    for callback in callbacks:
        callback()  # the commit queues the probe; eager Celery runs it here
    assert silent_port.connections >= 1
    camera = Camera.objects.get(name="Quiet")
    assert camera.health == "offline"
    assert "did not answer" in camera.health_message


def test_beat_probes_only_the_cameras_that_are_due(alice_camera, charlie_camera, django_capture_on_commit_callbacks):
    from django.utils import timezone

    Camera.objects.filter(pk=charlie_camera.pk).update(last_probe_at=timezone.now())
    assert cameras_probe_due() == 1
    alice_camera.refresh_from_db()
    assert alice_camera.last_probe_at is not None


def test_the_owner_asks_for_a_probe_now(client_for, alice, alice_camera, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        client_for(alice).post(reverse("cameras:camera_probe", args=[alice_camera.pk]))
    assert AuditEvent.objects.filter(action="camera.probe_request", actor=alice).exists()
    alice_camera.refresh_from_db()
    assert alice_camera.last_probe_at is not None
    assert alice_camera.health == "offline"


class socket_closed:
    """A loopback port that was free a moment ago, so nothing listens on it."""

    def __enter__(self) -> int:
        import socket

        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.port = s.getsockname()[1]
        s.close()
        return self.port

    def __exit__(self, *exc: object) -> None:
        return None
