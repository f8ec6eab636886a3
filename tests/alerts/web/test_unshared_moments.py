"""Police see what a camera saw only when the owner shared it live at that moment, as playback decides: on a
registry-only camera, and on a scheduled camera outside its window, a monitor or supervisor gets a 404 or
nothing for the alert, its crop, the detection's thumbnail, the search, the camera's snapshot (page and API)
and the alert socket; on a live-always camera, and on a scheduled one inside its window, they get them all.
Alice always sees everything of her own cameras."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone

from alerts.models import Alert, Detection
from alerts.services import alert_raise
from cameras.models import Camera, Segment
from cameras.selectors import camera_live_allowed_now
from community.models import WEEKDAYS, Business, SharingAgreement, Site
from tests.factories import AgreementFactory, CameraFactory

JPEG = b"\xff\xd8\xff\xe0 a person, cropped"
ALL_DAY = [["00:00", "23:30"], ["23:00", "01:00"]]


def _schedule(*, today: bool) -> dict[str, list[list[str]]]:
    """All day every day, or only on the day three days from now (so never now, nor yesterday's late window)."""
    if today:
        return {day: ALL_DAY for day in WEEKDAYS}
    weekday = timezone.now().astimezone(ZoneInfo("America/Detroit")).weekday()
    return {WEEKDAYS[(weekday + 3) % 7]: [["00:00", "23:59"]]}


TERMS = {
    "registry-only": {"mode": SharingAgreement.Mode.REGISTRY},
    "scheduled, outside its window": {"mode": SharingAgreement.Mode.SCHEDULE, "schedule": _schedule(today=False)},
    "scheduled, inside its window": {"mode": SharingAgreement.Mode.SCHEDULE, "schedule": _schedule(today=True)},
    "live always": {"mode": SharingAgreement.Mode.ALWAYS},
}
SHARED = {
    "registry-only": False,
    "scheduled, outside its window": False,
    "scheduled, inside its window": True,
    "live always": True,
}


class Moment:
    """What Alice's camera saw two minutes ago: a recorded segment, an alert with its crop, a detection with its
    thumbnail, and the probe's snapshot of now."""

    def __init__(self, camera: Camera, n: int) -> None:
        start = timezone.now().replace(microsecond=0) - timedelta(minutes=2)
        self.camera = camera
        # As segment_register records it: shared live when the terms allowed live view as it was recorded.
        self.segment = Segment.objects.create(
            camera=camera,
            started_at=start,
            ended_at=start + timedelta(seconds=10),
            key=f"segments/moment-{n}.mp4",
            size_bytes=10,
            sha256=f"{n:064d}",
            shared_live=camera_live_allowed_now(camera=camera, at=start),
        )
        self.alert, _ = alert_raise(
            dedup_key=f"test:moment:{n}",
            kind=Alert.Kind.ZONE,
            title=f"Person in the car park ({n})",
            occurred_at=start + timedelta(seconds=4),
            camera=camera,
            object_class="person",
            snapshot_jpeg=JPEG,
            segments=[self.segment],
        )
        self.detection = Detection.objects.create(
            camera=camera,
            segment=self.segment,
            at=start + timedelta(seconds=4),
            object_class="person",
            confidence=0.9,
            x=0.1,
            y=0.1,
            w=0.2,
            h=0.4,
            track_id="t1",
        )
        self.detection.thumbnail.save(f"moment-{n}.jpg", ContentFile(JPEG), save=True)
        camera.snapshot.save(f"moment-{n}.jpg", ContentFile(JPEG), save=False)
        camera.snapshot_at = timezone.now()
        camera.save()


def _moment(site: Site, business: Business, terms: str, n: int = 1) -> Moment:
    agreement = AgreementFactory(business=business, name=f"Terms {terms}", recording_allowed=True, **TERMS[terms])
    camera = CameraFactory(site=site, name=f"Back door ({terms})", agreement=agreement)
    return Moment(camera, n)


@pytest.fixture(params=list(TERMS))
def terms(request) -> str:
    return request.param


@pytest.fixture
def moment(terms: str, alice_site: Site, alice_business: Business) -> Moment:
    return _moment(alice_site, alice_business, terms)


def _statuses(client, moment: Moment) -> dict[str, int]:
    return {
        "alert page": client.get(reverse("alerts:alert_detail", args=[moment.alert.pk])).status_code,
        "alert crop": client.get(reverse("alerts:alert_snapshot", args=[moment.alert.pk])).status_code,
        "detection thumbnail": client.get(
            reverse("alerts:detection_thumbnail", args=[moment.detection.pk])
        ).status_code,
        "camera snapshot": client.get(reverse("cameras:camera_snapshot", args=[moment.camera.pk])).status_code,
    }


@pytest.mark.parametrize("persona", ["monitor", "supervisor"])
def test_police_see_a_moment_only_if_it_was_shared_live(request, client_for, persona, terms, moment) -> None:
    client = client_for(request.getfixturevalue(persona))
    expected = 200 if SHARED[terms] else 404

    statuses = _statuses(client, moment)
    listed = client.get(reverse("alerts:alert_list")).content.decode()
    found = client.get(reverse("alerts:detection_search"), {"camera": moment.camera.pk}).context["page"]

    assert statuses == dict.fromkeys(statuses, expected)
    assert (moment.alert.title in listed) is SHARED[terms]
    assert [d.pk for d in found.object_list] == ([moment.detection.pk] if SHARED[terms] else [])


@pytest.mark.parametrize("persona", ["alice", "bob"])
def test_the_owner_and_staff_see_every_moment_of_their_own_cameras(request, client_for, persona, moment) -> None:
    client = client_for(request.getfixturevalue(persona))

    statuses = _statuses(client, moment)

    assert statuses == dict.fromkeys(statuses, 200)


@pytest.mark.parametrize("persona", ["monitor", "supervisor"])
def test_the_api_gives_police_the_snapshot_only_of_a_shared_moment(
    request, api_client_for, persona, terms, moment
) -> None:
    response = api_client_for(request.getfixturevalue(persona)).get(f"/api/cameras/{moment.camera.pk}/snapshot/")

    assert response.status_code == (200 if SHARED[terms] else 404)


def test_the_police_camera_page_shows_no_snapshot_taken_outside_the_window(
    client_for, monitor, alice_site, alice_business
) -> None:
    outside = _moment(alice_site, alice_business, "scheduled, outside its window", n=1)
    inside = _moment(alice_site, alice_business, "scheduled, inside its window", n=2)
    client = client_for(monitor)

    outside_page = client.get(reverse("cameras:police_camera_detail", args=[outside.camera.pk])).content.decode()
    inside_page = client.get(reverse("cameras:police_camera_detail", args=[inside.camera.pk])).content.decode()

    assert reverse("cameras:camera_snapshot", args=[outside.camera.pk]) not in outside_page
    assert "while the owner did not share this camera live" in outside_page
    assert reverse("cameras:camera_snapshot", args=[inside.camera.pk]) in inside_page


def test_a_camera_alert_without_footage_still_reaches_police_of_a_registry_camera(
    client_for, monitor, alice_site, alice_business
) -> None:
    registry = _moment(alice_site, alice_business, "registry-only")
    offline, _ = alert_raise(
        dedup_key="test:offline",
        kind=Alert.Kind.OFFLINE,
        title="Back door went offline",
        occurred_at=timezone.now(),
        camera=registry.camera,
    )

    response = client_for(monitor).get(reverse("alerts:alert_detail", args=[offline.pk]))

    assert response.status_code == 200


@pytest.mark.django_db(transaction=True)
def test_the_alert_socket_never_pushes_an_unshared_moment_to_police(
    monitor, supervisor, alice, alice_site, alice_business
) -> None:
    from tests.alerts.web.test_alert_socket import _hears

    hidden = [
        _moment(alice_site, alice_business, "registry-only", n=1).alert,
        _moment(alice_site, alice_business, "scheduled, outside its window", n=2).alert,
    ]
    shown = _moment(alice_site, alice_business, "live always", n=3).alert
    everything = [*hidden, shown]

    assert _hears(monitor, everything) == [shown.pk]
    assert _hears(supervisor, everything) == [shown.pk]
    assert _hears(alice, everything) == [a.pk for a in everything]
