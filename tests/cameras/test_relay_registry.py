"""Rendezvous hashing spreads cameras over relays and moves only the cameras of a relay that leaves."""

import asyncio
import os
import uuid

import pytest

from cameras.relay_registry import RelayRegistry, relay_for_camera

RELAYS = {"relay-a": "http://127.0.0.1:8001", "relay-b": "http://127.0.0.1:8002", "relay-c": "http://127.0.0.1:8003"}


def test_every_relay_gets_a_fair_share():
    owners = [relay_for_camera(camera_id=n, relays=RELAYS) for n in range(3000)]
    for relay_id in RELAYS:
        assert 800 < owners.count(relay_id) < 1200


def test_only_the_cameras_of_a_relay_that_leaves_move():
    before = {n: relay_for_camera(camera_id=n, relays=RELAYS) for n in range(1000)}
    remaining = {k: v for k, v in RELAYS.items() if k != "relay-c"}
    after = {n: relay_for_camera(camera_id=n, relays=remaining) for n in range(1000)}
    moved = [n for n in before if before[n] != after[n]]
    assert all(before[n] == "relay-c" for n in moved)


@pytest.mark.skipif(not os.environ.get("LANTERN_REDIS_URL"), reason="LANTERN_REDIS_URL is not set")
def test_relays_see_each_other_through_redis_and_forget_the_silent():
    async def scenario():
        suffix = uuid.uuid4().hex[:6]
        url = os.environ["LANTERN_REDIS_URL"]
        a = RelayRegistry(redis_url=url, relay_id=f"a-{suffix}", relay_url="http://127.0.0.1:8001", heartbeat_s=0.2)
        b = RelayRegistry(redis_url=url, relay_id=f"b-{suffix}", relay_url="http://127.0.0.1:8002", heartbeat_s=0.2)
        await a.heartbeat()
        await b.heartbeat()
        seen = await a.live_relays()
        assert {f"a-{suffix}", f"b-{suffix}"} <= set(seen)
        owned_by_b = next(n for n in range(100) if relay_for_camera(camera_id=n, relays=seen) == f"b-{suffix}")
        assert await a.owner_url(owned_by_b) == "http://127.0.0.1:8002"
        await asyncio.sleep(0.7)  # b stops beating
        assert f"b-{suffix}" not in await a.live_relays()
        await b.leave()
        await a.leave()

    asyncio.run(scenario())
