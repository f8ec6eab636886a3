"""The police map at scale: the map API's payload, time to the first clustered render, and frame times while
panning and zooming, for 1,000 and 10,000 cameras, measured in headless Chromium against uvicorn.

    .venv/bin/python bench/map_clustering.py [--sizes 1000,10000] [--runs 3]

Everything runs on 127.0.0.1: a scratch SQLite database (migrated with manage.py) under a temporary
LANTERN_DATA_DIR, `uvicorn config.asgi:application` on a free loopback port with LANTERN_DEBUG off (as
deployed), and Debian's Chromium driven by Playwright. A monitor logs in through the real login form and
two-factor page. The map's tile server points at a closed loopback port, so tiles fail at once and the
figures are the map's own work. It prints readable figures and, as the last line, one JSON object.
Benchmarks print; they never pass or fail on time.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
VIEWPORT = {"width": 1920, "height": 1080}  # a crime-center screen
MONITOR_EMAIL = "bench-monitor@police.example"
PASSWORD = "correct horse battery staple"  # noqa: S105 - a throwaway account in a scratch database
PER_BUSINESS = 100
UVICORN_OPTIONS = ["--host", "127.0.0.1", "--log-level", "warning", "--no-access-log"]

# Installed before any page script: keeps a handle on each Leaflet map (Leaflet publishes itself by
# assigning window.L), and notes when the first cluster icon reaches the DOM.
INSTRUMENT = """(() => {
  let leaflet;
  Object.defineProperty(window, "L", {
    configurable: true,
    get() { return leaflet; },
    set(value) {
      leaflet = value;
      if (value && value.Map && !value.Map.__captured) {
        value.Map.__captured = true;
        value.Map.addInitHook(function () { window.__map = this; });
      }
    },
  });
  window.__bench = { firstCluster: null };
  new MutationObserver((records, observer) => {
    for (const record of records) {
      for (const node of record.addedNodes) {
        if (node.nodeType === 1 && node.classList.contains("marker-cluster")) {
          window.__bench.firstCluster = performance.now();
          observer.disconnect();
          return;
        }
      }
    }
  }).observe(document, { childList: true, subtree: true });
})();"""
# Records requestAnimationFrame intervals until stopped.
FRAMES_START = """() => {
  const frames = window.__frames = [];
  let last = null;
  window.__recording = true;
  const tick = t => {
    if (last !== null) frames.push(t - last);
    last = t;
    if (window.__recording) requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
}"""
FRAMES_STOP = "() => { window.__recording = false; return window.__frames; }"
EXPECT_ZOOMEND = """() => {
  window.__zoomed = false;
  window.__map.once("zoomend", () => { window.__zoomed = true; });
}"""
SETTLED = """() => window.__zoomed
  && !document.querySelector("#camera-map .leaflet-zoom-anim, #camera-map .leaflet-cluster-anim")"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def environment(data_dir: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        # The bench brings its own database, broker and storage, whatever the shell has configured.
        if not key.startswith("LANTERN_") and key != "DJANGO_SETTINGS_MODULE"
    }
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        LANTERN_DATA_DIR=str(data_dir),
        LANTERN_DEBUG="false",
        LANTERN_SECRET_KEY="bench-only-" + "x" * 40,
        LANTERN_ALLOWED_HOSTS="127.0.0.1",
        LANTERN_SSL_REDIRECT="false",
        LANTERN_HSTS_SECONDS="0",
        LANTERN_FAST_PASSWORD_HASHER="true",  # noqa: S106 - a setting's name, not a password
        LANTERN_CELERY_EAGER="true",
        LANTERN_MAP_TILE_URL="http://127.0.0.1:9/{z}/{x}/{y}.png",
        LANTERN_LOG_LEVEL="WARNING",
    )
    return env


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)


def monitor_create() -> bytes:
    """The monitor and a confirmed TOTP device; returns the device's key for computing codes."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from community.models import Agency, User

    agency = Agency.objects.create(name="Bench Police Department")
    monitor = User.objects.create_user(
        email=MONITOR_EMAIL, password=PASSWORD, full_name="Bench Monitor", role=User.Role.MONITOR, agency=agency
    )
    return bytes(TOTPDevice.objects.create(user=monitor, name="Authenticator app", confirmed=True).bin_key)


def cameras_add(*, total: int, seed: int = 7) -> float:
    """Adds verified partners with live-always terms until `total` cameras are spread over Detroit; returns seconds."""
    from django.utils import timezone

    from cameras.models import Camera
    from community.models import Business, SharingAgreement, Site, User

    started = time.perf_counter()
    have = Camera.objects.count()
    if have >= total:
        return 0.0
    rng = random.Random(seed + have)
    owner, _ = User.objects.get_or_create(
        email="bench-owner@example.com", defaults={"full_name": "Bench Owner", "role": User.Role.OWNER}
    )
    now = timezone.now()
    first, last = have // PER_BUSINESS, -(-total // PER_BUSINESS)
    names = [f"Partner {n:05d}" for n in range(first, last)]
    existing = set(Business.objects.filter(owner=owner, name__in=names).values_list("name", flat=True))
    new = Business.objects.bulk_create(
        Business(
            owner=owner,
            name=f"Partner {n:05d}",
            contact_name="Owner",
            contact_email=f"partner{n}@example.com",
            state=Business.State.VERIFIED,
            verified_at=now,
        )
        for n in range(first, last)
        if f"Partner {n:05d}" not in existing
    )
    SharingAgreement.objects.bulk_create(
        SharingAgreement(
            business=business,
            name="Live always",
            mode=SharingAgreement.Mode.ALWAYS,
            state=SharingAgreement.State.ACTIVE,
            terms_version="2026-11",
            terms_accepted_at=now,
            terms_accepted_by=owner,
        )
        for business in new
    )
    by_number = {
        int(a.business.name.split()[-1]): a
        for a in SharingAgreement.objects.select_related("business").filter(business__owner=owner)
    }
    sites = Site.objects.bulk_create(
        Site(
            business=by_number[n // PER_BUSINESS].business,
            name=f"Site {n:05d}",
            address=f"{n} Woodward Ave, Detroit, MI",
            latitude=Decimal(f"{rng.uniform(42.26, 42.45):.6f}"),
            longitude=Decimal(f"{rng.uniform(-83.28, -82.92):.6f}"),
        )
        for n in range(have, total)
    )
    healths = [Camera.Health.ONLINE] * 8 + [Camera.Health.OFFLINE, Camera.Health.ERROR]
    Camera.objects.bulk_create(
        Camera(
            business=site.business,
            site=site,
            name=f"Camera {n:05d}",
            agreement=by_number[n // PER_BUSINESS],
            health=rng.choice(healths),
        )
        for n, site in zip(range(have, total), sites, strict=True)
    )
    return time.perf_counter() - started


def server_start(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    """uvicorn in a subprocess, its output in `log` so that the figures stay readable."""
    with log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "config.asgi:application", *UVICORN_OPTIONS, "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/account/login/", timeout=2) as response:
                if response.status == 200:
                    return server
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.2)
    server.terminate()
    raise RuntimeError(f"uvicorn did not answer within 30 s:\n{log.read_text()}")


def log_in(page: Any, base: str, key: bytes) -> None:
    from django_otp.oath import totp

    page.goto(f"{base}/account/login/")
    page.fill("#id_username", MONITOR_EMAIL)
    page.fill("#id_password", PASSWORD)
    page.locator("button.primary").click()
    page.wait_for_url("**/account/2fa/verify/**")
    page.fill("#id_token", f"{totp(key):06d}")
    page.locator("button.primary").click()
    page.wait_for_url("**/police/map/")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))] if ordered else float("nan")


def first_render(page: Any, base: str, size: int) -> dict[str, float]:
    """One fresh load of the map page: when the data arrived and when the first clusters were drawn."""
    page.goto(f"{base}/police/map/")
    page.wait_for_function("() => window.__bench.firstCluster !== null", timeout=120_000)
    page.wait_for_function(
        "n => document.getElementById('map-count').textContent.startsWith(n + ' of ' + n)", arg=size, timeout=120_000
    )
    api = page.evaluate(
        "performance.getEntriesByType('resource').filter(e => e.name.includes('/api/cameras/map/'))"
        ".map(e => ({start: e.startTime, end: e.responseEnd}))[0]"
    )
    first = page.evaluate("window.__bench.firstCluster")
    return {"data_ms": api["end"], "fetch_ms": api["end"] - api["start"], "first_render_ms": first}


def zoom_by(page: Any, action: Any) -> None:
    page.evaluate(EXPECT_ZOOMEND)
    action()
    page.wait_for_function(SETTLED, timeout=60_000)


def pan_and_zoom(page: Any) -> dict[str, list[float]]:
    """A scripted session: drags across the city at the fitted zoom and two levels in, and zooms in and out."""
    box = page.locator("#camera-map").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    drags = [(400, 0), (0, 300), (-400, 0), (0, -300), (300, 250), (-300, -250)]

    def pan() -> list[float]:
        page.evaluate(FRAMES_START)
        for dx, dy in drags:
            page.mouse.move(cx, cy)
            page.mouse.down()
            page.mouse.move(cx + dx, cy + dy, steps=30)
            page.mouse.up()
        page.wait_for_timeout(400)  # Leaflet's inertia runs on after the last drag
        return page.evaluate(FRAMES_STOP)

    frames: dict[str, list[float]] = {"pan": [], "zoom": []}
    frames["pan"] += pan()
    page.evaluate(FRAMES_START)
    for _ in range(2):
        zoom_by(page, lambda: page.locator(".leaflet-control-zoom-in").click())
    frames["zoom"] += page.evaluate(FRAMES_STOP)
    frames["pan"] += pan()
    page.evaluate(FRAMES_START)
    for _ in range(2):
        page.mouse.move(cx, cy)
        zoom_by(page, lambda: page.mouse.wheel(0, 60))
    zoom_by(page, lambda: page.mouse.wheel(0, 60))  # past the fitted view, the whole city in one cluster or a few
    zoom_by(page, lambda: page.locator(".leaflet-control-zoom-in").click())
    frames["zoom"] += page.evaluate(FRAMES_STOP)
    return frames


def measure(page: Any, base: str, size: int, runs: int) -> dict[str, float]:
    body = page.request.get(f"{base}/api/cameras/map/").body()
    rows = json.loads(body)["cameras"]
    assert len(rows) == size, f"the map API returned {len(rows)} cameras, not {size}"
    loads = [first_render(page, base, size) for _ in range(runs)]
    page.wait_for_timeout(500)
    frames = pan_and_zoom(page)
    figures = {
        "payload_kb": round(len(body) / 1024, 1),
        "payload_gzip_kb": round(len(gzip.compress(body)) / 1024, 1),
        "fetch_ms": round(statistics.median(load["fetch_ms"] for load in loads), 1),
        "data_ms": round(statistics.median(load["data_ms"] for load in loads), 1),
        "first_render_ms": round(statistics.median(load["first_render_ms"] for load in loads), 1),
    }
    for kind, values in frames.items():
        figures[f"{kind}_frames"] = len(values)
        figures[f"{kind}_frame_p50_ms"] = round(percentile(values, 0.50), 1)
        figures[f"{kind}_frame_p95_ms"] = round(percentile(values, 0.95), 1)
        figures[f"{kind}_frame_max_ms"] = round(max(values), 1)
        figures[f"{kind}_frames_over_50ms"] = sum(1 for value in values if value > 50)
    return figures


def report(f: dict[str, float], *, runs: int) -> None:
    print(f"  map API payload         {f['payload_kb']:>7.1f} KB  ({f['payload_gzip_kb']:.1f} KB if gzipped)")
    print(f"  API fetch               {f['fetch_ms']:>7.1f} ms  (data in hand {f['data_ms']:.0f} ms after navigation)")
    print(f"  first clustered render  {f['first_render_ms']:>7.1f} ms after navigation (median of {runs} loads)")
    for kind in ("pan", "zoom"):
        print(
            f"  {kind:<4} frames  p50 {f[f'{kind}_frame_p50_ms']:>5.1f} ms  p95 {f[f'{kind}_frame_p95_ms']:>5.1f} ms  "
            f"max {f[f'{kind}_frame_max_ms']:>5.1f} ms  ({f[f'{kind}_frames_over_50ms']:.0f} of "
            f"{f[f'{kind}_frames']:.0f} frames over 50 ms)"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000", help="camera counts, ascending (default 1000,10000)")
    parser.add_argument("--runs", type=int, default=3, help="page loads per size for the render time (median)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch data folder")
    args = parser.parse_args()
    sizes = sorted(int(size) for size in args.sizes.split(","))

    data_dir = Path(tempfile.mkdtemp(prefix="lantern-bench-map-"))
    env = environment(data_dir)
    os.environ.update(env)
    # Playwright's sync API runs an asyncio loop in this thread; the ORM calls here never overlap a page action.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    sys.path.insert(0, str(ROOT))
    server = None
    try:
        manage(env, "migrate", "--noinput")
        manage(env, "collectstatic", "--noinput")
        import django

        django.setup()
        key = monitor_create()
        port = free_port()
        server = server_start(env, port, data_dir / "uvicorn.log")
        base = f"http://127.0.0.1:{port}"

        from playwright.sync_api import sync_playwright

        # The same Chromium and flags as the browser tests (loopback only, no background traffic).
        from tests.browser.browsing import CHROMIUM, CHROMIUM_ARGS

        results: dict[str, Any] = {}
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            context = browser.new_context(viewport=VIEWPORT)
            context.add_init_script(INSTRUMENT)
            page = context.new_page()
            print(f"Chromium {browser.version}, viewport {VIEWPORT['width']}×{VIEWPORT['height']}, uvicorn on {base}")
            log_in(page, base, key)
            for size in sizes:
                seconds = cameras_add(total=size)
                print(f"\n{size:,} cameras (created in {seconds:.1f} s)")
                figures = measure(page, base, size, args.runs)
                report(figures, runs=args.runs)
                results.update({f"map_{size}_{name}": value for name, value in figures.items()})
            browser.close()
        print(json.dumps(results, sort_keys=True))
        return 0
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=10)
        if not args.keep:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
