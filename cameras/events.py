"""Events between processes: a camera's access changed (relays re-check viewers), an export moved on (pages update)."""

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


def evidence_group(request_id: int) -> str:
    """The channel-layer group of one evidence request's page viewers."""
    return f"lantern.evidence.{request_id}"


def evidence_changed(request_id: int, *, state: str, progress: float, message: str = "") -> None:
    """An evidence request's state or export progress changed; its open pages show it at once."""
    _send(
        {
            "type": "evidence.changed",
            "request_id": request_id,
            "state": state,
            "progress": progress,
            "message": message,
        },
        group=evidence_group(request_id),
    )


def _send(message: dict[str, object], *, group: str = LIVE_GROUP) -> None:
    layer = get_channel_layer()
    if layer is not None:
        async_to_sync(layer.group_send)(group, message)
