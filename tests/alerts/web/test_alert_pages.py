"""The alert list and page: police see the alerts of the cameras they may see and move them on with notes;
owners read their own cameras' alerts without buttons; Charlie gets a 404 for Alice's; bad moves are a 400."""

from __future__ import annotations

import pytest
from django.urls import reverse

from alerts.models import Alert, AlertNote
from tests.alerts.web.conftest import PERSONAS

LIST_SEES_ALICES = {
    "anonymous": None,
    "alice": True,
    "bob": True,
    "charlie": False,
    "monitor": True,
    "supervisor": True,
}
DETAIL_STATUS = {"anonymous": 302, "alice": 200, "bob": 200, "charlie": 404, "monitor": 200, "supervisor": 200}
TRANSITION_STATUS = {"anonymous": 302, "alice": 403, "bob": 403, "charlie": 404, "monitor": 302, "supervisor": 302}


def _client(request, client_for, persona):
    return client_for(None if persona == "anonymous" else request.getfixturevalue(persona))


@pytest.mark.parametrize("persona", PERSONAS)
def test_the_list_shows_each_person_the_alerts_they_may_see(request, client_for, persona, alice_alert) -> None:
    response = _client(request, client_for, persona).get(reverse("alerts:alert_list"))

    if LIST_SEES_ALICES[persona] is None:
        assert response.status_code == 302 and "/login/" in response["Location"]
        return
    assert response.status_code == 200
    assert (alice_alert.title in response.content.decode()) is LIST_SEES_ALICES[persona]


def test_the_list_is_newest_first_and_filters_by_state_kind_and_camera(
    client_for, monitor, raise_alert, alice_camera
) -> None:
    older = raise_alert(alice_camera, title="Older one")
    newer = raise_alert(
        alice_camera,
        title="Newer one",
        kind=Alert.Kind.LINE,
        occurred_at=older.occurred_at.replace(year=older.occurred_at.year + 1),
    )
    client = client_for(monitor)

    page = client.get(reverse("alerts:alert_list")).content.decode()
    lines = client.get(reverse("alerts:alert_list"), {"kind": "line"}).content.decode()
    closed = client.get(reverse("alerts:alert_list"), {"state": "closed"}).content.decode()
    by_camera = client.get(reverse("alerts:alert_list"), {"camera": alice_camera.pk}).content.decode()

    assert page.index("Newer one") < page.index("Older one")
    assert "Newer one" in lines and "Older one" not in lines
    assert "Newer one" not in closed and "Older one" not in closed
    assert "Newer one" in by_camera and "Older one" in by_camera
    assert newer.pk != older.pk


def test_the_list_does_not_show_alerts_on_cameras_police_may_not_see(
    client_for, monitor, supervisor, raise_alert, unverified_camera
) -> None:
    hidden = raise_alert(unverified_camera, title="Back door alert")

    assert hidden.title not in client_for(monitor).get(reverse("alerts:alert_list")).content.decode()
    assert hidden.title in client_for(supervisor).get(reverse("alerts:alert_list")).content.decode()
    assert client_for(monitor).get(reverse("alerts:alert_detail", args=[hidden.pk])).status_code == 404


@pytest.mark.parametrize("persona", PERSONAS)
def test_the_alert_page_access(request, client_for, persona, alice_alert) -> None:
    response = _client(request, client_for, persona).get(reverse("alerts:alert_detail", args=[alice_alert.pk]))

    assert response.status_code == DETAIL_STATUS[persona]
    if response.status_code == 200:
        has_buttons = 'name="state"' in response.content.decode()
        assert has_buttons is (persona in ("monitor", "supervisor"))


@pytest.mark.parametrize("persona", PERSONAS)
def test_only_police_move_an_alert_on(request, client_for, persona, alice_alert) -> None:
    response = _client(request, client_for, persona).post(
        reverse("alerts:alert_transition", args=[alice_alert.pk]), {"state": "acknowledged", "note": "On it"}
    )

    assert response.status_code == TRANSITION_STATUS[persona]
    alice_alert.refresh_from_db()
    moved = persona in ("monitor", "supervisor")
    assert alice_alert.state == ("acknowledged" if moved else "new")
    assert AlertNote.objects.filter(alert=alice_alert, text="On it").exists() is moved


def test_a_monitor_acknowledges_dispatches_closes_and_reopens_with_notes(client_for, monitor, alice_alert) -> None:
    client = client_for(monitor)
    url = reverse("alerts:alert_transition", args=[alice_alert.pk])

    for state in ("acknowledged", "dispatched", "closed", "acknowledged"):
        assert client.post(url, {"state": state, "note": f"now {state}"}).status_code == 302

    alice_alert.refresh_from_db()
    assert alice_alert.state == "acknowledged"
    page = client.get(reverse("alerts:alert_detail", args=[alice_alert.pk])).content.decode()
    assert "now dispatched" in page and "now closed" in page


def test_an_impossible_move_is_a_400_with_the_reason_and_changes_nothing(client_for, monitor, alice_alert) -> None:
    client = client_for(monitor)
    url = reverse("alerts:alert_transition", args=[alice_alert.pk])
    client.post(url, {"state": "dispatched"})

    response = client.post(url, {"state": "acknowledged", "note": "back"})

    assert response.status_code == 400
    assert "cannot become acknowledged" in response.content.decode()
    alice_alert.refresh_from_db()
    assert alice_alert.state == "dispatched"
    assert not AlertNote.objects.filter(text="back").exists()


def test_an_unknown_state_is_a_400(client_for, monitor, alice_alert) -> None:
    response = client_for(monitor).post(reverse("alerts:alert_transition", args=[alice_alert.pk]), {"state": "gone"})

    assert response.status_code == 400
    alice_alert.refresh_from_db()
    assert alice_alert.state == "new"


def test_a_monitor_adds_a_note_and_an_empty_one_is_refused(client_for, monitor, alice_alert) -> None:
    client = client_for(monitor)
    url = reverse("alerts:alert_note", args=[alice_alert.pk])

    assert client.post(url, {"text": "Patrol car 12 nearby"}).status_code == 302
    assert client.post(url, {"text": "   "}).status_code == 400
    assert list(alice_alert.notes.values_list("text", flat=True)) == ["Patrol car 12 nearby"]


@pytest.mark.parametrize("persona", ["alice", "charlie"])
def test_owners_cannot_write_notes(request, client_for, persona, alice_alert) -> None:
    response = client_for(request.getfixturevalue(persona)).post(
        reverse("alerts:alert_note", args=[alice_alert.pk]), {"text": "mine"}
    )

    assert response.status_code == (403 if persona == "alice" else 404)
    assert not alice_alert.notes.exists()


@pytest.mark.parametrize("persona", PERSONAS)
def test_the_snapshot_is_served_only_to_those_who_see_the_alert(
    request, client_for, persona, raise_alert, alice_camera
) -> None:
    alert = raise_alert(alice_camera, snapshot_jpeg=b"\xff\xd8\xff\xe0fake-jpeg")

    response = _client(request, client_for, persona).get(reverse("alerts:alert_snapshot", args=[alert.pk]))

    assert response.status_code == DETAIL_STATUS[persona]
    if response.status_code == 200:
        assert b"".join(response.streaming_content).startswith(b"\xff\xd8")
