"""The relay's consent listener outlives a broken channel layer: after its Redis connection is cut, the next
revocation still ends the viewer at once with the revocation's own reason."""

from __future__ import annotations

import asyncio
import os
import time

import pytest
import redis

from community.services import agreement_revoke
from tests.cameras.live.test_whep_live import endpoint
from tests.cameras.live.whep_client import stop, wait_for, watch

REDIS_URL = os.environ.get("LANTERN_REDIS_URL", "")

pytestmark = pytest.mark.skipif(not REDIS_URL, reason="needs Redis (CI has it)")


def redis_clients_cut(url: str) -> int:
    """Kills every client connection to this Redis database except our own, as a restart or a network cut would."""
    admin = redis.Redis.from_url(url)
    database = admin.connection_pool.connection_kwargs.get("db", 0)
    own = admin.client_id()
    cut = 0
    for client in admin.client_list():
        if int(client["db"]) == database and int(client["id"]) != own:
            cut += admin.client_kill_filter(_id=client["id"])
    admin.close()
    return cut


@pytest.fixture
def redis_layer(settings):
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [REDIS_URL]}}
    }


def test_a_revocation_after_the_layer_broke_ends_the_viewer_with_its_reason(
    redis_layer, asgi_server, settings, live_camera, alice, monitor_token
):
    # Only the listener may end the viewer here: the periodic recheck would do it too, with its own words.
    settings.LIVE_RECHECK_S = 3600

    async def scenario() -> str | None:
        result = await watch(endpoint(asgi_server, live_camera), monitor_token)
        assert result.status == 201, result.error
        assert await wait_for(lambda: result.frames >= 5, timeout=30)
        assert await asyncio.to_thread(redis_clients_cut, REDIS_URL) >= 1
        await asyncio.sleep(3)  # the listener notices, backs off and subscribes again
        await asyncio.to_thread(
            lambda: agreement_revoke(agreement=live_camera.agreement, by=alice, reason="Store closed")
        )
        assert await wait_for(lambda: result.ended_reason() is not None, timeout=30)
        await stop(result)
        return result.ended_reason()

    started = time.monotonic()
    assert asyncio.run(scenario()) == "The owner revoked sharing: Store closed"
    print(f"ended {time.monotonic() - started:.1f} s after the start")
