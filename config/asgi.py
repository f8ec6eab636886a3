"""ASGI entry point: Django for HTTP (behind a request-size cap), Channels for websockets."""

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from functools import lru_cache
from typing import Any

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402  (needs Django set up first)
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402
from django.urls import URLPattern, path, reverse  # noqa: E402

from alerts.consumers import AlertConsumer  # noqa: E402
from cameras.consumers import EvidenceConsumer  # noqa: E402

websocket_urlpatterns: list[URLPattern] = [
    path("ws/evidence/<int:request_id>/", EvidenceConsumer.as_asgi()),
    path("ws/alerts/", AlertConsumer.as_asgi()),
]


async def lifespan(scope: dict, receive: Any, send: Any) -> None:
    """Start this process's live-view runtime (relay, consent listener, registry heartbeat) with the
    server, so that a relay is registered before its first viewer, and close it cleanly on shutdown."""
    from cameras import live

    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await live.runtime()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            try:
                # A viewer or camera that will not close must not keep the process from exiting.
                await asyncio.wait_for(live.shutdown(), timeout=10)
            except TimeoutError:
                logging.getLogger(__name__).error("the live-view runtime did not close within 10 s")
            await send({"type": "lifespan.shutdown.complete"})
            return


_MB = 1024 * 1024


@lru_cache(maxsize=1)
def _upload_paths() -> frozenset[str]:
    # The only routes that take files: the tip form and the tipster's follow-up.
    return frozenset({reverse("tips:new"), reverse("tips:reply")})


def request_max_bytes(*, path: str) -> int:
    """The largest body this route accepts: the tip attachment limits on the tip upload routes, a small cap on
    everything else (no other route takes files: sensor events, SDP offers and API calls are kilobytes)."""
    if path in _upload_paths():
        return int(settings.TIP_UPLOAD_REQUEST_MAX_MB) * _MB
    return int(settings.REQUEST_MAX_MB) * _MB


def _declared_length(scope: dict[str, Any]) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            return int(value)  # ValueError for a malformed one
    return None


Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


async def _answer(send: Send, *, status: int, text: str) -> None:
    body = text.encode()
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        # The rest of the body is never read: the connection cannot carry another request.
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class RequestSizeLimit:
    """Caps request bodies before Django sees them (issue 11, item 16).

    Django's ASGI handler reads the whole body into a temporary file (on disk past 2.5 MB) before any
    middleware or view runs, so a cap there comes too late: a 2 GB anonymous POST filled the disk before its
    403. Here a Content-Length over the route's cap is answered 413 at once, unread, and a body without one
    (chunked) is cut off as soon as it passes the cap: Django is told the client went away, which makes it drop
    what it spooled and return, and the 413 goes out instead.
    """

    def __init__(self, app: Callable[[dict[str, Any], Any, Any], Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        limit = request_max_bytes(path=scope["path"])
        try:
            declared = _declared_length(scope)
        except ValueError:
            await _answer(send, status=400, text="Malformed Content-Length.")
            return
        if declared is not None and declared > limit:
            await _answer(send, status=413, text=f"Request too large: at most {limit // _MB} MB here.")
            return
        received = 0
        cut_off = False
        started = False

        async def capped_receive() -> dict[str, Any]:
            nonlocal received, cut_off
            if cut_off:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    cut_off = True
                    return {"type": "http.disconnect"}
            return message

        async def watched_send(message: dict[str, Any]) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, capped_receive, watched_send)
        if cut_off and not started:
            await _answer(send, status=413, text=f"Request too large: at most {limit // _MB} MB here.")


application = ProtocolTypeRouter(
    {
        "lifespan": lifespan,
        "http": RequestSizeLimit(django_asgi_app),
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
