"""The evidence and recordings API: the access matrix for every endpoint, bad input, answering twice, downloads."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.utils import timezone

from cameras.models import EvidenceRequest
from community.models import AuditEvent, SharingAgreement
from tests.cameras.web.conftest import PERSONAS

PEOPLE = (*PERSONAS, "other_monitor")


def _body(camera_ids: list[int], **overrides) -> dict:
    end = timezone.now() - timedelta(minutes=5)
    body = {
        "case_number": "2026-001234",
        "reason": "Armed robbery at the corner store",
        "camera_ids": camera_ids,
        "window_start": (end - timedelta(hours=1)).isoformat(),
        "window_end": end.isoformat(),
    }
    body.update(overrides)
    return body


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/evidence-requests/"),
        ("post", "/api/evidence-requests/"),
        ("get", "/api/evidence-requests/{request}/"),
        ("post", "/api/evidence-requests/{request}/decision/"),
        ("get", "/api/evidence-requests/{request}/custody/"),
        ("post", "/api/evidence-requests/{request}/items/{item}/download/"),
        ("post", "/api/evidence-requests/{request}/manifest/download/"),
        ("post", "/api/evidence-requests/{request}/retry/"),
        ("get", "/api/cameras/{camera}/recordings/"),
    ],
)
def test_anonymous_gets_401(client_as, exported, alice_camera, method, path) -> None:
    url = path.format(request=exported.pk, item=exported.items.get().pk, camera=alice_camera.pk)

    response = getattr(client_as("anonymous"), method)(url, {}, format="json")

    assert response.status_code == 401


# (name, method, path, expected status for alice, bob, charlie, monitor, supervisor, other_monitor)
# fmt: off
READS = [
    ("detail", "get", "/api/evidence-requests/{request}/", (200, 200, 404, 200, 200, 404)),
    ("custody", "get", "/api/evidence-requests/{request}/custody/", (200, 200, 404, 200, 200, 404)),
    ("download", "post", "/api/evidence-requests/{request}/items/{item}/download/", (200, 200, 404, 200, 200, 404)),
    ("manifest", "post", "/api/evidence-requests/{request}/manifest/download/", (200, 200, 404, 200, 200, 404)),
    ("recordings", "get", "/api/cameras/{camera}/recordings/", (200, 200, 404, 200, 200, 200)),
]
# fmt: on


@pytest.mark.parametrize(
    ("method", "path", "persona", "expected"),
    [
        pytest.param(method, path, persona, expected[i], id=f"{name}-{persona}")
        for name, method, path, expected in READS
        for i, persona in enumerate(PEOPLE)
    ],
)
def test_each_persona_gets_the_status_the_access_matrix_gives(
    client_as, exported, alice_camera, method, path, persona, expected
) -> None:
    url = path.format(request=exported.pk, item=exported.items.get().pk, camera=alice_camera.pk)

    assert getattr(client_as(persona), method)(url).status_code == expected


@pytest.mark.parametrize(
    ("persona", "count"),
    [("alice", 1), ("bob", 1), ("charlie", 0), ("monitor", 1), ("supervisor", 1), ("other_monitor", 0)],
)
def test_the_list_holds_what_each_persona_may_see(client_as, pending, persona, count) -> None:
    response = client_as(persona).get("/api/evidence-requests/")

    assert response.status_code == 200
    assert response.json()["count"] == count


def test_the_list_filters_by_state(client_as, pending) -> None:
    client = client_as("monitor")

    assert client.get("/api/evidence-requests/", {"state": "pending"}).json()["count"] == 1
    assert client.get("/api/evidence-requests/", {"state": "exported"}).json()["count"] == 0
    assert client.get("/api/evidence-requests/", {"state": "lost"}).status_code == 400


def test_a_monitor_files_a_request(client_as, monitor, alice_camera, recording) -> None:
    response = client_as("monitor").post("/api/evidence-requests/", _body([alice_camera.pk]), format="json")

    assert response.status_code == 201
    body = response.json()
    assert body["state"] == "pending" and body["camera_ids"] == [alice_camera.pk]
    assert body["requested_by"] == monitor.email and body["items"] == []
    assert EvidenceRequest.objects.get().pk == body["id"]


@pytest.mark.parametrize("persona", ["alice", "bob", "charlie"])
def test_an_owner_filing_gets_403_whatever_the_body_and_nothing_is_created(client_as, alice_camera, recording, persona):
    for body in (_body([alice_camera.pk]), {}):
        response = client_as(persona).post("/api/evidence-requests/", body, format="json")

        assert response.status_code == 403
        assert "Only police" in response.json()["detail"]
    assert not EvidenceRequest.objects.exists()


BAD = [
    (
        "window-too-long",
        lambda c: _body([c], window_start=(timezone.now() - timedelta(hours=14)).isoformat()),
        "window_end",
    ),
    (
        "window-reversed",
        lambda c: _body(
            [c], window_start=timezone.now().isoformat(), window_end=(timezone.now() - timedelta(hours=1)).isoformat()
        ),
        "window_end",
    ),
    ("no-case-number", lambda c: _body([c], case_number=""), "case_number"),
    ("no-camera", lambda c: _body([]), "camera_ids"),
    ("unknown-camera", lambda c: _body([c + 1000]), "camera_ids"),
    ("no-window", lambda c: {"case_number": "2026-001234", "reason": "x", "camera_ids": [c]}, "window_start"),
]


@pytest.mark.parametrize(("case", "make", "field"), BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_a_400_on_its_field_and_nothing_is_created(client_as, alice_camera, recording, case, make, field):
    response = client_as("monitor").post("/api/evidence-requests/", make(alice_camera.pk), format="json")

    assert response.status_code == 400
    assert field in response.json(), response.json()
    assert not EvidenceRequest.objects.exists()


def test_a_camera_that_is_not_recorded_cannot_be_asked_for(client_as, alice_camera, recording) -> None:
    recording.recording_allowed = False
    recording.save()

    response = client_as("monitor").post("/api/evidence-requests/", _body([alice_camera.pk]), format="json")

    assert response.status_code == 400
    assert "do not allow recording" in response.json()["camera_ids"][0]


def test_the_owner_approves_once_and_a_second_answer_is_a_409(client_as, pending) -> None:
    url = f"/api/evidence-requests/{pending.pk}/decision/"

    first = client_as("alice").post(url, {"approve": True}, format="json")
    second = client_as("bob").post(url, {"approve": False, "reason": "No"}, format="json")

    assert first.status_code == 200 and first.json()["state"] == "approved"
    assert first.json()["decided_by"] == "alice@example.com"
    assert second.status_code == 409
    assert "already been answered" in second.json()["detail"]


def test_a_denial_without_a_reason_is_a_400(client_as, pending) -> None:
    response = client_as("alice").post(
        f"/api/evidence-requests/{pending.pk}/decision/", {"approve": False}, format="json"
    )

    assert response.status_code == 400
    assert "reason" in response.json()
    pending.refresh_from_db()
    assert pending.state == "pending"


@pytest.mark.parametrize(
    ("persona", "expected"), [("charlie", 404), ("other_monitor", 404), ("monitor", 403), ("supervisor", 403)]
)
def test_nobody_but_the_owner_side_answers(client_as, pending, persona, expected) -> None:
    response = client_as(persona).post(
        f"/api/evidence-requests/{pending.pk}/decision/", {"approve": True}, format="json"
    )

    assert response.status_code == expected
    pending.refresh_from_db()
    assert pending.state == "pending"


def test_a_download_link_expires_within_five_minutes_serves_the_file_and_is_audited(
    client_as, client_for, monitor, exported
) -> None:
    item = exported.items.get()

    response = client_as("monitor").post(f"/api/evidence-requests/{exported.pk}/items/{item.pk}/download/")

    body = response.json()
    assert 0 < body["expires_in"] <= 300
    assert body["url"].startswith("http://testserver/media/signed/")
    served = client_for(None).get(urlsplit(body["url"]).path)
    assert hashlib.sha256(b"".join(served.streaming_content)).hexdigest() == item.sha256
    event = AuditEvent.objects.get(action="evidence.download")
    assert event.actor == monitor and event.details["sha256"] == item.sha256


def test_an_unknown_item_is_not_found(client_as, exported) -> None:
    assert client_as("monitor").post(f"/api/evidence-requests/{exported.pk}/items/99999/download/").status_code == 404


def test_the_custody_lists_each_step_oldest_first(client_as, exported) -> None:
    client_as("monitor").post(f"/api/evidence-requests/{exported.pk}/items/{exported.items.get().pk}/download/")

    rows = client_as("supervisor").get(f"/api/evidence-requests/{exported.pk}/custody/").json()

    assert [row["action"] for row in rows] == [
        "evidence.create",
        "evidence.approve",
        "evidence.export",
        "evidence.download",
    ]
    assert rows[0]["actor_label"] == "monica@police.example"


def test_the_exported_request_lists_its_items(client_as, exported) -> None:
    body = client_as("alice").get(f"/api/evidence-requests/{exported.pk}/").json()

    item = exported.items.get()
    assert body["state"] == "exported" and body["manifest_sha256"] == exported.manifest_sha256
    assert body["items"] == [
        {
            "id": item.pk,
            "camera": item.camera_id,
            "camera_name": "Front door",
            "filename": item.filename,
            "size_bytes": item.size_bytes,
            "sha256": item.sha256,
            "duration_s": item.duration_s,
            "locked_until": None,
        }
    ]


def test_a_failed_export_is_retried_by_the_requester_and_not_by_the_owner(client_as, failed) -> None:
    url = f"/api/evidence-requests/{failed.pk}/retry/"

    assert client_as("alice").post(url).status_code == 403
    assert client_as("monitor").post(url).json()["state"] == "approved"
    assert client_as("monitor").post(url).status_code == 409


# ---------------------------------------------------------------- recordings


def test_recordings_are_listed_with_links_and_audited_once(client_as, monitor, alice_camera, footage) -> None:
    query = {
        "since": (footage[0].started_at - timedelta(seconds=30)).isoformat(),
        "until": (footage[-1].ended_at + timedelta(seconds=30)).isoformat(),
    }
    before = AuditEvent.objects.filter(action="camera.playback").count()

    response = client_as("monitor").get(f"/api/cameras/{alice_camera.pk}/recordings/", query)

    assert response.status_code == 200
    body = response.json()
    assert [s["sha256"] for s in body["segments"]] == [s.sha256 for s in footage]
    assert all(s["url"].startswith("http://testserver/media/signed/") for s in body["segments"])
    assert body["expires_in"] <= 300
    assert AuditEvent.objects.filter(action="camera.playback", actor=monitor).count() == before + 1


def test_recordings_of_registry_only_terms_are_a_403_for_police(client_as, alice_camera, recording) -> None:
    recording.mode = SharingAgreement.Mode.REGISTRY
    recording.save()

    response = client_as("monitor").get(f"/api/cameras/{alice_camera.pk}/recordings/")

    assert response.status_code == 403
    assert "registry only" in response.json()["detail"]
    assert client_as("alice").get(f"/api/cameras/{alice_camera.pk}/recordings/").status_code == 200


def test_a_recordings_window_over_an_hour_is_a_400(client_as, alice_camera, recording) -> None:
    until = timezone.now()
    query = {"since": (until - timedelta(hours=2)).isoformat(), "until": until.isoformat()}

    response = client_as("alice").get(f"/api/cameras/{alice_camera.pk}/recordings/", query)

    assert response.status_code == 400
    assert "until" in response.json()
