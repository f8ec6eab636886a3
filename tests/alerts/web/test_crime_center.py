"""The crime center's JSON: cameras near an alert or any place (alert's camera first, nearest next, only those
the officer may see), and the heat map of alerts; police only, bad input a 400."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.alerts.web.conftest import PERSONAS
from tests.factories import CameraFactory, SiteFactory

POLICE_ONLY = {"anonymous": 302, "alice": 403, "bob": 403, "charlie": 403, "monitor": 200, "supervisor": 200}


def _client(request, client_for, persona):
    return client_for(None if persona == "anonymous" else request.getfixturevalue(persona))


@pytest.fixture
def neighbour(alice_camera):
    """A camera of Alice's about 110 m north, and one 2 km away."""
    business = alice_camera.business
    near = CameraFactory(
        site=SiteFactory(business=business, latitude=Decimal("42.332400"), longitude=Decimal("-83.045800")),
        name="Side alley",
        agreement=alice_camera.agreement,
    )
    CameraFactory(
        site=SiteFactory(business=business, latitude=Decimal("42.350000"), longitude=Decimal("-83.045800")),
        name="Far lot",
        agreement=alice_camera.agreement,
    )
    return near


@pytest.mark.parametrize("persona", PERSONAS)
def test_nearby_cameras_of_an_alert_are_for_police(request, client_for, persona, alice_alert, neighbour) -> None:
    response = _client(request, client_for, persona).get(reverse("alerts:alert_nearby", args=[alice_alert.pk]))

    assert response.status_code == POLICE_ONLY[persona]
    if response.status_code == 200:
        cameras = response.json()["cameras"]
        assert [c["name"] for c in cameras] == ["Front door", "Side alley"]
        assert cameras[0]["distance_m"] == 0 and 100 < cameras[1]["distance_m"] < 120
        assert cameras[0]["live_now"] is True
        assert response.json()["alert"]["id"] == alice_alert.pk


def test_nearby_of_an_alert_the_monitor_may_not_see_is_a_404(
    client_for, monitor, raise_alert, unverified_camera
) -> None:
    hidden = raise_alert(unverified_camera)

    assert client_for(monitor).get(reverse("alerts:alert_nearby", args=[hidden.pk])).status_code == 404


def test_nearby_of_a_place_lists_only_cameras_the_monitor_may_see(
    client_for, monitor, alice_camera, unverified_camera
) -> None:
    response = client_for(monitor).get(reverse("alerts:place_nearby"), {"lat": "42.3314", "lng": "-83.0458"})

    assert response.status_code == 200
    assert [c["id"] for c in response.json()["cameras"]] == [alice_camera.pk]
    assert response.json()["alert"] is None


@pytest.mark.parametrize("query", [{}, {"lat": "x", "lng": "1"}, {"lat": "91", "lng": "0"}, {"lat": "1"}])
def test_nearby_of_a_bad_place_is_a_400(client_for, monitor, query) -> None:
    assert client_for(monitor).get(reverse("alerts:place_nearby"), query).status_code == 400


@pytest.mark.parametrize("persona", PERSONAS)
def test_nearby_of_a_place_is_for_police(request, client_for, persona) -> None:
    response = _client(request, client_for, persona).get(reverse("alerts:place_nearby"), {"lat": "42", "lng": "-83"})

    assert response.status_code == POLICE_ONLY[persona]


@pytest.mark.parametrize("persona", PERSONAS)
def test_the_heat_map_counts_the_alerts_each_officer_may_see(
    request, client_for, persona, raise_alert, alice_camera, unverified_camera
) -> None:
    raise_alert(alice_camera)
    raise_alert(alice_camera)
    raise_alert(unverified_camera)

    response = _client(request, client_for, persona).get(reverse("alerts:alert_heatmap"))

    assert response.status_code == POLICE_ONLY[persona]
    if response.status_code == 200:
        points = sorted(response.json()["points"])
        expected = [[42.3314, -83.0458, 2]] + ([[42.3315, -83.0459, 1]] if persona == "supervisor" else [])
        assert points == sorted(expected)


def test_the_heat_map_keeps_to_its_period(client_for, monitor, raise_alert, alice_camera) -> None:
    now = timezone.now()
    raise_alert(alice_camera, occurred_at=now - timedelta(days=3))
    client = client_for(monitor)

    day = client.get(reverse("alerts:alert_heatmap"), {"since": (now - timedelta(days=1)).isoformat()}).json()
    week = client.get(reverse("alerts:alert_heatmap"), {"since": (now - timedelta(days=7)).isoformat()}).json()

    assert day["points"] == [] and week["points"] == [[42.3314, -83.0458, 1]]


@pytest.mark.parametrize(
    "query",
    [
        {"since": "yesterday"},
        {"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"},
        {"since": "2020-01-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"},
    ],
)
def test_a_bad_heat_map_period_is_a_400(client_for, monitor, query) -> None:
    assert client_for(monitor).get(reverse("alerts:alert_heatmap"), query).status_code == 400
