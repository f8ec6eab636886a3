"""Who may call what on the camera endpoints: every method against every persona (DESIGN.md, "Roles and access")."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile

from cameras.models import Camera
from community.models import AuditEvent
from tests.factories import CameraFactory

PERSONAS = ("alice", "bob", "charlie", "monitor", "supervisor")
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64 + b"\xff\xd9"

# (name, method, path, body, expected status for alice, bob, charlie, monitor, supervisor)
# fmt: off
ENDPOINTS = [
    ("camera list", "get", "/api/cameras/", None, (200, 200, 200, 200, 200)),
    ("camera map", "get", "/api/cameras/map/", None, (200, 200, 200, 200, 200)),
    ("camera detail", "get", "/api/cameras/{camera}/", None, (200, 200, 404, 200, 200)),
    ("camera snapshot", "get", "/api/cameras/{camera}/snapshot/", None, (200, 200, 404, 200, 200)),
    ("camera update", "patch", "/api/cameras/{camera}/", {"views": "The loading dock"}, (200, 200, 404, 403, 403)),
    ("camera delete", "delete", "/api/cameras/{camera}/", None, (204, 204, 404, 403, 403)),
    ("camera probe", "post", "/api/cameras/{camera}/probe/", None, (202, 202, 404, 403, 202)),
    ("push token rotate", "post", "/api/cameras/{push_camera}/push-token/", None, (200, 200, 404, 403, 403)),
    ("camera create", "post", "/api/cameras/",
     {"site": "{site}", "name": "Back door", "stream_url": "rtsp://127.0.0.1:1/back"}, (201, 201, 404, 403, 403)),
]
# fmt: on

MATRIX = [
    pytest.param(method, path, data, persona, expected[i], id=f"{name}-{persona}")
    for name, method, path, data, expected in ENDPOINTS
    for i, persona in enumerate(PERSONAS)
]


def _fill(value, ids):
    if isinstance(value, str):
        filled = value.format(**ids)
        return int(filled) if value.startswith("{") and filled.isdigit() else filled
    if isinstance(value, dict):
        return {key: _fill(item, ids) for key, item in value.items()}
    return value


@pytest.fixture
def ids(alice_site, alice_agreement, alice_camera) -> dict[str, int]:
    alice_camera.snapshot.save("front.jpg", ContentFile(JPEG))
    push_camera = CameraFactory(
        site=alice_site, name="Till", source=Camera.Source.PUSH, agreement=alice_agreement, stream_url_encrypted=""
    )
    return {"site": alice_site.pk, "camera": alice_camera.pk, "push_camera": push_camera.pk}


@pytest.mark.parametrize(("method", "path", "data", "persona", "expected"), MATRIX)
def test_each_persona_gets_the_status_the_access_matrix_gives(client_as, ids, method, path, data, persona, expected):
    client = client_as(persona)
    cameras_before = list(Camera.objects.order_by("pk").values())
    events_before = AuditEvent.objects.count()

    response = getattr(client, method)(_fill(path, ids), _fill(data, ids), format="json")

    assert response.status_code == expected, getattr(response, "content", b"")
    if response.status_code >= 400:
        assert AuditEvent.objects.count() == events_before
        assert list(Camera.objects.order_by("pk").values()) == cameras_before


@pytest.mark.parametrize(
    ("method", "path", "data"),
    [pytest.param(method, path, data, id=name) for name, method, path, data, _ in ENDPOINTS],
)
def test_anonymous_callers_get_401_on_every_camera_endpoint(client_as, ids, method, path, data):
    response = getattr(client_as("anonymous"), method)(_fill(path, ids), _fill(data, ids), format="json")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"


def test_charlie_gets_404_for_alices_camera_and_cannot_find_it_anywhere(client_as, ids, alice_camera):
    charlie = client_as("charlie")

    assert charlie.get(f"/api/cameras/{alice_camera.pk}/").status_code == 404
    assert alice_camera.pk not in [row["id"] for row in charlie.get("/api/cameras/").json()["results"]]
    assert alice_camera.pk not in [row[0] for row in charlie.get("/api/cameras/map/").json()["cameras"]]


def test_charlie_cannot_enrol_a_camera_at_his_own_business_with_alices_terms(
    client_as, charlie_camera, alice_agreement
):
    response = client_as("charlie").post(
        "/api/cameras/",
        {
            "site": charlie_camera.site_id,
            "name": "Side door",
            "stream_url": "rtsp://127.0.0.1:1/side",
            "agreement": alice_agreement.pk,
        },
        format="json",
    )

    assert response.status_code == 400
    assert response.json() == {"agreement": ["Choose sharing terms of this business."]}
    assert not Camera.objects.filter(name="Side door").exists()


def test_a_monitor_does_not_see_cameras_without_active_terms(client_as, alice_camera, alice_agreement):
    alice_agreement.state = alice_agreement.State.REVOKED
    alice_agreement.save()

    monitor = client_as("monitor")

    assert monitor.get(f"/api/cameras/{alice_camera.pk}/").status_code == 404
    assert monitor.get(f"/api/cameras/{alice_camera.pk}/snapshot/").status_code == 404
    assert monitor.post(f"/api/cameras/{alice_camera.pk}/probe/").status_code == 404
