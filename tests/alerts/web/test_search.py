"""Forensic search: police find detections on the cameras they may see by class, camera, time and map area,
newest first and paginated; thumbnails are served only to those who may see the camera; bad input is a 400."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone

from alerts.models import Detection
from tests.alerts.web.conftest import PERSONAS

SEARCH_STATUS = {"anonymous": 302, "alice": 403, "bob": 403, "charlie": 403, "monitor": 200, "supervisor": 200}
THUMB_STATUS = {"anonymous": 302, "alice": 200, "bob": 200, "charlie": 404, "monitor": 200, "supervisor": 200}


def _client(request, client_for, persona):
    return client_for(None if persona == "anonymous" else request.getfixturevalue(persona))


def _detection(camera, *, minutes_ago: int, object_class: str = "person", thumbnail: bool = False) -> Detection:
    detection = Detection.objects.create(
        camera=camera,
        at=timezone.now() - timedelta(minutes=minutes_ago),
        object_class=object_class,
        confidence=0.9,
        x=0.1,
        y=0.1,
        w=0.2,
        h=0.4,
        track_id=f"t{minutes_ago}",
    )
    if thumbnail:
        detection.thumbnail.save(f"d{detection.pk}.jpg", ContentFile(b"\xff\xd8\xff\xe0thumb"), save=True)
    return detection


def _ids(response) -> list[int]:
    return [d.pk for d in response.context["page"].object_list]


@pytest.mark.parametrize("persona", PERSONAS)
def test_search_is_for_police(request, client_for, persona, alice_camera) -> None:
    _detection(alice_camera, minutes_ago=1)

    response = _client(request, client_for, persona).get(reverse("alerts:detection_search"), {"classes": "person"})

    assert response.status_code == SEARCH_STATUS[persona]


def test_search_finds_by_class_camera_time_and_area_newest_first(
    client_for, monitor, alice_camera, unverified_camera
) -> None:
    old = _detection(alice_camera, minutes_ago=90)
    new = _detection(alice_camera, minutes_ago=5)
    car = _detection(alice_camera, minutes_ago=3, object_class="car")
    _detection(unverified_camera, minutes_ago=2)
    client = client_for(monitor)
    url = reverse("alerts:detection_search")

    assert _ids(client.get(url, {"classes": "person"})) == [new.pk, old.pk]
    assert _ids(client.get(url, {"classes": ["person", "car"]})) == [car.pk, new.pk, old.pk]
    since = (timezone.localtime() - timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M")
    assert _ids(client.get(url, {"classes": "person", "since": since})) == [new.pk]
    assert _ids(client.get(url, {"camera": alice_camera.pk, "area": "42.3,-83.1,42.4,-83.0"})) == [
        car.pk,
        new.pk,
        old.pk,
    ]
    assert _ids(client.get(url, {"area": "42.0,-84.0,42.1,-83.9"})) == []


def test_search_pages_through_many_results(client_for, monitor, alice_camera) -> None:
    for minutes in range(60):
        _detection(alice_camera, minutes_ago=minutes + 1)

    response = client_for(monitor).get(reverse("alerts:detection_search"), {"classes": "person", "page": 2})

    assert response.context["page"].number == 2 and len(response.context["page"].object_list) == 12


@pytest.mark.parametrize(
    "query",
    [
        {"classes": "face"},
        {"area": "north"},
        {"area": "50,0,40,1"},
        {"since": "2026-01-02T00:00", "until": "2026-01-01T00:00"},
        {"camera": "999999"},
    ],
)
def test_bad_search_input_is_a_400(client_for, monitor, query) -> None:
    assert client_for(monitor).get(reverse("alerts:detection_search"), query).status_code == 400


@pytest.mark.parametrize("persona", PERSONAS)
def test_a_thumbnail_is_served_to_those_who_may_see_the_camera(request, client_for, persona, alice_camera) -> None:
    detection = _detection(alice_camera, minutes_ago=1, thumbnail=True)

    response = _client(request, client_for, persona).get(reverse("alerts:detection_thumbnail", args=[detection.pk]))

    assert response.status_code == THUMB_STATUS[persona]
    if response.status_code == 200:
        assert b"".join(response.streaming_content).startswith(b"\xff\xd8")


def test_a_thumbnail_on_a_camera_monitors_may_not_see_is_a_404(client_for, monitor, unverified_camera) -> None:
    detection = _detection(unverified_camera, minutes_ago=1, thumbnail=True)

    assert client_for(monitor).get(reverse("alerts:detection_thumbnail", args=[detection.pk])).status_code == 404
