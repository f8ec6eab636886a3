"""Paging on API lists: ?limit= is clamped to 500, and a bad limit or offset is a clear 400, never a 500."""

from __future__ import annotations

import pytest

from cameras.models import Camera

LISTS = ["/api/cameras/", "/api/businesses/", "/api/sites/", "/api/audit-events/"]
HUGE = str(2**63)


@pytest.mark.parametrize("path", LISTS)
def test_a_huge_limit_is_clamped_to_the_maximum(client_as, alice_camera: Camera, path: str) -> None:
    response = client_as("supervisor").get(path, {"limit": HUGE})

    assert response.status_code == 200, response.content
    assert "results" in response.json()


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"limit": "ten"}, "limit"),
        ({"limit": "-1"}, "limit"),
        ({"offset": HUGE}, "offset"),
        ({"offset": "x"}, "offset"),
    ],
)
def test_a_bad_limit_or_offset_is_a_400_that_names_it(
    client_as, alice_camera: Camera, path: str, query: dict[str, str], field: str
) -> None:
    response = client_as("supervisor").get(path, query)

    assert response.status_code == 400, response.content
    assert field in response.json()


def test_the_limit_still_pages_a_list(client_as, alice_camera: Camera) -> None:
    response = client_as("alice").get("/api/cameras/", {"limit": "1", "offset": "0"})

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1 and len(body["results"]) == 1
