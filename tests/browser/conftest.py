"""Headless Chromium through Playwright against pytest-django's live server, all on 127.0.0.1.

The browser is Debian's /usr/bin/chromium (Playwright never downloads one). Every request a page makes
is checked: anything not on 127.0.0.1 is aborted and fails the test, so a stray CDN link or font shows
up here instead of leaking a tipster's or an officer's browser to a third party.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import Browser, BrowserContext, Page, Route, sync_playwright

from cameras.simulator import CameraSimulator
from community.models import User

# The live server must listen where the browser is allowed to go; "localhost" could resolve to ::1.
os.environ.setdefault("DJANGO_LIVE_TEST_SERVER_ADDRESS", "127.0.0.1")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Belt and braces for "nothing leaves loopback": no name but 127.0.0.1 resolves.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]
# Nothing listens on the discard port, so tiles fail at once, as they would with no internet.
UNREACHABLE_TILES = "http://127.0.0.1:9/{z}/{x}/{y}.png"
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 3,
}
DESKTOP = {"viewport": {"width": 1440, "height": 900}}
STREAM_USERNAME = "lantern"
STREAM_PASSWORD = "p4ss-w0rd!camera"


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """One Chromium for every browser test, closed when they are done.

    Package rather than session scope: while Playwright's sync API runs, its asyncio loop is the
    running loop of this thread, and Django refuses ORM calls from a thread with a running loop. The
    tests call the ORM only between page actions, so the guard is lifted for exactly as long as the
    browser lives, and the rest of the suite runs with it in place.
    """
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed")
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@dataclass
class PageWatch:
    """What a browser context did that a test should know about."""

    off_loopback: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _loopback_only(watch: PageWatch) -> Callable[[Route], None]:
    def handle(route: Route) -> None:
        url = route.request.url
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob") or parts.hostname == "127.0.0.1":
            route.continue_()
        else:
            watch.off_loopback.append(url)
            route.abort("blockedbyclient")

    return handle


@pytest.fixture
def open_context(browser: Browser) -> Iterator[Callable[..., tuple[BrowserContext, Page, PageWatch]]]:
    """Opens a fresh context (its own cookies) with a page; checks at the end that all stayed on loopback."""
    opened: list[tuple[BrowserContext, PageWatch]] = []

    def open_(**options: object) -> tuple[BrowserContext, Page, PageWatch]:
        context = browser.new_context(**options)  # type: ignore[arg-type]
        context.set_default_timeout(15_000)
        watch = PageWatch()
        context.route("**/*", _loopback_only(watch))
        page = context.new_page()
        page.on("pageerror", lambda exc: watch.errors.append(str(exc)))
        opened.append((context, watch))
        return context, page, watch

    yield open_
    for context, watch in opened:
        context.close()
        assert watch.off_loopback == [], f"requests left 127.0.0.1: {watch.off_loopback}"
        assert watch.errors == [], f"JavaScript errors: {watch.errors}"


@pytest.fixture
def phone(open_context) -> tuple[Page, PageWatch]:
    _context, page, watch = open_context(**PHONE)
    return page, watch


@pytest.fixture
def desktop(open_context) -> tuple[Page, PageWatch]:
    _context, page, watch = open_context(**DESKTOP)
    return page, watch


@pytest.fixture
def no_tiles(settings) -> None:
    settings.MAP_TILE_URL = UNREACHABLE_TILES


@pytest.fixture(scope="session")
def simulator() -> Iterator[CameraSimulator]:
    """Two H.264 cameras on an ephemeral loopback port, behind a username and password."""
    sim = CameraSimulator(
        cameras=2, width=640, height=360, fps=10, port=0, username=STREAM_USERNAME, password=STREAM_PASSWORD
    )
    sim.start()
    yield sim
    sim.stop()


def otp_code(device: TOTPDevice) -> str:
    device.refresh_from_db()
    return str(totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits)).zfill(device.digits)


def confirmed_totp_device(user: User) -> TOTPDevice:
    device, _ = TOTPDevice.objects.get_or_create(user=user, name="Authenticator app", defaults={"confirmed": True})
    return device


def log_in_through_form(page: Page, base_url: str, *, email: str, password: str) -> None:
    """The real login form; police officers then pass the real TOTP page."""
    page.goto(f"{base_url}/account/login/")
    page.fill("#id_username", email)
    page.fill("#id_password", password)
    page.click("button.primary")
    page.wait_for_load_state()
    user = User.objects.get(email=email)
    if user.is_police:
        page.wait_for_url("**/account/2fa/verify/**")
        page.fill("#id_token", otp_code(confirmed_totp_device(user)))
        page.click("button.primary")
        page.wait_for_load_state()
        assert "/account/2fa/" not in page.url, page.locator(".error").all_inner_texts()


def assert_no_horizontal_scroll(page: Page) -> None:
    widths = page.evaluate("[document.scrollingElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"{page.url} scrolls sideways: {widths[0]}px content in a {widths[1]}px window"
