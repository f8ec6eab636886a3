"""The alerts websocket: police and owners hear the alerts they may see as they arrive; an alert on a camera a
listener may not see never reaches them; others are refused at the door; a deactivated officer stops hearing."""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer

from alerts.events import ALERTS_GROUP
from alerts.models import Alert
from cameras.consumers import CLOSE_NOT_ALLOWED
from community.models import User
from community.services import officer_deactivate
from tests.cameras.web.test_evidence_socket import Socket, _cookie_of, run

pytestmark = pytest.mark.django_db(transaction=True)


def _socket(cookie: bytes) -> Socket:
    headers = [(b"origin", b"http://testserver"), (b"host", b"testserver")]
    if cookie:
        headers.append((b"cookie", cookie))
    return Socket("/ws/alerts/", headers)


async def _announce(alert: Alert, *, created: bool = True) -> None:
    await get_channel_layer().group_send(
        ALERTS_GROUP, {"type": "alert.changed", "alert_id": alert.pk, "created": created}
    )


def _hears(user: User, alerts: list[Alert]) -> list[int]:
    """The ids of the alerts (announced in order) that this person's socket passed on."""
    cookie = _cookie_of(user)

    async def scenario() -> list[int]:
        socket = _socket(cookie)
        connected, _ = await socket.connect()
        assert connected
        heard = []
        for alert in alerts:
            await _announce(alert)
            if not await socket.receive_nothing(timeout=0.3):
                message = await socket.receive_json_from()
                heard.append(message["alert"]["id"])
        await socket.disconnect()
        return heard

    return run(scenario)


def test_a_monitor_hears_an_alert_on_a_shared_camera(monitor, alice_alert) -> None:
    cookie = _cookie_of(monitor)

    async def scenario() -> dict[str, Any]:
        socket = _socket(cookie)
        assert (await socket.connect())[0]
        await _announce(alice_alert)
        message = await socket.receive_json_from()
        await socket.disconnect()
        return message

    message = run(scenario)

    assert message["created"] is True
    assert message["alert"]["id"] == alice_alert.pk
    assert message["alert"]["camera"] == {"id": alice_alert.camera_id, "name": "Front door"}
    assert message["alert"]["state"] == "new"


def test_a_monitor_never_hears_an_alert_on_a_camera_not_shared_with_police(
    monitor, other_monitor, raise_alert, unverified_camera, alice_alert
) -> None:
    hidden = raise_alert(unverified_camera)

    assert _hears(monitor, [hidden, alice_alert]) == [alice_alert.pk]
    assert _hears(other_monitor, [hidden, alice_alert]) == [alice_alert.pk]


def test_the_supervisor_hears_alerts_on_partners_waiting_for_verification(
    supervisor, raise_alert, unverified_camera
) -> None:
    hidden_from_monitors = raise_alert(unverified_camera)

    assert _hears(supervisor, [hidden_from_monitors]) == [hidden_from_monitors.pk]


@pytest.mark.parametrize("persona", ["alice", "bob"])
def test_the_owner_and_staff_hear_their_own_cameras_alerts_only(request, persona, alice_alert, charlie_alert) -> None:
    assert _hears(request.getfixturevalue(persona), [charlie_alert, alice_alert]) == [alice_alert.pk]


def test_charlie_never_hears_alices_alerts(charlie, alice_alert, charlie_alert) -> None:
    assert _hears(charlie, [alice_alert, charlie_alert]) == [charlie_alert.pk]


def test_anonymous_is_refused_at_the_door(db) -> None:
    async def scenario() -> tuple[bool, int | None]:
        return await _socket(b"").connect()

    assert run(scenario) == (False, CLOSE_NOT_ALLOWED)


def test_an_officer_without_the_second_factor_is_refused(monitor) -> None:
    cookie = _cookie_of(monitor, second_factor=False)

    async def scenario() -> tuple[bool, int | None]:
        return await _socket(cookie).connect()

    assert run(scenario) == (False, CLOSE_NOT_ALLOWED)


def test_a_deactivated_monitor_stops_hearing_at_the_next_alert(monitor, supervisor, raise_alert, alice_camera) -> None:
    cookie = _cookie_of(monitor)
    first, second = raise_alert(alice_camera), raise_alert(alice_camera)

    async def scenario() -> tuple[int, dict[str, Any]]:
        socket = _socket(cookie)
        assert (await socket.connect())[0]
        await _announce(first)
        heard = (await socket.receive_json_from())["alert"]["id"]
        await database_sync_to_async(officer_deactivate)(officer=monitor, by=supervisor)
        await _announce(second)
        closed = await socket.receive_output(timeout=2)
        return heard, closed

    heard, closed = run(scenario)

    assert heard == first.pk
    assert closed == {"type": "websocket.close", "code": CLOSE_NOT_ALLOWED}
