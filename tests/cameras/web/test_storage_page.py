"""The owner's storage page: what each camera's recordings take, how long they are kept, and whether recording is on."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import CameraFactory

URL = reverse("cameras:storage_usage")


def test_anonymous_is_sent_to_login(client_for) -> None:
    response = client_for(None).get(URL)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("community:login"))


@pytest.mark.parametrize("persona", ["monitor", "supervisor"])
def test_police_get_403(request, client_for, persona) -> None:
    assert client_for(request.getfixturevalue(persona)).get(URL).status_code == 403


@pytest.mark.parametrize("persona", ["alice", "bob"])
def test_alice_and_her_staff_see_her_cameras_recordings(
    request, client_for, persona, alice_camera, alice_site, footage
) -> None:
    quiet = CameraFactory(site=alice_site, name="Back door", agreement=None)

    response = client_for(request.getfixturevalue(persona)).get(URL)

    assert response.status_code == 200
    rows = {row["camera"].pk: row for row in response.context["rows"]}
    front = rows[alice_camera.pk]
    assert front["segments"] == 3
    assert front["bytes"] == sum(s.size_bytes for s in footage)
    assert front["oldest"] == footage[0].started_at and front["newest"] == footage[-1].ended_at
    assert front["retention_days"] == 30 and front["recording"] is True
    assert rows[quiet.pk]["segments"] == 0 and rows[quiet.pk]["recording"] is False
    page = response.content.decode()
    assert "Front door" in page and "Back door" in page
    assert f'data-bytes="{front["bytes"]}"' in page
    assert reverse("cameras:camera_playback", args=[alice_camera.pk]) in page


def test_charlie_sees_only_his_own_cameras(client_for, charlie, charlie_camera, footage) -> None:
    response = client_for(charlie).get(URL)

    assert [row["camera"] for row in response.context["rows"]] == [charlie_camera]
    assert "Front door" not in response.content.decode()


def test_the_owner_nav_links_to_it(client_for, alice, alice_business) -> None:
    assert URL in client_for(alice).get(reverse("community:portal")).content.decode()
