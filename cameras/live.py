"""This process's live-view runtime: its relay, its recorders and uploader, the consent listener, the recheck of
time windows and, with Redis, the relay registry heartbeat. The media hot path stays in cameras/media; this edge
talks to Django."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import hashlib
import hmac
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ParamSpec, TypeVar

from aiortc import RTCIceServer
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import close_old_connections, connections

from cameras import selectors, services
from cameras.credentials import stream_url_decrypt
from cameras.events import LIVE_GROUP
from cameras.media.recorder import Recordings, SpooledSegment
from cameras.media.relay import Relay, ViewerReport
from cameras.media.uploader import Uploader
from cameras.models import Camera
from cameras.relay_registry import RelayRegistry
from community.models import User

logger = logging.getLogger(__name__)

_P = ParamSpec("_P")
_R = TypeVar("_R")
# How long the consent listener waits before subscribing again after its channel layer failed, at most.
_LISTEN_BACKOFF_MAX_S = 10.0


@dataclass
class _Viewer:
    camera_id: int
    user_id: int


@dataclass
class LiveRuntime:
    relay: Relay
    registry: RelayRegistry | None
    viewers: dict[str, _Viewer] = field(default_factory=dict)
    # Viewers whose end the relay reported before `watch` had recorded their start.
    ended_early: dict[str, ViewerReport] = field(default_factory=dict)
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    # With RECORDING_ENABLED: a recorder per camera this relay owns whose agreement allows recording.
    recordings: Recordings | None = None
    uploader: Uploader | None = None
    # Sessions whose end is being recorded: the periodic report must not call them missing meanwhile.
    ending: set[str] = field(default_factory=set)
    # The runtime's own thread for its database edges. Its callbacks (a connection dying, a viewer's end)
    # run in tasks created while some WHEP request was served, so they inherit that request's context, and
    # sync_to_async would send them to the request's CurrentThreadExecutor, long gone by then: the end was
    # never recorded and the session stayed open for ever. One thread keeps the edges in order and off the
    # event loop whatever context they run in.
    database: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(max_workers=1, thread_name_prefix="live-database")
    )

    async def db(self, function: Callable[_P, _R], *args: _P.args, **kwargs: _P.kwargs) -> _R:
        """Runs a service or selector call on the runtime's database thread, whatever task calls it."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.database, functools.partial(_db_call, function, *args, **kwargs))

    # ------------------------------------------------------------ start and stop

    async def start(self) -> None:
        closed = await self.db(services.live_sessions_close_stale, relay_id=settings.RELAY_ID)
        if closed:
            logger.info("closed %d live sessions left open by this relay's previous run", closed)
        self.tasks.append(asyncio.create_task(self._listen(), name="live-consent-listener"))
        self.tasks.append(asyncio.create_task(self._recheck_forever(), name="live-recheck"))
        self.tasks.append(asyncio.create_task(self._report_forever(), name="live-report"))
        if self.registry is not None:
            await self.registry.heartbeat()
            self.tasks.append(asyncio.create_task(self._heartbeat_forever(), name="relay-heartbeat"))
        if settings.RECORDING_ENABLED:
            await self._recording_start()

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.recordings is not None:
            # Each recorder finishes its current segment into the spool, so shutting down loses no footage;
            # what the uploader cannot deliver in a moment, the next process does.
            await self.recordings.close()
        if self.uploader is not None:
            await self.uploader.close(timeout_s=2.0)
        # Leave the registry first, so that other relays stop sending viewers here while this one closes.
        if self.registry is not None:
            await self.registry.leave()
        await self.relay.close()
        # The background tasks' database work ran in sync_to_async's thread, outside any request
        # that would have closed its connection.
        await sync_to_async(connections.close_all)()
        await self.db(connections.close_all)
        self.database.shutdown(wait=False)

    # ------------------------------------------------------------ viewers

    async def owner_url(self, camera_id: int) -> str | None:
        """Where to send a viewer of this camera, or None when this relay owns it."""
        return None if self.registry is None else await self.registry.owner_url(camera_id)

    async def relay_url(self, relay_id: str) -> str | None:
        """The base URL of another live relay by its id; None when it is not alive (or there is no registry)."""
        if self.registry is None:
            return None
        return (await self.registry.live_relays()).get(relay_id) if relay_id != self.registry.relay_id else None

    async def watch(self, *, camera: Camera, user: User, offer_sdp: str) -> tuple[str, str]:
        """Open a viewer on the relay and record the session; returns (session id, answer SDP)."""
        source_url = stream_url_decrypt(camera.stream_url_encrypted)
        session = await self.relay.open_viewer(
            camera_id=camera.pk,
            source_url=source_url,
            offer_sdp=offer_sdp,
            on_end=self._on_end,
            on_connect=self._on_connect,
        )
        await self.db(
            services.live_session_open,
            session_id=session.session_id,
            camera=camera,
            viewer=user,
            relay_id=settings.RELAY_ID,
        )
        # Known to rechecks only once its record exists, so that its end always finds the record (a
        # consent change in between is caught by the next periodic recheck).
        self.viewers[session.session_id] = _Viewer(camera_id=camera.pk, user_id=user.pk)
        early = self.ended_early.pop(session.session_id, None)
        if early is not None:
            # The viewer ended (revoked, say) before its record existed; close the record now.
            self.viewers.pop(session.session_id, None)
            await self._record_end(early)
        return session.session_id, session.answer_sdp

    def viewer_of(self, session_id: str) -> _Viewer | None:
        return self.viewers.get(session_id)

    async def end(self, session_id: str, *, reason: str) -> bool:
        return await self.relay.close_viewer(session_id, reason=reason)

    async def _on_end(self, report: ViewerReport) -> None:
        if self.viewers.pop(report.session_id, None) is None:
            self.ended_early[report.session_id] = report
            return
        await self._record_end(report)

    async def _on_connect(self, session_id: str) -> None:
        await self.db(services.live_session_connected, session_id=session_id)

    async def _record_end(self, report: ViewerReport) -> None:
        self.ending.add(report.session_id)
        try:
            await self.db(
                services.live_session_close,
                session_id=report.session_id,
                bytes_sent=report.bytes_sent,
                reason=report.reason,
            )
        except Exception:
            # The relay must not stop on a database hiccup; the next report finds the session missing
            # from this relay and closes it as of when it was last seen.
            logger.exception("could not record the end of live session %s", report.session_id)
        finally:
            self.ending.discard(report.session_id)

    async def report(self) -> int:
        """Tells Django which sessions this relay holds (one query), and closes those of its id it no longer
        holds; returns how many it closed."""
        taken_at = datetime.now(UTC)
        seen = [
            services.LiveSessionSeen(session_id=v.session_id, connected=v.connected, bytes_sent=v.bytes_sent)
            for v in self.relay.viewers_held()
        ]
        # Ended on the relay with their end not recorded yet: their own close, with the real figures, is on its way.
        ending = self.ending | set(self.ended_early)
        return await self.db(
            services.live_sessions_report, relay_id=settings.RELAY_ID, seen=seen, ending=ending, taken_at=taken_at
        )

    async def _report_forever(self) -> None:
        while True:
            await asyncio.sleep(settings.LIVE_REPORT_S)
            try:
                await self.report()
            except Exception:
                logger.exception("live session report failed")

    # ------------------------------------------------------------ consent

    async def recheck(self, *, camera_ids: set[int] | None = None, user_id: int | None = None, reason: str = "") -> int:
        """Close every session of these cameras (or this person) that the terms no longer allow."""
        affected = [
            (session_id, viewer)
            for session_id, viewer in list(self.viewers.items())
            if (camera_ids is None or viewer.camera_id in camera_ids) and (user_id is None or viewer.user_id == user_id)
        ]
        closed = 0
        # A monitor watching the same camera in two tiles needs one answer, not two.
        decisions: dict[tuple[int, int], selectors.LiveDecision] = {}
        for session_id, viewer in affected:
            key = (viewer.camera_id, viewer.user_id)
            if key not in decisions:
                decisions[key] = await self.db(_consent, camera_id=viewer.camera_id, user_id=viewer.user_id)
            decision = decisions[key]
            if not decision.allowed:
                why = reason if reason and decision.status == 404 else decision.message
                closed += await self.relay.close_viewer(session_id, reason=why or reason)
        return closed

    # ------------------------------------------------------------ recording

    async def _recording_start(self) -> None:
        self.uploader = Uploader(spool_dir=settings.RECORDING_SPOOL_DIR, register=segment_register_spooled)
        await self.uploader.start()
        self.recordings = Recordings(
            relay=self.relay,
            spool_dir=settings.RECORDING_SPOOL_DIR,
            segment_s=settings.RECORDING_SEGMENT_S,
            on_segment=self.uploader.segment_spooled,
        )
        try:
            await self.recordings_reconcile()
        except Exception:
            # The relay must start even when the database does not answer; the rescan tries again.
            logger.exception("recording: could not read which cameras to record")
        self.tasks.append(asyncio.create_task(self._rescan_forever(), name="recording-rescan"))

    async def recordings_reconcile(self, *, camera_ids: set[int] | None = None) -> None:
        """Record the cameras (all, or these) that this relay owns and whose agreement allows recording."""
        if self.recordings is None:
            return
        wanted = await self.db(_cameras_to_record, camera_ids=camera_ids)
        if self.registry is not None:
            # Another relay records the cameras it owns; ownership moves as relays come and go, and the
            # periodic rescan follows it.
            wanted = {c: url for c, url in wanted.items() if await self.registry.owner_url(c) is None}
        await self.recordings.reconcile(wanted=wanted, camera_ids=camera_ids)

    async def _rescan_forever(self) -> None:
        # Cameras enrolled, removed or re-owned without an event for this relay.
        while True:
            await asyncio.sleep(settings.RECORDING_RESCAN_S)
            try:
                await self.recordings_reconcile()
            except Exception:
                logger.exception("recording rescan failed")

    # ------------------------------------------------------------ events

    async def _listen(self) -> None:
        layer = get_channel_layer()
        if layer is None:
            return
        backoff = 0.0
        channel: str | None = None
        while True:
            try:
                if channel is None:
                    channel = await layer.new_channel()
                    await layer.group_add(LIVE_GROUP, channel)
                message = await layer.receive(channel)
                backoff = 0.0
            except asyncio.CancelledError:
                raise
            except Exception:
                # A dropped Redis connection (redis-py ends idle reads) must not end the listener in silence:
                # revocations would then be caught only by the periodic recheck, late and with its own
                # reason. Subscribe again on a new channel; the old one expires in the layer by itself.
                backoff = min(_LISTEN_BACKOFF_MAX_S, max(0.2, backoff * 2))
                logger.exception(
                    "live consent listener: the channel layer failed; subscribing again in %.1f s", backoff
                )
                channel = None
                await asyncio.sleep(backoff)
                continue
            try:
                if message["type"] == "camera.access_changed":
                    camera_ids = set(message["camera_ids"])
                    try:
                        await self.recheck(camera_ids=camera_ids, reason=message["reason"])
                    finally:
                        # Recording stops with consent too, even if ending the viewers went wrong.
                        await self.recordings_reconcile(camera_ids=camera_ids)
                elif message["type"] == "viewer.access_changed":
                    await self.recheck(user_id=message["user_id"], reason=message["reason"])
            except Exception:
                logger.exception("live consent event %r failed", message)

    async def _recheck_forever(self) -> None:
        # Schedule and alarm windows end by the clock, with no event to announce it.
        while True:
            await asyncio.sleep(settings.LIVE_RECHECK_S)
            try:
                await self.recheck()
            except Exception:
                logger.exception("live recheck failed")

    async def _heartbeat_forever(self) -> None:
        assert self.registry is not None
        while True:
            await asyncio.sleep(settings.RELAY_HEARTBEAT_S)
            try:
                await self.registry.heartbeat()
            except Exception:
                logger.exception("relay heartbeat failed")


def _db_call(function: Callable[..., _R], *args: Any, **kwargs: Any) -> _R:
    # A thread that lives as long as the relay: drop a connection the database closed or that outlived
    # CONN_MAX_AGE before and after each call, as Django does around each request.
    close_old_connections()
    try:
        return function(*args, **kwargs)
    finally:
        close_old_connections()


def _consent(*, camera_id: int, user_id: int) -> selectors.LiveDecision:
    camera = Camera.objects.select_related("site", "business", "agreement").filter(pk=camera_id).first()
    user = User.objects.filter(pk=user_id).first()
    if camera is None or user is None:
        return selectors.LiveDecision(404, "The camera was removed.")
    return selectors.live_consent(camera=camera, user=user)


def _cameras_to_record(*, camera_ids: set[int] | None) -> dict[int, str]:
    """Camera id -> decrypted stream URL of the cameras (all, or of these) whose agreement allows recording."""
    ids = selectors.camera_ids_to_record()
    if camera_ids is not None:
        ids = [c for c in ids if c in camera_ids]
    rows = Camera.objects.filter(pk__in=ids).values_list("pk", "stream_url_encrypted")
    return {pk: stream_url_decrypt(encrypted) for pk, encrypted in rows}


async def segment_register_spooled(*, segment: SpooledSegment, key: str) -> bool:
    """The uploader's callback: record a stored segment in the database; False when its camera is gone."""
    row = await sync_to_async(services.segment_register)(
        camera_id=segment.camera_id,
        key=key,
        started_at=segment.started_at,
        ended_at=segment.ended_at,
        size_bytes=segment.size_bytes,
        sha256=segment.sha256,
    )
    return row is not None


def ice_servers() -> list[RTCIceServer]:
    """STUN and TURN servers from the settings; TURN credentials are coturn's time-limited REST kind."""
    servers = [RTCIceServer(urls=url) for url in settings.STUN_URLS]
    if settings.TURN_URLS and settings.TURN_SECRET:
        username, credential = turn_credentials()
        servers += [RTCIceServer(urls=url, username=username, credential=credential) for url in settings.TURN_URLS]
    return servers


def live_ice_servers_for_browser() -> list[dict[str, Any]]:
    """The same servers in the browser's RTCConfiguration form."""
    return [
        {
            "urls": server.urls,
            **({"username": server.username, "credential": server.credential} if server.username else {}),
        }
        for server in ice_servers()
    ]


def turn_credentials(*, ttl_s: int = 3600, user: str = "lantern") -> tuple[str, str]:
    username = f"{int(time.time()) + ttl_s}:{user}"
    digest = hmac.new(settings.TURN_SECRET.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode()


_runtimes: dict[asyncio.AbstractEventLoop, LiveRuntime] = {}
_starting: dict[asyncio.AbstractEventLoop, asyncio.Lock] = {}


async def runtime() -> LiveRuntime:
    """The runtime of the running event loop, started on first use (or at ASGI lifespan startup)."""
    loop = asyncio.get_running_loop()
    lock = _starting.setdefault(loop, asyncio.Lock())
    async with lock:
        if loop not in _runtimes:
            registry = None
            if settings.REDIS_URL:
                registry = RelayRegistry(
                    redis_url=settings.REDIS_URL,
                    relay_id=settings.RELAY_ID,
                    relay_url=settings.RELAY_URL,
                    heartbeat_s=settings.RELAY_HEARTBEAT_S,
                )
            relay = Relay(
                ice_host_addresses=settings.RELAY_ICE_ADDRESSES,
                public_address=settings.RELAY_PUBLIC_ADDRESS,
                ice_servers=ice_servers(),
                max_viewers=settings.RELAY_MAX_VIEWERS,
                grace_s=settings.RELAY_GRACE_S,
                connect_timeout_s=settings.LIVE_CONNECT_TIMEOUT_S,
            )
            live = LiveRuntime(relay=relay, registry=registry)
            await live.start()
            _runtimes[loop] = live
        return _runtimes[loop]


async def shutdown() -> None:
    live = _runtimes.pop(asyncio.get_running_loop(), None)
    if live is not None:
        await live.stop()
