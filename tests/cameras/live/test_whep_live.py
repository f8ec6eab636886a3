"""WHEP end to end: a real ASGI server with its relay, the RTSP simulator, and aiortc clients with bearer tokens."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.authtoken.models import Token

from cameras.models import Camera, LiveSession
from community.models import AuditEvent
from community.services import agreement_revoke
from tests.cameras.live.whep_client import delete, poll, stop, wait_for, watch


def endpoint(server, camera):
    return f"{server.url}/live/cameras/{camera.pk}/whep"


def test_a_bearer_client_receives_frames_and_the_session_is_audited(asgi_server, live_camera, monitor, monitor_token):
    async def scenario():
        result = await watch(endpoint(asgi_server, live_camera), monitor_token)
        assert result.status == 201, result.error
        assert await wait_for(lambda: result.frames >= 10, timeout=10), result.messages
        assert result.size == (320, 180)
        print(f"first frame after {result.first_frame_s:.3f} s")
        session = await asyncio.to_thread(lambda: LiveSession.objects.get(viewer=monitor))
        assert session.ended_at is None
        assert await asyncio.to_thread(delete, result.location, monitor_token) == 200
        await stop(result)
        return session.pk

    session_id = asyncio.run(scenario())
    ended = LiveSession.objects.get(pk=session_id)
    assert ended.ended_at is not None
    assert ended.bytes_sent > 0
    assert ended.end_reason == "The viewer closed the tile."
    assert AuditEvent.objects.filter(action="live.start", camera_id=live_camera.pk, actor=monitor).exists()
    assert AuditEvent.objects.get(action="live.end", camera_id=live_camera.pk).details["bytes"] == ended.bytes_sent


def test_revocation_ends_a_watching_client_within_5_seconds_with_the_reason(
    asgi_server, live_camera, monitor_token, alice
):
    async def scenario():
        result = await watch(endpoint(asgi_server, live_camera), monitor_token)
        assert result.status == 201, result.error
        assert await wait_for(lambda: result.frames >= 3)
        revoked_at = time.monotonic()
        await asyncio.to_thread(
            lambda: agreement_revoke(agreement=live_camera.agreement, by=alice, reason="Closing for the night")
        )
        assert await wait_for(lambda: result.ended_reason() is not None, timeout=5)
        took = time.monotonic() - revoked_at
        await stop(result)
        return took, result.ended_reason()

    took, reason = asyncio.run(scenario())
    print(f"revocation took {took:.2f} s")
    assert took < 5
    assert "revoked" in reason
    assert poll(lambda: LiveSession.objects.get().end_reason == reason, timeout=3)


def test_the_end_of_an_alarm_window_ends_the_session_by_the_clock(asgi_server, live_camera, monitor_token):
    agreement = live_camera.agreement
    agreement.mode = "alarm"
    agreement.save()
    Camera.objects.filter(pk=live_camera.pk).update(alarm_until=timezone.now() + timedelta(seconds=3))

    async def scenario():
        result = await watch(endpoint(asgi_server, live_camera), monitor_token)
        assert result.status == 201, result.error
        assert await wait_for(lambda: result.frames >= 3)
        assert await wait_for(lambda: result.ended_reason() is not None, timeout=8)
        await stop(result)
        return result.ended_reason()

    assert "alarm" in asyncio.run(scenario())


def test_charlie_is_refused_before_any_media(asgi_server, live_camera, charlie):
    token = Token.objects.create(user=charlie).key
    result = asyncio.run(watch(endpoint(asgi_server, live_camera), token))
    assert result.status == 404
    assert not LiveSession.objects.exists()


@pytest.fixture
def one_viewer_relay(settings):
    settings.RELAY_MAX_VIEWERS = 1


def test_a_full_relay_answers_503(one_viewer_relay, asgi_server, live_camera, monitor_token, supervisor):
    supervisor_token = Token.objects.create(user=supervisor).key

    async def scenario():
        first = await watch(endpoint(asgi_server, live_camera), monitor_token)
        assert first.status == 201, first.error
        second = await watch(endpoint(asgi_server, live_camera), supervisor_token)
        await stop(first)
        return second

    second = asyncio.run(scenario())
    assert second.status == 503
    assert "full" in second.error["detail"]


def test_suspending_the_partner_ends_the_session_with_the_reason(
    asgi_server, live_camera, monitor_token, supervisor, alice_business
):
    from community.services import business_suspend

    async def scenario():
        result = await watch(endpoint(asgi_server, live_camera), monitor_token)
        assert await wait_for(lambda: result.frames >= 3)
        await asyncio.to_thread(
            lambda: business_suspend(business=alice_business, by=supervisor, reason="Ownership in doubt")
        )
        assert await wait_for(lambda: result.ended_reason() is not None, timeout=5)
        await stop(result)
        return result.ended_reason()

    assert asyncio.run(scenario()) == "The partner was suspended: Ownership in doubt"


def test_the_owner_sees_who_watched_live(asgi_server, live_camera, monitor_token, alice, client_for):
    async def scenario():
        result = await watch(endpoint(asgi_server, live_camera), monitor_token)
        assert await wait_for(lambda: result.frames >= 3)
        await asyncio.to_thread(delete, result.location, monitor_token)
        await stop(result)

    asyncio.run(scenario())
    assert poll(lambda: LiveSession.objects.filter(ended_at__isnull=False).exists())
    page = client_for(alice).get("/portal/access-log/").content.decode()
    assert "Monica Monitor (monica@police.example)" in page
    assert "The viewer closed the tile." in page
