"""The evidence page's websocket: viewers of a request hear its progress; others are refused at the door; and
who may listen is checked again at every event, so a person who loses access stops hearing at once."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from asgiref.testing import ApplicationCommunicator
from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.routing import URLRouter
from channels.security.websocket import AllowedHostsOriginValidator
from django.test import Client

from cameras.consumers import CLOSE_NOT_ALLOWED
from cameras.events import evidence_group
from cameras.models import EvidenceRequest
from community.models import User
from community.services import officer_deactivate
from config.asgi import websocket_urlpatterns
from tests.conftest import log_in

# The consumer's database_sync_to_async closes connections around each call, which would end the
# transaction a plain `db` test runs in.
pytestmark = pytest.mark.django_db(transaction=True)

EVENT = {"type": "evidence.changed", "state": "exporting", "message": ""}


def _cookie_of(user: User | None, *, second_factor: bool = True) -> bytes:
    if user is None:
        return b""
    client = Client()
    if second_factor:
        log_in(client, user)
    else:
        client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


class Socket(ApplicationCommunicator):
    """A browser's websocket to the whole ASGI application (origin check, session, routing, consumer).

    channels.testing.WebsocketCommunicator does the same, but importing channels.testing needs daphne,
    which Lantern does not install (it serves with uvicorn).
    """

    def __init__(self, path: str, headers: list[tuple[bytes, bytes]]) -> None:
        # Wrapped as config/asgi.py wraps it, but now: the origin check reads ALLOWED_HOSTS when it is built,
        # and the test settings (with "testserver") are in force only once the tests run.
        application = AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)))
        super().__init__(application, {"type": "websocket", "path": path, "query_string": b"", "headers": headers})

    async def connect(self) -> tuple[bool, int | None]:
        await self.send_input({"type": "websocket.connect"})
        answer = await self.receive_output(timeout=2)
        return (False, answer.get("code", 1000)) if answer["type"] == "websocket.close" else (True, None)

    async def receive_json_from(self, timeout: float = 2) -> Any:
        answer = await self.receive_output(timeout)
        assert answer["type"] == "websocket.send", answer
        return json.loads(answer["text"])

    async def send_json_to(self, data: Any) -> None:
        await self.send_input({"type": "websocket.receive", "text": json.dumps(data)})

    async def disconnect(self) -> None:
        await self.send_input({"type": "websocket.disconnect", "code": 1000})
        await self.wait(timeout=2)


def _socket(request: EvidenceRequest, cookie: bytes, *, origin: bytes = b"http://testserver") -> Socket:
    headers = [(b"origin", origin), (b"host", b"testserver")]
    if cookie:
        headers.append((b"cookie", cookie))
    return Socket(f"/ws/evidence/{request.pk}/", headers)


def run(scenario: Callable[[], Awaitable[Any]]) -> Any:
    """Run an async scenario from this (sync) test: the consumer's database calls come back to this thread,
    inside the test's transaction."""

    async def wrapped() -> Any:
        await get_channel_layer().flush()
        return await scenario()

    return async_to_sync(wrapped)()


async def _send(request: EvidenceRequest, progress: float) -> None:
    await get_channel_layer().group_send(
        evidence_group(request.pk), {**EVENT, "request_id": request.pk, "progress": progress}
    )


@pytest.mark.parametrize("persona", ["monitor", "alice", "bob", "supervisor"])
def test_a_viewer_of_the_request_hears_its_progress(request, pending, persona) -> None:
    cookie = _cookie_of(request.getfixturevalue(persona))

    async def scenario() -> list[dict[str, Any]]:
        socket = _socket(pending, cookie)
        connected, _ = await socket.connect()
        assert connected
        heard = []
        for progress in (0.25, 0.5):
            await _send(pending, progress)
            heard.append(await socket.receive_json_from(timeout=2))
        await socket.disconnect()
        return heard

    heard = run(scenario)

    assert heard == [
        {"state": "exporting", "state_label": "Exporting", "progress": 0.25, "message": ""},
        {"state": "exporting", "state_label": "Exporting", "progress": 0.5, "message": ""},
    ]


@pytest.mark.parametrize("persona", ["charlie", "other_monitor", None])
def test_anyone_else_is_refused_at_the_door(request, pending, persona) -> None:
    cookie = _cookie_of(request.getfixturevalue(persona) if persona else None)

    async def scenario() -> tuple[bool, int | None]:
        return await _socket(pending, cookie).connect()

    connected, code = run(scenario)

    assert not connected
    assert code == CLOSE_NOT_ALLOWED


def test_an_officer_who_has_not_passed_the_second_factor_is_refused(pending, monitor) -> None:
    cookie = _cookie_of(monitor, second_factor=False)

    async def scenario() -> tuple[bool, int | None]:
        return await _socket(pending, cookie).connect()

    assert run(scenario) == (False, CLOSE_NOT_ALLOWED)


def test_a_socket_from_another_site_is_refused(pending, monitor) -> None:
    cookie = _cookie_of(monitor)

    async def scenario() -> tuple[bool, int | None]:
        return await _socket(pending, cookie, origin=b"http://evil.example").connect()

    connected, _ = run(scenario)

    assert not connected


def test_a_monitor_deactivated_mid_export_stops_hearing_at_the_next_event(pending, monitor, supervisor) -> None:
    cookie = _cookie_of(monitor)

    async def scenario() -> tuple[dict[str, Any], dict[str, Any], bool]:
        socket = _socket(pending, cookie)
        assert (await socket.connect())[0]
        await _send(pending, 0.3)
        before = await socket.receive_json_from(timeout=2)
        await database_sync_to_async(officer_deactivate)(officer=monitor, by=supervisor, reason="Left the unit")
        await _send(pending, 0.6)
        closed = await socket.receive_output(timeout=2)
        # Nothing more arrives, whatever the worker sends.
        await _send(pending, 0.9)
        silent = await socket.receive_nothing(timeout=0.3)
        await socket.disconnect()
        return before, closed, silent

    before, closed, silent = run(scenario)

    assert before["progress"] == 0.3
    assert closed == {"type": "websocket.close", "code": CLOSE_NOT_ALLOWED}
    assert silent


def test_logging_out_ends_the_updates(pending, alice) -> None:
    client = log_in(Client(), alice)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()

    async def scenario() -> dict[str, Any]:
        socket = _socket(pending, cookie)
        assert (await socket.connect())[0]
        await database_sync_to_async(client.post)("/account/logout/")
        await _send(pending, 0.5)
        closed = await socket.receive_output(timeout=2)
        await socket.disconnect()
        return closed

    assert run(scenario) == {"type": "websocket.close", "code": CLOSE_NOT_ALLOWED}


def test_what_the_page_sends_is_ignored(pending, alice) -> None:
    cookie = _cookie_of(alice)

    async def scenario() -> bool:
        socket = _socket(pending, cookie)
        assert (await socket.connect())[0]
        await socket.send_json_to({"state": "exported"})
        silent = await socket.receive_nothing(timeout=0.2)
        await socket.disconnect()
        return silent

    assert run(scenario)
    pending.refresh_from_db()
    assert pending.state == EvidenceRequest.State.PENDING
