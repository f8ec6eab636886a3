"""The monitor's live wall in headless Chromium: four simulator cameras decode, consent ends a tile at once
with the reason, and a camera that drops shows reconnecting and then plays again."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from cameras.credentials import stream_url_encrypt, stream_url_mask
from cameras.models import Camera, LiveSession, MonitorWall
from community.services import agreement_revoke
from devtools.simulator import CameraSimulator
from tests.browser.browsing import log_in_through_form
from tests.conftest import PASSWORD
from tests.factories import AgreementFactory, CameraFactory

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("no_tiles")]


@pytest.fixture
def wall_simulator() -> Iterator[CameraSimulator]:
    sim = CameraSimulator(cameras=4, width=320, height=180, fps=10, port=0)
    sim.start()
    yield sim
    sim.stop()


@pytest.fixture
def wall_cameras(alice_site, alice_agreement, wall_simulator) -> list[Camera]:
    cameras = []
    for n in range(1, 5):
        # Camera 1 has terms of its own, so that revoking them touches only its tile.
        agreement = AgreementFactory(business=alice_site.business, name="Door only") if n == 1 else alice_agreement
        url = wall_simulator.url(n)
        cameras.append(
            CameraFactory(
                site=alice_site,
                agreement=agreement,
                name=f"Street {n}",
                stream_url_encrypted=stream_url_encrypt(url),
                stream_url_masked=stream_url_mask(url),
                health="online",
                codec="h264",
            )
        )
    return cameras


def open_wall(page, server, monitor, cameras):
    MonitorWall.objects.create(user=monitor, layout=4, tiles=[c.pk for c in cameras])
    log_in_through_form(page, server.url, email=monitor.email, password=PASSWORD)
    page.goto(f"{server.url}/police/wall/")


FRAMES = """async (i) => {
  const pc = window.lanternWall.tileStates[i].pc;
  if (!pc) return -1;
  let frames = 0;
  (await pc.getStats()).forEach(s => {
    if (s.type === "inbound-rtp" && s.kind === "video") frames = s.framesDecoded || 0;
  });
  return frames;
}"""


def frames(page, tile):
    return page.evaluate(FRAMES, tile)


def wait_until(check, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return check()


def in_thread(work):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(work).result()


def tile_state(page, tile):
    return page.locator(".tile").nth(tile).get_attribute("data-state")


def tile_text(page, tile):
    return page.locator(".tile .tile-state").nth(tile).inner_text()


def test_every_tile_of_a_4_tile_wall_decodes_frames(desktop, asgi_server, monitor, wall_cameras):
    open_wall(desktop, asgi_server, monitor, wall_cameras)
    assert wait_until(lambda: all(frames(desktop, i) > 5 for i in range(4))), [frames(desktop, i) for i in range(4)]
    before = [frames(desktop, i) for i in range(4)]
    time.sleep(1.5)
    after = [frames(desktop, i) for i in range(4)]
    assert all(b > a for a, b in zip(before, after, strict=True)), (before, after)
    assert all(tile_state(desktop, i) == "live" for i in range(4))
    assert "ms" in desktop.locator(".tile .tile-delay").first.inner_text()


def test_revocation_ends_the_tile_by_itself_with_the_reason(desktop, asgi_server, monitor, alice, wall_cameras):
    open_wall(desktop, asgi_server, monitor, wall_cameras)
    assert wait_until(lambda: frames(desktop, 0) > 5)
    started = time.monotonic()
    # Off the test thread, where Playwright's event loop runs: services publish with async_to_sync.
    in_thread(lambda: agreement_revoke(agreement=wall_cameras[0].agreement, by=alice, reason="Store closed"))
    # Seconds as a rule (bench/ measures it); the limit is generous for a busy machine.
    assert wait_until(lambda: tile_state(desktop, 0) == "ended", timeout=30)
    print(f"tile ended {time.monotonic() - started:.2f} s after the revocation")
    assert "The owner revoked sharing: Store closed" in tile_text(desktop, 0)
    assert tile_state(desktop, 1) == "live"


def test_a_dropped_camera_shows_reconnecting_then_plays_again(
    desktop, asgi_server, monitor, wall_cameras, wall_simulator
):
    open_wall(desktop, asgi_server, monitor, wall_cameras[:1])
    assert wait_until(lambda: frames(desktop, 0) > 5)
    wall_simulator.stop()
    assert wait_until(lambda: tile_state(desktop, 0) == "reconnecting", timeout=30), tile_text(desktop, 0)
    wall_simulator.start()
    resumed_from = frames(desktop, 0)
    assert wait_until(lambda: frames(desktop, 0) > resumed_from + 5, timeout=60)
    assert wait_until(lambda: tile_state(desktop, 0) == "live", timeout=30), tile_text(desktop, 0)


def test_reloading_the_wall_six_times_leaks_no_session_and_it_still_plays(desktop, asgi_server, monitor, wall_cameras):
    open_wall(desktop, asgi_server, monitor, wall_cameras)
    assert wait_until(lambda: all(frames(desktop, i) > 5 for i in range(4)), timeout=60)
    for _ in range(6):
        desktop.reload()
        assert wait_until(lambda: all(frames(desktop, i) > 0 for i in range(4)), timeout=60), [
            tile_text(desktop, i) for i in range(4)
        ]

    def open_sessions() -> int:
        return LiveSession.objects.filter(viewer=monitor, ended_at__isnull=True).count()

    # Each reload's tiles ended with the page (their DELETE outlives it, and the relay sees the connections
    # close): no more sessions stay open than the wall has tiles.
    assert wait_until(lambda: open_sessions() <= 4, timeout=60), open_sessions()
    assert LiveSession.objects.filter(viewer=monitor).count() == 4 * 7
    desktop.reload()
    assert wait_until(lambda: all(frames(desktop, i) > 5 for i in range(4)), timeout=60), [
        tile_text(desktop, i) for i in range(4)
    ]
    assert all(tile_state(desktop, i) == "live" for i in range(4))
