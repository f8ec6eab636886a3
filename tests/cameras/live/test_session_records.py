"""The database side of live sessions: what counts towards the per-viewer cap, the relay's periodic report, the
close of sessions nobody saw end (relay restart, beat sweep), and what the owner's access log says about them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cameras import selectors, services
from cameras.models import Camera, LiveSession
from cameras.tasks import live_sessions_sweep_task
from community.models import AuditEvent, User

pytestmark = pytest.mark.django_db

LONG_AGO = timedelta(minutes=10)


def session_for(
    camera: Camera,
    viewer: User,
    *,
    relay_id: str = "relay-1",
    started_ago: timedelta = timedelta(0),
    connected: bool = False,
    seen_ago: timedelta | None = None,
    bytes_sent: int = 0,
) -> LiveSession:
    now = timezone.now()
    session = LiveSession.objects.create(
        id=f"s{LiveSession.objects.count() + 1}", camera=camera, viewer=viewer, relay_id=relay_id
    )
    # started_at is auto_now_add: set the past with an update.
    LiveSession.objects.filter(pk=session.pk).update(
        started_at=now - started_ago,
        connected_at=now - started_ago if connected else None,
        last_seen_at=now - seen_ago if seen_ago is not None else None,
        bytes_sent=bytes_sent,
    )
    session.refresh_from_db()
    return session


@pytest.fixture
def shared_camera(alice_camera: Camera) -> Camera:
    Camera.objects.filter(pk=alice_camera.pk).update(health="online", codec="h264")
    alice_camera.refresh_from_db()
    return alice_camera


def test_leaked_sessions_do_not_lock_the_monitor_out(settings, shared_camera, monitor):
    settings.LIVE_MAX_SESSIONS_PER_VIEWER = 2
    # What six reloads left behind: never connected long ago, or connected and no longer reported.
    for _ in range(3):
        session_for(shared_camera, monitor, started_ago=LONG_AGO)
        session_for(shared_camera, monitor, started_ago=LONG_AGO, connected=True, seen_ago=LONG_AGO)
    assert selectors.live_sessions_open_count(user=monitor) == 0
    assert selectors.live_decision(camera=shared_camera, user=monitor).allowed


def test_connected_and_connecting_sessions_count_towards_the_cap(settings, shared_camera, monitor):
    settings.LIVE_MAX_SESSIONS_PER_VIEWER = 2
    session_for(shared_camera, monitor, started_ago=timedelta(minutes=5), connected=True, seen_ago=timedelta(seconds=5))
    session_for(shared_camera, monitor)  # still within the time it has to connect
    decision = selectors.live_decision(camera=shared_camera, user=monitor)
    assert decision.status == 429
    assert "already watching 2 cameras" in decision.message


def test_the_report_updates_every_held_session_in_one_query(shared_camera, monitor, supervisor):
    held = [session_for(shared_camera, viewer) for viewer in (monitor, supervisor, monitor)]
    seen = [
        services.LiveSessionSeen(session_id=held[0].pk, connected=True, bytes_sent=1_500_000),
        services.LiveSessionSeen(session_id=held[1].pk, connected=True, bytes_sent=42),
        services.LiveSessionSeen(session_id=held[2].pk, connected=False, bytes_sent=0),
    ]
    with CaptureQueriesContext(connection) as queries:
        closed = services.live_sessions_report(relay_id="relay-1", seen=seen, taken_at=timezone.now())
    assert closed == 0
    assert [q["sql"] for q in queries.captured_queries if q["sql"].startswith("UPDATE")].__len__() == 1
    rows = {s.pk: s for s in LiveSession.objects.all()}
    assert rows[held[0].pk].bytes_sent == 1_500_000 and rows[held[0].pk].connected_at is not None
    assert rows[held[1].pk].bytes_sent == 42
    assert rows[held[2].pk].connected_at is None
    assert all(s.last_seen_at is not None and s.ended_at is None for s in rows.values())


def test_the_report_closes_sessions_of_its_relay_that_it_no_longer_holds(shared_camera, monitor):
    lost = session_for(
        shared_camera, monitor, started_ago=LONG_AGO, connected=True, seen_ago=timedelta(minutes=2), bytes_sent=7_000
    )
    other_relay = session_for(shared_camera, monitor, relay_id="relay-2", started_ago=LONG_AGO)
    closing = session_for(shared_camera, monitor, started_ago=LONG_AGO)
    taken_at = timezone.now()
    newer = session_for(shared_camera, monitor)  # recorded after the relay listed what it holds

    closed = services.live_sessions_report(relay_id="relay-1", seen=[], ending=[closing.pk], taken_at=taken_at)

    assert closed == 1
    lost.refresh_from_db()
    assert lost.ended_unseen and lost.ended_at == lost.last_seen_at and lost.bytes_sent == 7_000
    assert LiveSession.objects.get(pk=other_relay.pk).ended_at is None
    assert LiveSession.objects.get(pk=closing.pk).ended_at is None
    assert LiveSession.objects.get(pk=newer.pk).ended_at is None


def test_a_restarted_relay_closes_its_old_sessions_as_of_when_it_last_saw_them(shared_camera, monitor):
    old = session_for(
        shared_camera, monitor, started_ago=LONG_AGO, connected=True, seen_ago=timedelta(minutes=3), bytes_sent=9_000
    )
    assert services.live_sessions_close_stale(relay_id="relay-1") == 1
    old.refresh_from_db()
    assert old.ended_at == old.last_seen_at
    assert (old.bytes_sent, old.ended_unseen, old.end_reason) == (9_000, True, "The relay restarted.")
    assert AuditEvent.objects.filter(action="live.end", details__session=old.pk).exists()


def test_the_sweep_closes_sessions_whose_relay_stopped_reporting(shared_camera, monitor):
    stale = session_for(
        shared_camera, monitor, started_ago=LONG_AGO, connected=True, seen_ago=timedelta(minutes=5), bytes_sent=3_000
    )
    never_seen = session_for(shared_camera, monitor, relay_id="relay-9", started_ago=LONG_AGO)
    fresh = session_for(shared_camera, monitor, started_ago=LONG_AGO, connected=True, seen_ago=timedelta(seconds=5))
    assert "sweep-stale-live-sessions" in django_settings.CELERY_BEAT_SCHEDULE

    live_sessions_sweep_task.delay()

    stale.refresh_from_db()
    never_seen.refresh_from_db()
    assert stale.ended_unseen and stale.ended_at == stale.last_seen_at and stale.bytes_sent == 3_000
    assert stale.end_reason == "The relay stopped reporting the session."
    assert never_seen.ended_unseen and never_seen.ended_at == never_seen.started_at
    assert LiveSession.objects.get(pk=fresh.pk).ended_at is None


def test_a_late_end_report_never_lowers_the_bytes_already_reported(shared_camera, monitor):
    session = session_for(shared_camera, monitor, connected=True, seen_ago=timedelta(0), bytes_sent=5_000)
    assert services.live_session_close(session_id=session.pk, bytes_sent=0, reason="The relay had lost it.")
    assert LiveSession.objects.get(pk=session.pk).bytes_sent == 5_000


def test_the_owners_log_says_only_what_is_known(shared_camera, monitor, alice, client_for):
    session_for(shared_camera, monitor, started_ago=LONG_AGO)  # leaked: never connected, never reported
    session_for(shared_camera, monitor, started_ago=LONG_AGO, connected=True, seen_ago=LONG_AGO, bytes_sent=4_000)
    watching = session_for(
        shared_camera,
        monitor,
        started_ago=timedelta(minutes=1),
        connected=True,
        seen_ago=timedelta(seconds=3),
        bytes_sent=2_500_000,
    )
    ended = session_for(shared_camera, monitor, started_ago=LONG_AGO, connected=True, seen_ago=LONG_AGO)
    services.live_session_close(session_id=ended.pk, bytes_sent=3_200_000, reason="The viewer closed the tile.")
    swept = session_for(shared_camera, monitor, started_ago=LONG_AGO, connected=True, seen_ago=timedelta(minutes=2))
    services.live_sessions_close_stale(relay_id="nobody")  # nothing of relay-1
    LiveSession.objects.filter(pk=swept.pk).update(relay_id="relay-dead")
    services.live_sessions_close_stale(relay_id="relay-dead")

    page = client_for(alice).get("/portal/access-log/").content.decode()

    assert page.count("watching now") == 1, page  # only the session connected and reported a moment ago
    assert watching.pk and "at least 2.4\xa0MB" in page
    assert "3.1\xa0MB" in page  # the ended session's real bytes
    assert "never connected" in page
    assert "ended when the relay stopped reporting it" in page
    assert "not reported by the relay since" in page
