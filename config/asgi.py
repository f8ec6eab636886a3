"""ASGI entry point: Django for HTTP, Channels for websockets."""

import asyncio
import logging
import os
from typing import Any

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402  (needs Django set up first)
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.urls import URLPattern, path  # noqa: E402

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


application = ProtocolTypeRouter(
    {
        "lifespan": lifespan,
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
