"""The camera list's filters and the map's compact rows, each limited to what the caller may see."""

from __future__ import annotations

import gzip
import json

import pytest

from cameras.models import Camera
from community.models import SharingAgreement
from tests.factories import AgreementFactory, CameraFactory


@pytest.fixture
def cameras(alice_camera, charlie_camera, alice_site, alice_business) -> dict[str, Camera]:
    registry = AgreementFactory(business=alice_business, name="Registry", mode=SharingAgreement.Mode.REGISTRY)
    indoor = CameraFactory(
        site=alice_site,
        name="Till",
        placement=Camera.Placement.INDOOR,
        views="The counter",
        agreement=registry,
        health=Camera.Health.ONLINE,
    )
    return {"front": alice_camera, "till": indoor, "garage": charlie_camera}


def _names(client, query=""):
    response = client.get(f"/api/cameras/{query}")
    assert response.status_code == 200, response.content
    return sorted(row["name"] for row in response.json()["results"])


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["Front door", "Garage door", "Till"]),
        ("?q=counter", ["Till"]),
        ("?q=charlie", ["Garage door"]),
        ("?q=main+street", ["Front door", "Till"]),
        ("?health=online", ["Till"]),
        ("?mode=registry", ["Till"]),
        ("?mode=always", ["Front door", "Garage door"]),
        ("?placement=indoor", ["Till"]),
        ("?placement=outdoor&health=unknown", ["Front door", "Garage door"]),
    ],
)
def test_the_supervisor_filters_cameras(client_as, cameras, query, expected):
    assert _names(client_as("supervisor"), query) == expected


def test_the_business_filter_limits_the_list(client_as, cameras):
    assert _names(client_as("supervisor"), f"?business={cameras['garage'].business_id}") == ["Garage door"]


def test_filters_never_widen_what_an_owner_sees(client_as, cameras):
    assert _names(client_as("charlie"), f"?business={cameras['front'].business_id}") == []
    assert _names(client_as("alice"), "?q=garage") == []


@pytest.mark.parametrize("query", ["?health=purple", "?mode=sometimes", "?placement=roof", "?business=abc"])
def test_a_bad_filter_is_refused_with_a_message(client_as, cameras, query):
    response = client_as("monitor").get(f"/api/cameras/{query}")

    assert response.status_code == 400
    assert list(response.json()) == [query[1:].split("=")[0]]


def test_the_map_has_one_compact_row_per_visible_camera(client_as, cameras):
    response = client_as("alice").get("/api/cameras/map/")

    assert response.status_code == 200
    rows = sorted(response.json()["cameras"], key=lambda row: row[5])
    front = cameras["front"]
    assert rows == [
        [front.pk, 42.3314, -83.0458, "unknown", "always", "Front door", "Main Street"],
        [cameras["till"].pk, 42.3314, -83.0458, "online", "registry", "Till", "Main Street"],
    ]


def test_the_map_shows_a_monitor_only_shared_cameras_of_verified_partners(client_as, cameras, alice_business):
    alice_business.state = alice_business.State.SUSPENDED
    alice_business.save()

    rows = client_as("monitor").get("/api/cameras/map/").json()["cameras"]

    assert [row[0] for row in rows] == [cameras["garage"].pk]


def test_the_list_is_paginated(client_as, cameras):
    response = client_as("supervisor").get("/api/cameras/?limit=2")

    assert response.json()["count"] == 3
    assert len(response.json()["results"]) == 2
    assert response.json()["next"]


def test_the_map_rows_are_gzipped_for_browsers(client_as, alice_camera):
    for n in range(10):
        CameraFactory(site=alice_camera.site, agreement=alice_camera.agreement, name=f"Extra {n}")
    response = client_as("monitor").get("/api/cameras/map/", HTTP_ACCEPT_ENCODING="gzip")
    assert response.status_code == 200
    assert response["Content-Encoding"] == "gzip"
    rows = json.loads(gzip.decompress(response.content))["cameras"]
    assert len(rows) == 11
