"""Websockets for cameras: an evidence request's page follows its state and export progress live."""

from __future__ import annotations

from importlib import import_module
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.contrib.auth import get_user
from django.http import HttpRequest
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.models import Device

from cameras.events import evidence_group
from cameras.models import EvidenceRequest
from cameras.selectors import evidence_requests_visible_to
from community.models import User

# Close codes in the application range (4000-4999): the page reads them and says why it stopped.
CLOSE_NOT_ALLOWED = 4403


class EvidenceConsumer(AsyncJsonWebsocketConsumer):
    """`/ws/evidence/<id>/`: sends {state, state_label, progress, message} each time the request moves on.

    Who may listen is checked on connect and again before every event: a person deactivated, logged out
    or otherwise no longer allowed to see the request stops hearing about it at the next event.
    """

    request_id: int
    group: str = ""

    async def connect(self) -> None:
        self.request_id = int(self.scope["url_route"]["kwargs"]["request_id"])
        if not await self._may_listen():
            await self.close(code=CLOSE_NOT_ALLOWED)
            return
        self.group = evidence_group(self.request_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)
            self.group = ""

    async def evidence_changed(self, event: dict[str, Any]) -> None:
        if not await self._may_listen():
            await self.disconnect(CLOSE_NOT_ALLOWED)
            await self.close(code=CLOSE_NOT_ALLOWED)
            return
        state = str(event.get("state", ""))
        await self.send_json(
            {
                "state": state,
                "state_label": _state_label(state),
                "progress": float(event.get("progress") or 0.0),
                "message": str(event.get("message") or ""),
            }
        )

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        # The page only listens; anything it sends is ignored.
        return

    @database_sync_to_async
    def _may_listen(self) -> bool:
        user = _user_now(self.scope)
        return user is not None and evidence_requests_visible_to(user).filter(pk=self.request_id).exists()


def _state_label(state: str) -> str:
    try:
        return str(EvidenceRequest.State(state).label)
    except ValueError:
        return state


def _user_now(scope: dict[str, Any]) -> User | None:
    """The person behind the socket's session as the session store has it now, not as it was on connect:
    a logout, a changed password or a deactivation shows here. Police must have passed the second factor,
    as the pages' middleware demands (community/middleware.py)."""
    session_key = getattr(scope.get("session"), "session_key", None)
    if not session_key:
        return None
    request = HttpRequest()
    request.session = import_module(settings.SESSION_ENGINE).SessionStore(session_key=session_key)
    user = get_user(request)
    if not isinstance(user, User) or not user.is_active:
        return None
    if user.is_police and not _second_factor_passed(request, user):
        return None
    return user


def _second_factor_passed(request: HttpRequest, user: User) -> bool:
    persistent_id = request.session.get(DEVICE_ID_SESSION_KEY)
    # Only read: for_verify would lock the device row (SELECT FOR UPDATE), which needs a transaction.
    device = Device.from_persistent_id(persistent_id) if persistent_id else None
    return device is not None and device.user_id == user.pk and device.confirmed
