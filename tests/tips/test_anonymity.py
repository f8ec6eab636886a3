"""No client address reaches the database or the logs from the tip routes, and each tip route answers with
the privacy headers and no session or tracking cookie."""

from __future__ import annotations

import io
import logging
import re
from datetime import UTC, datetime, timedelta

import pytest
from axes.models import AccessAttempt, AccessLog
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.http import HttpRequest, HttpResponse
from django.test import Client, RequestFactory
from PIL import Image

from community.models import AuditEvent
from tips.middleware import TipAddressFilter, TipAnonymityMiddleware, _daily_key, client_key
from tips.models import Tip

pytestmark = pytest.mark.django_db

CLIENT_ADDRESS = "203.0.113.77"
FORWARDED_ADDRESS = "198.51.100.23"
IPV6_ADDRESS = "2001:db8:77::23"


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    cache.clear()


def _png() -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 24), (200, 30, 30)).save(buffer, "PNG")
    return SimpleUploadedFile("me.png", buffer.getvalue(), content_type="image/png")


def _identifying_client() -> Client:
    return Client(
        REMOTE_ADDR=CLIENT_ADDRESS,
        headers={
            "x-forwarded-for": f"{FORWARDED_ADDRESS}, {CLIENT_ADDRESS}",
            "x-real-ip": FORWARDED_ADDRESS,
            "forwarded": f"for={FORWARDED_ADDRESS};proto=https",
            "cf-connecting-ip": IPV6_ADDRESS,
            "user-agent": "Mozilla/5.0 (Distinctive Phone 77)",
        },
    )


def _receipt(response: HttpResponse) -> tuple[str, str]:
    page = response.content.decode()
    number = re.search(r'id="tip-number">([^<]+)<', page)
    codename = re.search(r'id="tip-codename">([^<]+)<', page)
    assert number and codename, page
    return number.group(1), codename.group(1)


def test_no_address_reaches_the_database_or_the_logs(caplog, settings, django_capture_on_commit_callbacks) -> None:
    settings.TRUSTED_PROXY_COUNT = 1
    caplog.set_level(logging.DEBUG)
    client = _identifying_client()
    # The attachment is scrubbed once the tip is committed (eager Celery in tests), so its logs are captured too.
    with django_capture_on_commit_callbacks(execute=True):
        filed = client.post(
            "/tips/",
            {
                "category": "vandalism",
                "description": "Graffiti on the bus shelter.",
                "place_text": "Bus shelter on 5th",
                "latitude": "42.331427",
                "longitude": "-83.045754",
                "coarsen": "on",
                "attachments": [_png()],
            },
        )
    assert filed.status_code == 201
    assert Tip.objects.get().attachments.get().state == "ready"
    number, codename = _receipt(filed)
    client.post("/tips/", {"category": "other", "description": "x" * 5001})  # refused, logged as a 400
    client.post("/tips/follow-up/", {"number": number, "codename": "wrong words entirely"})  # 404, logged
    client.post("/tips/follow-up/", {"number": number, "codename": codename})
    client.post("/tips/follow-up/reply/", {"number": number, "codename": codename, "body": "More details."})
    client.get("/tips/no-such-page/")
    api_receipt = client.post(
        "/api/tips/", {"category": "other", "description": "By the app."}, content_type="application/json"
    )
    assert api_receipt.status_code == 201
    client.post(
        "/api/tips/thread/",
        {"number": api_receipt.json()["number"], "codename": "wrong"},
        content_type="application/json",
    )
    assert Tip.objects.filter(number=number, messages__body="More details.").exists()

    dump = io.StringIO()
    call_command("dumpdata", stdout=dump)
    everything = dump.getvalue() + caplog.text
    for address in (CLIENT_ADDRESS, FORWARDED_ADDRESS, IPV6_ADDRESS, "Distinctive Phone 77"):
        assert address not in everything
    assert '"model": "tips.tip"' in dump.getvalue()  # the dump did see the tips
    # django-axes saw no login on these routes and so recorded nothing; the audit trail holds no tipster.
    assert not AccessAttempt.objects.exists() and not AccessLog.objects.exists()
    assert not AuditEvent.objects.filter(details__icontains=CLIENT_ADDRESS).exists()


def test_the_app_sees_only_a_blank_address_and_a_coarse_bucket() -> None:
    seen: dict[str, object] = {}

    def view(request: HttpRequest) -> HttpResponse:
        seen.update(request.META)
        seen["key"] = request.tip_client_key  # type: ignore[attr-defined]
        return HttpResponse("ok")

    middleware = TipAnonymityMiddleware(view)
    request = RequestFactory().get("/tips/", REMOTE_ADDR=CLIENT_ADDRESS, headers={"x-forwarded-for": FORWARDED_ADDRESS})
    middleware(request)
    assert seen["REMOTE_ADDR"] == "0.0.0.0"
    assert "HTTP_X_FORWARDED_FOR" not in seen
    key = str(seen["key"])
    assert re.fullmatch(r"[0-9a-f]{5}", key)  # 20 bits: thousands of addresses share each bucket
    # Same address, same key (today); another address, (almost always) another key.
    middleware(RequestFactory().get("/tips/", REMOTE_ADDR=CLIENT_ADDRESS))
    assert seen["key"] == key
    middleware(RequestFactory().get("/tips/", REMOTE_ADDR="192.0.2.1"))
    assert seen["key"] != key


def test_the_bucket_key_changes_with_the_day_and_the_secret_key(settings) -> None:
    today = datetime.now(UTC).date()
    first = _daily_key(day=today)
    assert _daily_key(day=today) == first  # every web process computes the same key, none stores it
    assert _daily_key(day=today + timedelta(days=1)) != first
    settings.SECRET_KEY = "another installation"
    assert _daily_key(day=today) != first


def test_an_ipv6_client_is_its_whole_network() -> None:
    # Changing the address inside one's /64 does not give a fresh rate-limit budget.
    assert client_key(address="2001:db8:77:1::23") == client_key(address="2001:db8:77:1:ffff::1")


def test_other_routes_keep_their_address() -> None:
    seen: dict[str, object] = {}

    def view(request: HttpRequest) -> HttpResponse:
        seen.update(request.META)
        return HttpResponse("ok")

    TipAnonymityMiddleware(view)(RequestFactory().get("/police/tips/", REMOTE_ADDR=CLIENT_ADDRESS))
    assert seen["REMOTE_ADDR"] == CLIENT_ADDRESS


@pytest.mark.parametrize(
    "message",
    [
        f'{CLIENT_ADDRESS}:51234 - "POST /tips/ HTTP/1.1" 201',
        f'[{IPV6_ADDRESS}]:51234 - "GET /tips/follow-up/ HTTP/1.1" 200',
        f'"GET /api/tips/ HTTP/1.1" 200 from {FORWARDED_ADDRESS}',
    ],
)
def test_the_logging_filter_redacts_server_access_lines_about_tips(message: str) -> None:
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, "%s", (message,), None)
    assert TipAddressFilter().filter(record)
    text = record.getMessage()
    assert CLIENT_ADDRESS not in text and IPV6_ADDRESS not in text and FORWARDED_ADDRESS not in text
    assert "[address removed]" in text


def test_the_logging_filter_leaves_other_lines_alone() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "login from %s at 09:58:12", (CLIENT_ADDRESS,), None)
    assert TipAddressFilter().filter(record)
    assert record.getMessage() == f"login from {CLIENT_ADDRESS} at 09:58:12"


def test_the_console_handler_carries_the_filter(settings) -> None:
    assert "tip_addresses" in settings.LOGGING["handlers"]["console"]["filters"]
    assert settings.MIDDLEWARE[0] == "tips.middleware.TipAnonymityMiddleware"


@pytest.mark.parametrize("logger_name", ["uvicorn.access", "django.server"])
def test_the_servers_access_lines_go_through_the_filter(logger_name: str) -> None:
    handlers = logging.getLogger(logger_name).handlers
    assert handlers and not logging.getLogger(logger_name).propagate
    args = (f"{CLIENT_ADDRESS}:5", "POST", "/tips/", "1.1", 201)
    record = logging.LogRecord(logger_name, logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d', args, None)
    for handler in handlers:
        assert handler.filter(record)
    assert CLIENT_ADDRESS not in record.getMessage()


@pytest.mark.django_db
def test_a_failing_tip_page_sends_no_error_report_but_other_pages_do(settings, monkeypatch) -> None:
    from django.core import mail

    import community.selectors
    import tips.views

    settings.ADMINS = [("Admin", "admin@example.org")]

    def broken(**kwargs: object) -> None:
        raise RuntimeError("the database went away")

    client = Client(raise_request_exception=False, REMOTE_ADDR=CLIENT_ADDRESS)
    monkeypatch.setattr(tips.views, "tip_create", broken)
    failed = client.post("/tips/", {"category": "theft", "description": "Bikes."})
    assert failed.status_code == 500
    assert mail.outbox == []  # the report would carry the whole request: none leaves for a tip route

    monkeypatch.setattr(community.selectors, "transparency_report", broken)
    assert client.get("/transparency/").status_code == 500
    assert len(mail.outbox) == 1 and "/transparency/" in mail.outbox[0].subject


def test_every_handler_carries_the_address_filter(settings) -> None:
    for name, handler in settings.LOGGING["handlers"].items():
        assert "tip_addresses" in handler["filters"], name
    assert "tip_routes_excluded" in settings.LOGGING["handlers"]["mail_admins"]["filters"]
    for handler in logging.getLogger("django").handlers:
        assert any(type(f).__name__ == "TipAddressFilter" for f in handler.filters)
