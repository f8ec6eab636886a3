"""Live-view events between processes: a camera's access changed, so relays re-check their viewers."""

from __future__ import annotations

from collections.abc import Iterable

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

# Every relay process listens on this group (cameras/live.py).
LIVE_GROUP = "lantern.live"


def camera_access_changed(camera_ids: Iterable[int], *, reason: str) -> None:
    """Tell every relay that these cameras' terms changed; each re-checks its viewers of them."""
    ids = sorted(set(camera_ids))
    if ids:
        _send({"type": "camera.access_changed", "camera_ids": ids, "reason": reason})


def viewer_access_changed(user_id: int, *, reason: str) -> None:
    """A person lost access (deactivated): relays end their sessions."""
    _send({"type": "viewer.access_changed", "user_id": user_id, "reason": reason})


def _send(message: dict[str, object]) -> None:
    layer = get_channel_layer()
    if layer is not None:
        async_to_sync(layer.group_send)(LIVE_GROUP, message)
