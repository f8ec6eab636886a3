"""Probing a camera from the API, and reading its snapshot (audited when the police look)."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile

from cameras.models import Camera
from community.models import AuditEvent
from tests.factories import CameraFactory

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64 + b"\xff\xd9"


@pytest.fixture
def snapshot_camera(alice_camera) -> Camera:
    alice_camera.snapshot.save("front.jpg", ContentFile(JPEG))
    return alice_camera


@pytest.mark.parametrize("persona", ["alice", "supervisor"])
def test_a_probe_of_an_unreachable_camera_marks_it_offline(
    client_as, alice_camera, persona, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client_as(persona).post(f"/api/cameras/{alice_camera.pk}/probe/")

    assert response.status_code == 202
    alice_camera.refresh_from_db()
    assert alice_camera.health == "offline"
    assert alice_camera.health_message
    assert AuditEvent.objects.filter(action="camera.probe", camera_id=alice_camera.pk).count() == 1
    requested = AuditEvent.objects.get(action="camera.probe_request", camera_id=alice_camera.pk)
    assert requested.actor_label == {"alice": "alice@example.com", "supervisor": "sam@police.example"}[persona]


def test_push_cameras_are_not_probed(client_as, alice_site):
    camera = CameraFactory(site=alice_site, source=Camera.Source.PUSH, stream_url_encrypted="")

    response = client_as("alice").post(f"/api/cameras/{camera.pk}/probe/")

    assert response.status_code == 400
    assert response.json() == {"detail": "Push cameras report their own health when they connect."}
    assert not AuditEvent.objects.filter(action="camera.probe").exists()


@pytest.mark.parametrize("persona", ["alice", "bob", "monitor", "supervisor"])
def test_the_snapshot_is_the_stored_jpeg(client_as, snapshot_camera, persona):
    response = client_as(persona).get(f"/api/cameras/{snapshot_camera.pk}/snapshot/", HTTP_ACCEPT="image/jpeg")

    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response["Cache-Control"] == "private, no-store"
    assert b"".join(response.streaming_content) == JPEG


@pytest.mark.parametrize(("persona", "events"), [("monitor", 1), ("supervisor", 1), ("alice", 0), ("bob", 0)])
def test_police_looking_at_a_snapshot_leave_a_trace(client_as, snapshot_camera, persona, events):
    client_as(persona).get(f"/api/cameras/{snapshot_camera.pk}/snapshot/")

    assert AuditEvent.objects.filter(action="camera.view_snapshot", camera_id=snapshot_camera.pk).count() == events


def test_a_camera_without_a_snapshot_answers_404_in_json(client_as, alice_camera):
    response = client_as("monitor").get(f"/api/cameras/{alice_camera.pk}/snapshot/", HTTP_ACCEPT="image/jpeg")

    assert response.status_code == 404
    assert response.json() == {"detail": "This camera has no snapshot yet."}
    assert not AuditEvent.objects.filter(action="camera.view_snapshot").exists()


def test_a_snapshot_missing_from_storage_answers_404(client_as, snapshot_camera):
    snapshot_camera.snapshot.storage.delete(snapshot_camera.snapshot.name)

    response = client_as("alice").get(f"/api/cameras/{snapshot_camera.pk}/snapshot/")

    assert response.status_code == 404
