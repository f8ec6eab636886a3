"""Which relay owns which camera: relays register in Redis with a heartbeat, and rendezvous hashing over the
live ones picks each camera's owner, so that every relay reaches the same answer without talking to the others."""

from __future__ import annotations

import hashlib
import json
import time

import redis.asyncio as aioredis

RELAYS_KEY = "lantern:relays"


def relay_for_camera(*, camera_id: int, relays: dict[str, str]) -> str:
    """The id of the relay that owns the camera: the highest hash of (relay, camera) wins.

    When a relay joins or leaves, only the cameras it wins or held move (unlike `hash % n`).
    """
    return max(relays, key=lambda relay_id: hashlib.sha256(f"{relay_id}|{camera_id}".encode()).digest())


class RelayRegistry:
    """This relay's registration and its view of the others; one per relay process."""

    def __init__(self, *, redis_url: str, relay_id: str, relay_url: str, heartbeat_s: float) -> None:
        self.redis = aioredis.from_url(redis_url)
        self.relay_id = relay_id
        self.relay_url = relay_url.rstrip("/")
        self.heartbeat_s = heartbeat_s

    async def heartbeat(self) -> None:
        entry = json.dumps({"url": self.relay_url, "seen": time.time()})
        await self.redis.hset(RELAYS_KEY, self.relay_id, entry)

    async def leave(self) -> None:
        await self.redis.hdel(RELAYS_KEY, self.relay_id)
        await self.redis.aclose()

    async def live_relays(self) -> dict[str, str]:
        """Relay id -> base URL for every relay whose heartbeat is fresh (three beats of slack)."""
        horizon = time.time() - 3 * self.heartbeat_s
        relays = {}
        for relay_id, raw in (await self.redis.hgetall(RELAYS_KEY)).items():
            entry = json.loads(raw)
            if entry["seen"] >= horizon:
                relays[relay_id.decode() if isinstance(relay_id, bytes) else relay_id] = entry["url"]
        relays.setdefault(self.relay_id, self.relay_url)
        return relays

    async def owner_url(self, camera_id: int) -> str | None:
        """The base URL of the relay owning the camera, or None when it is this one."""
        relays = await self.live_relays()
        owner = relay_for_camera(camera_id=camera_id, relays=relays)
        return None if owner == self.relay_id else relays[owner]
