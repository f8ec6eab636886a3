"""Live alerts in two officers' browsers: an alert on a camera only the first may see (a partner still waiting
for verification: the supervisor sees it, monitors do not) appears at the top of her alerts page within
seconds and never in the monitor's; an alert both may see reaches both."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import pytest
from channels.layers import get_channel_layer
from django.utils import timezone
from playwright.sync_api import expect

from alerts.events import ALERTS_GROUP
from alerts.models import Alert
from alerts.services import alert_raise
from community.models import Business
from tests.browser.browsing import DESKTOP, log_in_through_form
from tests.conftest import PASSWORD
from tests.factories import AgreementFactory, BusinessFactory, CameraFactory, SiteFactory

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("no_tiles")]


@pytest.fixture
def send_to_pages(asgi_server, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Publish alert events on the server's own event loop, where its in-memory channel layer lives (this
    thread runs Playwright's loop, so the service's async_to_sync cannot)."""
    loop = asgi_server.server.servers[0].get_loop()

    def send(alert_id: int, *, created: bool) -> None:
        event = {"type": "alert.changed", "alert_id": alert_id, "created": created}
        asyncio.run_coroutine_threadsafe(get_channel_layer().group_send(ALERTS_GROUP, event), loop).result(timeout=5)

    monkeypatch.setattr("alerts.services.alert_changed", send)
    yield


def test_an_alert_reaches_only_the_officers_who_may_see_it(
    send_to_pages, asgi_server, open_context, supervisor, monitor, alice_camera
) -> None:
    business = BusinessFactory(name="Dana's Diner", state=Business.State.PENDING, verified_at=None)
    site = SiteFactory(business=business, latitude=Decimal("42.331500"), longitude=Decimal("-83.045900"))
    hidden_camera = CameraFactory(site=site, name="Diner back door", agreement=AgreementFactory(business=business))
    pages = []
    for officer in (supervisor, monitor):
        _, page, _ = open_context(**DESKTOP)
        log_in_through_form(page, asgi_server.url, email=officer.email, password=PASSWORD)
        page.goto(f"{asgi_server.url}/alerts/")
        expect(page.locator("#alerts-live")).to_have_attribute("data-state", "live", timeout=60_000)
        pages.append(page)
    first, second = pages

    hidden, _ = alert_raise(
        dedup_key="browser:hidden",
        kind=Alert.Kind.ZONE,
        title="Person at the diner's back door",
        occurred_at=timezone.now(),
        camera=hidden_camera,
    )

    row = first.locator(f'#alert-rows tr[data-alert="{hidden.pk}"]')
    expect(row).to_be_visible(timeout=60_000)
    expect(first.locator("#alert-rows tr").first).to_contain_text("Person at the diner's back door")

    shared, _ = alert_raise(
        dedup_key="browser:shared",
        kind=Alert.Kind.LINE,
        title="Car crossed the front line",
        occurred_at=timezone.now() + timedelta(seconds=1),
        camera=alice_camera,
    )
    for page in pages:
        expect(page.locator(f'#alert-rows tr[data-alert="{shared.pk}"]')).to_be_visible(timeout=60_000)
    # The shared alert arrived after the hidden one: had the hidden one been sent, it would be there by now.
    assert second.locator(f'#alert-rows tr[data-alert="{hidden.pk}"]').count() == 0
    assert hidden.pk not in second.evaluate("window.lanternAlerts.received")
    assert "diner" not in second.content().lower()
