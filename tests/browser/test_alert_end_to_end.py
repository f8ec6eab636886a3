"""End to end: a pedestrian walks into a zone in front of a simulated camera; the live runtime records the
segment, the worker analyses it, and the alert appears in the monitor's browser within seconds. Another
owner's browser, open on the same page, never gets it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from alerts.models import Alert, Rule
from cameras.models import Camera
from community.models import User
from devtools.simulator import CameraSimulator
from tests.browser.browsing import DESKTOP, log_in_through_form
from tests.cameras.recorded import camera_streaming_from
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("no_tiles"), pytest.mark.timeout(420)]

SEGMENT_S = 2.0
# Generous limits, never speed: on a busy 2-core machine recording, analysis and the push all wait their turn.
LIVE_TIMEOUT_MS = 60_000
ARRIVAL_TIMEOUT_MS = 90_000
ALERT_RAISED_S = 240
# The near pavement's right half: the walker enters it half way through each 12 s crossing.
RIGHT_HALF = [[0.5, 0.5], [1.0, 0.5], [1.0, 1.0], [0.5, 1.0]]


@pytest.fixture(scope="module")
def street() -> Iterator[CameraSimulator]:
    # 640x360: the walker is then tall enough for OpenCV's people detector without upscaling.
    sim = CameraSimulator(cameras=1, width=640, height=360, fps=10, host="127.0.0.1", port=0, walkers={1})
    sim.start()
    yield sim
    sim.stop()


@pytest.fixture
def watched_camera(transactional_db, alice_camera: Camera, street: CameraSimulator) -> Camera:
    camera_streaming_from(alice_camera, url=street.url(1))
    Rule.objects.create(camera=alice_camera, name="Shop entrance", kind="zone", zone=RIGHT_HALF, classes=["person"])
    return alice_camera


@pytest.fixture
def analysing_server(settings, watched_camera: Camera, tmp_path: Path, request: pytest.FixtureRequest):
    """The server as `./dev run` runs it: recording what the terms allow, each segment analysed as it lands
    (Celery is eager in tests, so in the uploader's thread)."""
    settings.RECORDING_ENABLED = True
    settings.RECORDING_SEGMENT_S = SEGMENT_S
    settings.RECORDING_SPOOL_DIR = tmp_path / "spool"
    settings.ANALYTICS_ENABLED = True
    settings.ANALYTICS_BACKEND = "opencv"
    return request.getfixturevalue("asgi_server")


def test_a_person_entering_the_zone_reaches_the_monitors_browser_and_no_one_elses(
    analysing_server, open_context, watched_camera: Camera, monitor: User, charlie: User
) -> None:
    pages = {}
    for person in (monitor, charlie):
        _, page, _ = open_context(**DESKTOP)
        log_in_through_form(page, analysing_server.url, email=person.email, password=PASSWORD)
        page.goto(f"{analysing_server.url}/alerts/")
        expect(page.locator("#alerts-live")).to_have_attribute("data-state", "live", timeout=LIVE_TIMEOUT_MS)
        pages[person.email] = page

    deadline = time.monotonic() + ALERT_RAISED_S
    while not Alert.objects.filter(camera=watched_camera, kind="zone").exists():
        assert time.monotonic() < deadline, "no alert was raised"
        time.sleep(0.3)
    alert = Alert.objects.get(camera=watched_camera, kind="zone")

    watching = pages[monitor.email]
    expect(watching.locator(f'#alert-rows tr[data-alert="{alert.pk}"]')).to_be_visible(timeout=ARRIVAL_TIMEOUT_MS)
    expect(watching.locator(f'#alert-rows tr[data-alert="{alert.pk}"]')).to_contain_text("Shop entrance")
    assert alert.object_class == "person"
    # The alert goes out as its frame is analysed; its picture follows at the segment's end.
    deadline = time.monotonic() + 120
    while not alert.snapshot:
        assert time.monotonic() < deadline, "the alert never got its picture"
        time.sleep(0.3)
        alert.refresh_from_db()
    # Charlie owns another business: his page is live too, and it never hears of alice's camera.
    time.sleep(1.0)
    assert alert.pk not in pages[charlie.email].evaluate("window.lanternAlerts.received")
