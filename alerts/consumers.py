"""Websockets for alerts: each listener hears the alerts they may see, as they are raised or moved on."""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from alerts.events import ALERTS_GROUP
from alerts.selectors import alert_summary, alert_visible_to
from cameras.consumers import CLOSE_NOT_ALLOWED, _user_now


class AlertConsumer(AsyncJsonWebsocketConsumer):
    """`/ws/alerts/`: sends {"created": bool, "alert": alert_summary(alert)} for each alert this listener may see.

    Every alert event reaches every consumer; the alert is loaded for this listener, from the session as it
    is now, so a person deactivated or logged out stops hearing at the next event, and an alert on a camera
    this person may not see is never sent (not even its id).
    """

    joined: bool = False

    async def connect(self) -> None:
        if not await self._may_listen():
            await self.close(code=CLOSE_NOT_ALLOWED)
            return
        await self.channel_layer.group_add(ALERTS_GROUP, self.channel_name)
        self.joined = True
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if self.joined:
            await self.channel_layer.group_discard(ALERTS_GROUP, self.channel_name)
            self.joined = False

    async def alert_changed(self, event: dict[str, Any]) -> None:
        try:
            alert_id = int(event["alert_id"])
        except (KeyError, TypeError, ValueError):
            return
        allowed, summary = await self._summary_for_listener(alert_id)
        if not allowed:
            await self.disconnect(CLOSE_NOT_ALLOWED)
            await self.close(code=CLOSE_NOT_ALLOWED)
            return
        if summary is not None:
            await self.send_json({"created": bool(event.get("created")), "alert": summary})

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        # The page only listens; anything it sends is ignored.
        return

    @database_sync_to_async
    def _may_listen(self) -> bool:
        user = _user_now(self.scope)
        return user is not None and (user.is_police or user.is_owner)

    @database_sync_to_async
    def _summary_for_listener(self, alert_id: int) -> tuple[bool, dict[str, Any] | None]:
        """(may still listen, the alert's summary if this person may see it)."""
        user = _user_now(self.scope)
        if user is None or not (user.is_police or user.is_owner):
            return False, None
        alert = alert_visible_to(alert_id=alert_id, user=user)
        return True, alert_summary(alert) if alert is not None else None
