"""Alert events between processes: every alert consumer hears each one and decides, per listener, who may see it."""

from __future__ import annotations

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

ALERTS_GROUP = "lantern.alerts"


def alert_changed(alert_id: int, *, created: bool) -> None:
    """An alert was raised or moved on; consumers load it and check each listener's permission."""
    layer = get_channel_layer()
    if layer is not None:
        async_to_sync(layer.group_send)(
            ALERTS_GROUP, {"type": "alert.changed", "alert_id": alert_id, "created": created}
        )
