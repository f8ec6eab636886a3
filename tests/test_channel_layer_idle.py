"""The Redis channel layer with the Redis client that installs (redis-py 8 reads every reply within a 5 s socket
timeout by default): an idle receive waits as long as it must, and an alert websocket with nothing to say for
well past that stays open and still delivers the next alert."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from channels_redis.core import RedisChannelLayer
from django.test import Client
from django.utils import timezone
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from alerts.events import ALERTS_GROUP
from alerts.models import Alert
from cameras.models import Camera
from community.models import User
from tests.celery_worker import needs_redis
from tests.conftest import log_in

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = "redis://127.0.0.1:6379/11"
# Past redis-py 8's 5 s default socket timeout several times over, and past channels-redis' 5 s blocking pop.
IDLE_S = 20

pytestmark = [needs_redis, pytest.mark.timeout(240)]

RESOLVE_LAYER = """
import json
from django.conf import settings
print(json.dumps(settings.CHANNEL_LAYERS["default"]))
"""


@pytest.fixture(scope="module")
def redis_layer_setting() -> dict:
    """CHANNEL_LAYERS["default"] as config/settings.py builds it when LANTERN_REDIS_URL is set."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("LANTERN_")}
    environment.update(DJANGO_SETTINGS_MODULE="config.settings", LANTERN_REDIS_URL=REDIS_URL)
    result = subprocess.run(
        [sys.executable, "-c", RESOLVE_LAYER], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    setting = json.loads(result.stdout)
    assert setting["BACKEND"] == "channels_redis.core.RedisChannelLayer"
    return setting


def test_an_idle_receive_outlasts_the_redis_clients_socket_timeout(redis_layer_setting):
    async def receive_after_idle() -> tuple[dict, float]:
        layer = RedisChannelLayer(**redis_layer_setting["CONFIG"])
        channel = await layer.new_channel()

        async def send_later() -> None:
            await asyncio.sleep(IDLE_S)
            await layer.send(channel, {"type": "hello"})

        sender = asyncio.create_task(send_later())
        started = time.monotonic()
        try:
            message = await asyncio.wait_for(layer.receive(channel), timeout=IDLE_S + 60)
        finally:
            await sender
            await layer.flush()
        return message, time.monotonic() - started

    message, waited = asyncio.run(receive_after_idle())

    assert message == {"type": "hello"}, f"redis-py {redis.__version__}"
    assert waited >= IDLE_S


def test_an_idle_alert_websocket_stays_open_and_delivers_the_next_alert(
    redis_layer_setting, settings, asgi_server, monitor: User, alice_camera: Camera
):
    settings.CHANNEL_LAYERS = {"default": redis_layer_setting}
    client = log_in(Client(), monitor)
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    url = asgi_server.url.replace("http://", "ws://") + "/ws/alerts/"

    with connect(url, additional_headers={"Cookie": cookie, "Origin": asgi_server.url}, open_timeout=30) as socket:
        # Nothing to say for a long while: the server's receive from the layer must not fail meanwhile.
        try:
            early = socket.recv(timeout=IDLE_S)
        except TimeoutError:
            early = None
        except ConnectionClosed as closed:
            pytest.fail(f"the idle alert websocket was closed ({closed}) with redis-py {redis.__version__}")
        assert early is None, early

        alert = Alert.objects.create(
            dedup_key="idle-socket",
            kind=Alert.Kind.ZONE,
            title="Person entered “Shop entrance”",
            occurred_at=timezone.now() + timedelta(seconds=1),
            camera=alice_camera,
        )
        async_to_sync(get_channel_layer().group_send)(
            ALERTS_GROUP, {"type": "alert.changed", "alert_id": alert.pk, "created": True}
        )
        try:
            message = json.loads(socket.recv(timeout=60))
        except ConnectionClosed as closed:
            pytest.fail(f"the idle alert websocket was closed ({closed}) with redis-py {redis.__version__}")

    assert message["created"] is True
    assert message["alert"]["id"] == alert.pk
