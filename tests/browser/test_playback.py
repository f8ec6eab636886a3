"""Playback in headless Chromium: a monitor plays segments stored in a real S3 server (moto, on loopback) through
Media Source Extensions over presigned URLs, the clock shows the footage's own time, and scrubbing jumps."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from playwright.sync_api import Page

from cameras.models import Camera, Segment
from community.models import AuditEvent, SharingAgreement, User
from tests.browser.browsing import DESKTOP, PHONE, assert_no_horizontal_scroll, log_in_through_form
from tests.cameras.recorded import segments_stored
from tests.conftest import PASSWORD
from tests.s3 import S3Endpoint

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("no_tiles")]

PLAYER = "window.lanternPlayback"


@pytest.fixture
def footage(
    s3_storage: S3Endpoint, alice_camera: Camera, alice_agreement: SharingAgreement, tmp_path: Path
) -> tuple[list[Segment], list[Segment]]:
    """Ten seconds of footage eight minutes ago, a gap, then six seconds four minutes ago, in the S3 bucket."""
    alice_agreement.recording_allowed = True
    alice_agreement.save()
    now = timezone.now().replace(microsecond=0)
    first = segments_stored(camera=alice_camera, start=now - timedelta(minutes=8), count=5, scratch=tmp_path)
    later = segments_stored(camera=alice_camera, start=now - timedelta(minutes=4), count=3, scratch=tmp_path)
    assert all(s.shared_live for s in first + later)
    return first, later


def ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def wait_until(check: Callable[[], Any], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.1)
    return check()


def player(page: Page) -> dict[str, Any]:
    return page.evaluate(
        f"""() => ({{
          currentTime: {PLAYER}.video.currentTime,
          paused: {PLAYER}.video.paused,
          width: {PLAYER}.video.videoWidth,
          frames: {PLAYER}.video.getVideoPlaybackQuality().totalVideoFrames,
          wallMs: Number(document.getElementById("playback-clock").dataset.wallMs),
          clock: document.getElementById("playback-clock").textContent,
          status: document.getElementById("playback-status").textContent,
          fetches: {PLAYER}.state.playlistFetches,
          buffered: Array.from({{length: {PLAYER}.video.buffered.length}}, (_, i) =>
            [{PLAYER}.video.buffered.start(i), {PLAYER}.video.buffered.end(i)]),
          next: {PLAYER}.state.next,
          busy: {PLAYER}.state.busy,
          appendedEnd: {PLAYER}.state.appendedEnd,
          segments: {PLAYER}.state.playlist && {PLAYER}.state.playlist.segments.length,
        }})"""
    )


def open_playback(page: Page, base_url: str, user: User, camera: Camera, **query: str) -> None:
    log_in_through_form(page, base_url, email=user.email, password=PASSWORD)
    page.goto(f"{base_url}/cameras/{camera.pk}/playback/?{urlencode(query)}")


def scrub_to(page: Page, at: datetime) -> None:
    """What a drag of the timeline ends with: the input's value moves, then `change` fires on release."""
    page.locator("#playback-position").evaluate(
        """(el, value) => {
          el.dispatchEvent(new PointerEvent("pointerdown"));
          el.value = String(value);
          el.dispatchEvent(new Event("input", { bubbles: true }));
          el.dispatchEvent(new Event("change", { bubbles: true }));
        }""",
        ms(at),
    )


def test_a_monitor_plays_recorded_footage_at_its_own_time_and_scrubs_to_a_later_part(
    asgi_server, open_context, monitor: User, alice_camera: Camera, footage
) -> None:
    first, later = footage
    _, page, _ = open_context(**DESKTOP)
    start = first[1].started_at + timedelta(milliseconds=500)
    open_playback(page, asgi_server.url, monitor, alice_camera, at=start.isoformat())

    assert wait_until(lambda: player(page)["width"] == 160), player(page)
    shown = player(page)
    assert shown["wallMs"] == pytest.approx(ms(start), abs=100)
    local = start.astimezone(ZoneInfo(alice_camera.site.timezone))
    assert shown["clock"] == local.strftime("%Y-%m-%d %H:%M:%S")

    page.click("#playback-play")
    assert wait_until(lambda: player(page)["wallMs"] > ms(start) + 1500), player(page)
    playing = player(page)
    assert not playing["paused"] and playing["frames"] > 10
    # The clock is the footage's own time: what has played since the start, on the wall clock of the segment.
    assert ms(first[0].started_at) <= playing["wallMs"] <= ms(first[-1].ended_at)
    assert playing["currentTime"] > 0

    target = later[1].started_at + timedelta(milliseconds=300)
    scrub_to(page, target)
    assert wait_until(lambda: ms(later[1].started_at) <= player(page)["wallMs"] <= ms(later[1].ended_at)), player(page)
    jumped = player(page)["wallMs"]
    assert wait_until(lambda: player(page)["wallMs"] > jumped + 500), player(page)
    assert ms(later[0].started_at) <= player(page)["wallMs"] <= ms(later[-1].ended_at)

    playbacks = AuditEvent.objects.filter(action="camera.playback", actor=monitor, camera_id=alice_camera.pk)
    # One event per playlist the player asked for, never one per segment.
    assert 1 <= playbacks.count() == player(page)["fetches"] < len(first) + len(later)


def test_playing_across_a_gap_skips_to_the_next_footage(
    asgi_server, open_context, monitor: User, alice_camera: Camera, footage
) -> None:
    first, later = footage
    _, page, _ = open_context(**DESKTOP)
    open_playback(page, asgi_server.url, monitor, alice_camera, at=first[-1].started_at.isoformat())
    assert wait_until(lambda: player(page)["width"] == 160), player(page)

    page.select_option("#playback-speed", "4")
    page.click("#playback-play")

    assert wait_until(lambda: player(page)["wallMs"] >= ms(later[0].started_at), timeout=20), str(player(page))
    assert "skipped" in player(page)["status"]


def test_the_timeline_draws_the_recorded_stretches_and_the_page_fits_a_phone(
    asgi_server, open_context, alice: User, alice_camera: Camera, footage
) -> None:
    _, page, _ = open_context(**PHONE)
    open_playback(page, asgi_server.url, alice, alice_camera, hours="1")

    # The two stretches of footage, with the gap between them, are two bars on the timeline.
    assert wait_until(lambda: page.locator(".timeline-span").count() == 2)
    assert wait_until(lambda: player(page)["width"] == 160), player(page)
    assert_no_horizontal_scroll(page)
