"""Fixtures for the browser tests: one headless Chromium, contexts that stay on 127.0.0.1, the camera simulator.

The browser is Debian's /usr/bin/chromium (Playwright never downloads one). Every request a page makes
is checked: anything not on 127.0.0.1 is aborted and fails the test, so a stray CDN link or web font
shows up here rather than in an officer's or a tipster's browser.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from devtools.simulator import CameraSimulator
from tests.browser.browsing import (
    CHROMIUM,
    CHROMIUM_ARGS,
    DESKTOP,
    PHONE,
    STREAM_PASSWORD,
    STREAM_USERNAME,
    UNREACHABLE_TILES,
    PageWatch,
    loopback_only,
)

# The live server must listen where the browser may go; "localhost" could resolve to ::1.
os.environ.setdefault("DJANGO_LIVE_TEST_SERVER_ADDRESS", "127.0.0.1")

OpenContext = Callable[..., tuple[BrowserContext, Page, PageWatch]]


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """One Chromium for every browser test, closed when they are done.

    Package rather than session scope: while Playwright's sync API runs, its asyncio loop is the
    running loop of this thread, and Django refuses ORM calls from a thread with a running loop. The
    tests touch the ORM only between page actions, so the guard is lifted for exactly as long as the
    browser lives, and the rest of the suite keeps it.
    """
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed")
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def open_context(browser: Browser) -> Iterator[OpenContext]:
    """Opens fresh contexts (own cookies), each with a page; at the end, checks all stayed on loopback
    and no script failed."""
    opened: list[tuple[BrowserContext, PageWatch]] = []

    def open_(**options: object) -> tuple[BrowserContext, Page, PageWatch]:
        context = browser.new_context(**options)  # type: ignore[arg-type]
        context.set_default_timeout(20_000)
        watch = PageWatch()
        context.route("**/*", loopback_only(watch))
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
def phone(open_context: OpenContext) -> Page:
    return open_context(**PHONE)[1]


@pytest.fixture
def desktop(open_context: OpenContext) -> Page:
    return open_context(**DESKTOP)[1]


@pytest.fixture
def no_tiles(settings) -> None:
    """Point the maps at a tile server that is not there, as in a test or an offline crime center."""
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
