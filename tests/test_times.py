"""Times are shown in the agency's zone with its label: the owner's evidence e-mail, and the pages that show a
time (alerts, search, cameras, evidence requests); ISO 8601 in JSON keeps its offset."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone

from alerts.models import Alert, Detection
from alerts.services import alert_raise
from cameras import services
from cameras.models import Camera, EvidenceRequest
from community.models import User

DETROIT = ZoneInfo("America/Detroit")


def _last_january_at(hour: int, minute: int) -> datetime:
    """A winter moment (EST) in the past, in UTC."""
    year = timezone.now().year - 1
    return datetime(year, 1, 14, hour, minute, tzinfo=ZoneInfo("UTC"))


def _shown(at: datetime, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    return f"{at.astimezone(DETROIT).strftime(fmt)} {at.astimezone(DETROIT).tzname()}"


@pytest.fixture
def agency_in_detroit(settings) -> None:
    settings.AGENCY_TIME_ZONE = "America/Detroit"
    settings.TIME_ZONE = "America/Detroit"


@pytest.fixture
def requested(agency_in_detroit, monitor: User, alice_camera: Camera, django_capture_on_commit_callbacks):
    """Monica asks for 06:12-06:17 UTC, read as the evidence form reads it (wall-clock in Detroit)."""
    alice_camera.agreement.recording_allowed = True
    alice_camera.agreement.save()
    start = _last_january_at(6, 12).astimezone(DETROIT)
    with django_capture_on_commit_callbacks(execute=True):
        request = services.evidence_request_create(
            by=monitor,
            case_number="2026-000512",
            reason="Burglary next door",
            camera_ids=[alice_camera.pk],
            window_start=start,
            window_end=start + timedelta(minutes=5),
        )
    return request


def test_the_owners_evidence_email_gives_the_window_in_the_agencys_zone(requested: EvidenceRequest, alice) -> None:
    [message] = [m for m in mail.outbox if alice.email in m.to]

    assert "01:12 to " in message.body
    assert "01:17 EST" in message.body
    assert "UTC" not in message.body and "06:12" not in message.body


@pytest.fixture
def moment(agency_in_detroit, alice_camera: Camera) -> datetime:
    """An alert, a detection and a snapshot of Alice's front door, all at one moment ten minutes ago."""
    at = timezone.now().replace(microsecond=0) - timedelta(minutes=10)
    alert_raise(
        dedup_key="test:times",
        kind=Alert.Kind.OFFLINE,
        title="Front door went offline",
        occurred_at=at,
        camera=alice_camera,
    )
    Detection.objects.create(
        camera=alice_camera, at=at, object_class="person", confidence=0.9, x=0.1, y=0.1, w=0.2, h=0.4
    )
    alice_camera.snapshot.save("times.jpg", ContentFile(b"\xff\xd8\xff\xe0"), save=False)
    alice_camera.snapshot_at = at
    alice_camera.save()
    return at


@pytest.mark.parametrize(
    ("persona", "page"),
    [
        ("monitor", "alert list"),
        ("monitor", "alert page"),
        ("monitor", "search"),
        ("monitor", "police camera page"),
        ("alice", "owner camera page"),
    ],
)
def test_pages_show_times_in_the_agencys_zone_with_its_label(
    request, client_for, moment: datetime, alice_camera: Camera, persona: str, page: str
) -> None:
    alert = Alert.objects.get(dedup_key="test:times")
    url = {
        "alert list": reverse("alerts:alert_list"),
        "alert page": reverse("alerts:alert_detail", args=[alert.pk]),
        "search": reverse("alerts:detection_search") + "?classes=person",
        "police camera page": reverse("cameras:police_camera_detail", args=[alice_camera.pk]),
        "owner camera page": reverse("cameras:camera_detail", args=[alice_camera.pk]),
    }[page]

    html = client_for(request.getfixturevalue(persona)).get(url).content.decode()

    assert _shown(moment) in html


@pytest.mark.parametrize("persona", ["monitor", "alice"])
def test_evidence_pages_show_the_window_in_the_agencys_zone_with_its_label(
    request, client_for, requested: EvidenceRequest, persona: str
) -> None:
    client = client_for(request.getfixturevalue(persona))

    detail = client.get(reverse("cameras:evidence-detail", args=[requested.pk])).content.decode()
    listed = client.get(reverse("cameras:evidence-list")).content.decode()

    assert _shown(_last_january_at(6, 12)) in detail
    assert "UTC" not in detail
    assert "EST" in listed and "01:12" in listed


def test_json_keeps_iso_8601_with_its_offset(agency_in_detroit, api_client_for, requested: EvidenceRequest, monitor):
    data = api_client_for(monitor).get(f"/api/evidence-requests/{requested.pk}/").json()

    assert datetime.fromisoformat(data["window_start"]) == _last_january_at(6, 12)
