"""The embedded demo's own process layout, started by the same code as `./dev run` (devtools/demo.py): the bundled
Redis on a unix socket, the camera simulator, a separate Celery worker with beat (never eager) and the ASGI server.
In Chromium, an alert that the worker raises reaches the monitor's alerts page, and the progress of an evidence
export that the worker runs reaches the request's page: events cross processes, with nothing installed by hand.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from celery import Celery
from django.utils import timezone
from playwright.sync_api import WebSocket, expect

from alerts.models import Alert, Rule
from cameras import services
from cameras.models import Camera, EvidenceRequest, Segment
from community.models import User
from devtools.demo import DemoProcesses
from tests.browser.browsing import DESKTOP, log_in_through_form
from tests.cameras.recorded import camera_streaming_from
from tests.celery_worker import _database_url
from tests.conftest import PASSWORD

# Generous limits throughout: four processes, Chromium and the analysis share a busy 2-core machine.
pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("no_tiles"), pytest.mark.timeout(900)]

# The near pavement's right half: the simulator's walker enters it half way through each 12 s crossing.
RIGHT_HALF = [[0.5, 0.5], [1.0, 0.5], [1.0, 1.0], [0.5, 1.0]]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(check: Any, *, timeout_s: float, what: str, demo: DemoProcesses) -> Any:
    deadline = time.monotonic() + timeout_s
    while not (result := check()):
        demo.check_running()
        assert time.monotonic() < deadline, f"{what} within {timeout_s:.0f} s; logs in {demo.data_dir}"
        time.sleep(0.5)
    return result


@pytest.fixture
def street_camera(transactional_db, alice_camera: Camera) -> Camera:
    Rule.objects.create(camera=alice_camera, name="Shop entrance", kind="zone", zone=RIGHT_HALF, classes=["person"])
    return alice_camera


@pytest.fixture
def demo(street_camera: Camera, tmp_path: Path, settings) -> Iterator[DemoProcesses]:
    """The demo's processes on free ports, against this test's database; the camera pulls from its simulator."""
    demo = DemoProcesses(data_dir=tmp_path / "var", port=_free_port(), simulator_port=_free_port(), cameras=1)
    camera_streaming_from(street_camera, url=f"rtsp://127.0.0.1:{demo.simulator_port}/cam1")
    try:
        demo.start_redis(
            LANTERN_DATABASE_URL=_database_url(),
            LANTERN_SITE_URL=demo.url,
            # The stream address this test stored is encrypted with the test's keys.
            LANTERN_SECRET_KEY=settings.SECRET_KEY,
            **({"LANTERN_FIELD_ENCRYPTION_KEYS": ",".join(keys)} if (keys := settings.FIELD_ENCRYPTION_KEYS) else {}),
            # The test's personas carry the fast test hasher's passwords.
            LANTERN_FAST_PASSWORD_HASHER="1",
            LANTERN_RECORDING_SEGMENT_S="2",
            LANTERN_RECORDING_RESCAN_S="2",
            LANTERN_ANALYTICS_BACKEND="opencv",
            LANTERN_LOG_LEVEL="INFO",
        )
        demo.start_simulator(walkers=(1,))
        demo.start_worker()
        demo.start_web()
        demo.wait_for_web(timeout_s=120)
        yield demo
    finally:
        demo.stop()


def _send_export(demo: DemoProcesses, request_id: int) -> None:
    """Queue the export on the demo's broker, as the web process does when an owner approves."""
    # Not the current app: later tests would send their tasks to this dead broker instead of running them eagerly.
    producer = Celery("lantern-test-producer", set_as_current=False)
    producer.config_from_object("django.conf:settings", namespace="CELERY")
    producer.conf.broker_url = f"redis+socket://{demo.redis.socket}"
    producer.conf.broker_transport_options = {}
    producer.conf.task_always_eager = False
    producer.send_task("cameras.tasks.evidence_export_task", args=[request_id])
    producer.close()


def test_an_alert_and_export_progress_from_the_worker_reach_open_pages(
    demo: DemoProcesses, open_context, street_camera: Camera, monitor: User, alice: User
) -> None:
    # The monitor's alerts page is open and live before anything happens.
    monitor_context, alerts_page, _ = open_context(**DESKTOP)
    log_in_through_form(alerts_page, demo.url, email=monitor.email, password=PASSWORD)
    alerts_page.goto(f"{demo.url}/alerts/")
    expect(alerts_page.locator("#alerts-live")).to_have_attribute("data-state", "live", timeout=60_000)

    # The web process records the simulator, the worker analyses each segment and raises the alert.
    first = _wait_for(
        lambda: Segment.objects.filter(camera=street_camera).order_by("started_at").first(),
        timeout_s=180,
        what="the web process recorded no segment",
        demo=demo,
    )
    alert = _wait_for(
        lambda: Alert.objects.filter(camera=street_camera, kind="zone").first(),
        timeout_s=420,
        what="the worker raised no zone alert",
        demo=demo,
    )
    row = alerts_page.locator(f'#alert-rows tr[data-alert="{alert.pk}"]')
    expect(row).to_be_visible(timeout=120_000)
    expect(row).to_contain_text("Shop entrance")

    # Evidence: footage the demo recorded, a request alice approves, its page open before the export starts.
    request = services.evidence_request_create(
        by=monitor,
        case_number="2026-004711",
        reason="Person at the shop entrance",
        camera_ids=[street_camera.pk],
        window_start=first.started_at - timedelta(seconds=1),
        window_end=timezone.now(),
    )
    queued: list[int] = []
    with pytest.MonkeyPatch.context() as patch:
        # Tests run Celery eagerly; the demo's worker must run this export, so it is queued on its broker below.
        patch.setattr("cameras.tasks.evidence_export_task.delay", queued.append)
        # No page is open yet, and this thread runs Playwright's loop, where async_to_sync cannot publish.
        patch.setattr("cameras.services.evidence_changed", lambda *args, **kwargs: None)
        services.evidence_request_decide(request=request, by=alice, approve=True, reason="Yes")
    assert queued == [request.pk]

    # A second tab of the same monitor (a two-factor code is good for one login only).
    evidence_page = monitor_context.new_page()
    frames: list[dict[str, Any]] = []

    def listen(ws: WebSocket) -> None:
        if "/ws/evidence/" in ws.url:
            ws.on("framereceived", lambda payload: frames.append(json.loads(payload)))

    evidence_page.on("websocket", listen)
    evidence_page.goto(f"{demo.url}/evidence/{request.pk}/")
    _wait_for(
        lambda: evidence_page.evaluate("window.lanternEvidence.socket?.readyState === WebSocket.OPEN"),
        timeout_s=60,
        what="the evidence page's socket did not open",
        demo=demo,
    )

    _send_export(demo, request.pk)

    # The worker's progress events reach the open page, which then reloads itself to show the files.
    evidence_page.wait_for_selector("table.items", timeout=300_000)
    assert evidence_page.locator("#evidence-state").inner_text() == "Exported"
    assert any(frame.get("state") == "exporting" for frame in frames), frames
    assert frames[-1]["progress"] == 1.0, frames
    request.refresh_from_db()
    assert request.state == EvidenceRequest.State.EXPORTED
