"""A live session ends in the database however the viewer goes: leaving without a DELETE (a reload, a closed
tab) or vanishing without a word (its machine froze or lost the network), long after its WHEP request finished."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import aioice.ice
import pytest

from cameras.media.relay import REASON_CONNECTION_FAILED, REASON_VIEWER_LEFT
from cameras.models import LiveSession
from tests.cameras.live.test_whep_live import endpoint
from tests.cameras.live.whep_client import Watch, poll, wait_for, watch


def test_a_viewer_that_leaves_without_delete_has_its_session_closed_with_the_bytes_sent(
    asgi_server, live_camera, monitor, monitor_token
):
    async def scenario() -> str:
        result = await watch(endpoint(asgi_server, live_camera), monitor_token)
        assert result.status == 201, result.error
        assert await wait_for(lambda: result.frames >= 10, timeout=30)
        # Gone without a DELETE, as a reloaded page's connection goes: the end reaches the relay as a
        # connection closing, after the request that opened the session has long finished.
        assert result.pc is not None
        await result.pc.close()
        return result.location.rsplit("/", 1)[-1]

    session_id = asyncio.run(scenario())
    assert poll(lambda: LiveSession.objects.get(pk=session_id).ended_at is not None, timeout=60)
    session = LiveSession.objects.get(pk=session_id)
    assert session.end_reason == REASON_VIEWER_LEFT
    assert session.bytes_sent > 10_000  # ten pictures of 320x180 went out, and were counted
    assert session.connected_at is not None and not session.ended_unseen


@pytest.fixture
def quick_consent(monkeypatch) -> None:
    # aioice checks consent every CONSENT_INTERVAL seconds and gives up after CONSENT_FAILURES misses
    # (~30 s by default); the module exposes the interval, so the test need not wait half a minute.
    monkeypatch.setattr(aioice.ice, "CONSENT_INTERVAL", 0.5)


@pytest.fixture
def frozen_client_loop() -> Iterator[asyncio.AbstractEventLoop]:
    """A client running on its own event loop, which the test can stop dead (no goodbye, no more answers)."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield loop
    if loop.is_running():
        loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=10)


def test_a_viewer_that_vanishes_has_its_session_closed_by_the_consent_check(
    quick_consent, asgi_server, live_camera, monitor, monitor_token, frozen_client_loop
):
    result: Watch = asyncio.run_coroutine_threadsafe(
        watch(endpoint(asgi_server, live_camera), monitor_token), frozen_client_loop
    ).result(timeout=30)
    assert result.status == 201, result.error
    assert poll(lambda: result.frames >= 10, timeout=30)
    session_id = result.location.rsplit("/", 1)[-1]
    # The client's machine freezes: no DTLS close, no DELETE, and no more answers to consent checks.
    frozen_client_loop.call_soon_threadsafe(frozen_client_loop.stop)

    assert poll(lambda: LiveSession.objects.get(pk=session_id).ended_at is not None, timeout=60)
    session = LiveSession.objects.get(pk=session_id)
    # Consent expiring closes the ICE connection, and the DTLS transport with it; which of the two the peer
    # connection reports first is aiortc's affair.
    assert session.end_reason in (REASON_CONNECTION_FAILED, REASON_VIEWER_LEFT)
    assert session.bytes_sent > 10_000
    assert not session.ended_unseen
