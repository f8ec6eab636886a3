"""An evidence request's page in headless Chromium: the export's progress bar moves live over the websocket,
the finished export shows its files, a download is a real file with the recorded SHA-256, and the chain of
custody lists every step."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from channels.layers import get_channel_layer
from django.utils import timezone
from playwright.sync_api import Page

from cameras import services
from cameras.events import evidence_group
from cameras.models import Camera, EvidenceRequest
from community.models import SharingAgreement, User
from tests.browser.browsing import DESKTOP, PHONE, assert_no_horizontal_scroll, log_in_through_form
from tests.cameras.recorded import segments_stored
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("no_tiles")]


@pytest.fixture
def send_to_pages(asgi_server, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """Publish evidence events on the server's own event loop, where its in-memory channel layer lives.

    The services publish with async_to_sync, which cannot run on this thread (Playwright's loop runs here)
    and would reach the server's loop from outside it; the services are pointed at this instead.
    """
    loop = asgi_server.server.servers[0].get_loop()

    def send(request_id: int, *, state: str, progress: float, message: str = "") -> None:
        event = {"type": "evidence.changed", "request_id": request_id, "state": state, "progress": progress}
        group_send = get_channel_layer().group_send(evidence_group(request_id), {**event, "message": message})
        asyncio.run_coroutine_threadsafe(group_send, loop).result(timeout=5)

    monkeypatch.setattr("cameras.services.evidence_changed", send)
    yield send


@pytest.fixture
def approved(
    send_to_pages, alice: User, monitor: User, alice_camera: Camera, alice_agreement: SharingAgreement, tmp_path: Path
) -> EvidenceRequest:
    """Twelve seconds of recorded footage, and a monitor's request for it that Alice approved; its export
    waits for the test to run it."""
    alice_agreement.recording_allowed = True
    alice_agreement.save()
    start = timezone.now().replace(microsecond=0) - timedelta(minutes=10)
    segments_stored(camera=alice_camera, start=start, count=6, scratch=tmp_path)
    request = services.evidence_request_create(
        by=monitor,
        case_number="2026-004711",
        reason="Burglary at the market, 2 a.m.",
        camera_ids=[alice_camera.pk],
        window_start=start - timedelta(minutes=1),
        window_end=start + timedelta(minutes=2),
    )
    queued: list[int] = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("cameras.tasks.evidence_export_task.delay", queued.append)
        services.evidence_request_decide(request=request, by=alice, approve=True, reason="For the police, yes")
    assert queued == [request.pk]
    request.refresh_from_db()
    return request


def wait_until(check: Callable[[], Any], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.1)
    return check()


def progress(page: Page) -> tuple[float, str, str]:
    return tuple(
        page.evaluate(
            """() => [Number(document.getElementById("export-progress").value),
                  document.getElementById("export-percent").textContent,
                  document.getElementById("evidence-state").textContent]"""
        )
    )


def custody_actions(page: Page) -> list[str]:
    return page.locator("table.custody tbody tr").evaluate_all("rows => rows.map(r => r.dataset.action)")


def open_request(page: Page, base_url: str, user: User, request: EvidenceRequest) -> None:
    log_in_through_form(page, base_url, email=user.email, password=PASSWORD)
    page.goto(f"{base_url}/evidence/{request.pk}/")
    assert wait_until(lambda: page.evaluate("window.lanternEvidence.socket?.readyState === WebSocket.OPEN"))


def test_the_progress_bar_moves_live_and_the_export_ends_with_files_and_their_custody(
    asgi_server, open_context, send_to_pages, monitor: User, approved: EvidenceRequest
) -> None:
    _, page, _ = open_context(**DESKTOP)
    open_request(page, asgi_server.url, monitor, approved)
    assert progress(page) == (0.0, "0 %", "Approved, waiting for export")
    assert custody_actions(page) == ["evidence.create", "evidence.approve"]

    send_to_pages(approved.pk, state="exporting", progress=0.25)
    assert wait_until(lambda: progress(page) == (0.25, "25 %", "Exporting")), progress(page)
    send_to_pages(approved.pk, state="exporting", progress=0.6)
    assert wait_until(lambda: progress(page)[0] == 0.6), progress(page)

    # The real export: its own events finish the bar, and the page reloads to show the files.
    exported = services.evidence_export(request_id=approved.pk, claim="browser-test")
    assert exported is not None and exported.state == EvidenceRequest.State.EXPORTED
    page.wait_for_selector("table.items", timeout=15_000)
    assert page.locator("#evidence-state").inner_text() == "Exported"
    item = exported.items.get()
    row = page.locator("table.items tbody tr")
    assert item.sha256 in row.inner_text()

    with page.expect_download() as download_info:
        row.get_by_role("button", name=f"Download {item.filename}").click()
    download = download_info.value
    assert download.suggested_filename == item.filename
    assert hashlib.sha256(Path(download.path()).read_bytes()).hexdigest() == item.sha256

    page.reload()
    assert custody_actions(page) == ["evidence.create", "evidence.approve", "evidence.export", "evidence.download"]
    downloaded = page.locator('table.custody tr[data-action="evidence.download"]')
    assert monitor.email in downloaded.inner_text() and item.sha256 in downloaded.inner_text()


def test_the_owner_reads_the_same_page_on_a_phone_and_it_fits(
    asgi_server, open_context, alice: User, approved: EvidenceRequest
) -> None:
    _, page, _ = open_context(**PHONE)
    open_request(page, asgi_server.url, alice, approved)

    assert "Burglary at the market" in page.inner_text("main")
    assert custody_actions(page) == ["evidence.create", "evidence.approve"]
    assert_no_horizontal_scroll(page)
