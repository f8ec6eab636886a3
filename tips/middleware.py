"""Anonymity on the tip routes: the client address becomes a coarse daily bucket before any app code sees it."""

from __future__ import annotations

import contextvars
import hashlib
import hmac
import ipaddress
import logging
import re
from collections.abc import Callable
from datetime import UTC, date, datetime

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from community.client_address import client_address

SAFE_METHODS = ("GET", "HEAD", "OPTIONS", "TRACE")
# Where a tipster may be: the citizen pages and the tips API (the police triage pages live elsewhere).
TIP_PATH_PREFIXES = ("/tips/", "/api/tips/")

# Every header a proxy or CDN may use to say who the client is, and the device's own description.
IDENTIFYING_HEADERS = (
    "HTTP_X_FORWARDED_FOR",
    "HTTP_X_REAL_IP",
    "HTTP_FORWARDED",
    "HTTP_CF_CONNECTING_IP",
    "HTTP_TRUE_CLIENT_IP",
    "HTTP_X_CLIENT_IP",
    "HTTP_X_CLUSTER_CLIENT_IP",
    "HTTP_FASTLY_CLIENT_IP",
    "HTTP_USER_AGENT",
)
BLANK_ADDRESS = "0.0.0.0"  # noqa: S104  (a placeholder, never bound)

TIP_CONTENT_SECURITY_POLICY = "default-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

# Set while a tip request is being handled, so the logging filter knows to redact.
in_tip_request: contextvars.ContextVar[bool] = contextvars.ContextVar("in_tip_request", default=False)


def is_tip_path(path: str) -> bool:
    return path.startswith(TIP_PATH_PREFIXES)


# Bits of the keyed hash kept as a client's rate-limit bucket: about a million buckets, so each holds some
# 4,000 IPv4 addresses (and countless IPv6 networks). A flood still lands in one bucket; two tipsters share one
# only by a one-in-a-million chance.
CLIENT_BUCKET_BITS = 20


def _daily_key(*, day: date) -> bytes:
    """Today's key for client buckets, derived from SECRET_KEY and the date: every web process computes the same
    one and none is stored anywhere, so the rate-limit keys in Redis cannot be mapped back to addresses with
    what Redis holds (issue 11, item 14: the key used to sit in the cache beside the keys it made).

    What remains: someone with both a Redis dump and the settings (SECRET_KEY) can compute a bucket for every
    address, but a bucket is 20 bits, so it narrows a tipster down to thousands of addresses, never to one;
    and the counters expire within the hour."""
    label = f"lantern.tips.client-bucket:{day.isoformat()}"
    return hmac.new(settings.SECRET_KEY.encode(), label.encode(), hashlib.sha256).digest()


def _network(address: str) -> str:
    # An IPv6 client usually holds a whole /64 and can change address within it at will: the /64 is the client.
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False).network_address)
    return str(parsed)


def client_key(*, address: str) -> str:
    """A coarse, daily bucket of the client's address (5 hex digits), for the tip routes' rate limits."""
    digest = hmac.new(_daily_key(day=datetime.now(UTC).date()), _network(address).encode(), hashlib.sha256).digest()
    bucket = int.from_bytes(digest[:4], "big") >> (32 - CLIENT_BUCKET_BITS)
    return f"{bucket:0{CLIENT_BUCKET_BITS // 4}x}"


class TipAnonymityMiddleware:
    """First in MIDDLEWARE: on tip routes, keep only a coarse bucket of the address, blank it, the forwarding
    headers and the cookies, refuse cross-site posts, choose the language without a cookie or session, and
    answer with strict privacy headers."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not is_tip_path(request.path_info):
            return self.get_response(request)
        token = in_tip_request.set(True)
        try:
            request.tip_client_key = client_key(address=client_address(request))  # type: ignore[attr-defined]
            for header in IDENTIFYING_HEADERS:
                request.META.pop(header, None)
            request.META["REMOTE_ADDR"] = BLANK_ADDRESS
            # No cookie is read on tip routes: not a session, not a CSRF cookie, nothing that could tie two
            # visits together (a browser sends the site's cookies whatever we set here).
            request.META.pop("HTTP_COOKIE", None)
            language = self._language(request)
            # The tipster's "when" is read in the agency's zone, and the pages say times in it.
            with translation.override(language), timezone.override(settings.AGENCY_TIME_ZONE):
                request.LANGUAGE_CODE = language
                if request.method not in SAFE_METHODS and self._cross_site(request):
                    response: HttpResponse = HttpResponseForbidden(
                        _("Tips can only be sent from this site's own pages or apps."),
                        content_type="text/plain; charset=utf-8",
                    )
                else:
                    response = self.get_response(request)
            self._harden(response, language=language)
            return response
        finally:
            in_tip_request.reset(token)

    @staticmethod
    def _cross_site(request: HttpRequest) -> bool:
        """Whether a browser sent this from another site's page (CSRF without a cookie, issue 11 item 21).

        The tip routes keep no CSRF cookie (it would be a year-long identifier on every tipster's phone), so
        Django's check is off for them (csrf_exempt) and this one stands in: a browser says where a request
        comes from in Sec-Fetch-Site (all current ones) and Origin (every browser on a POST). Our pages send
        `Referrer-Policy: same-origin`, so our own forms carry our real origin, and a page elsewhere can at
        best send `Origin: null`, which is refused too. A request with neither header is not from a browser
        (a citizens' app, curl), and CSRF needs a browser. The API also takes JSON only, which no cross-site
        form can send without a CORS preflight that nothing here answers.
        """
        fetch_site = request.META.get("HTTP_SEC_FETCH_SITE")
        if fetch_site is not None and fetch_site != "same-origin":
            return True
        origin = request.META.get("HTTP_ORIGIN")
        if origin is None:
            return False
        return origin != f"{request.scheme}://{request.get_host()}" and origin not in settings.CSRF_TRUSTED_ORIGINS

    @staticmethod
    def _language(request: HttpRequest) -> str:
        supported = {code for code, _ in settings.LANGUAGES}
        # From the query string only: reading request.POST here would parse uploads before the view.
        chosen = request.GET.get("lang")
        if chosen in supported:
            return str(chosen)
        accepted = translation.get_language_from_request(request)
        return accepted if accepted in supported else settings.LANGUAGE_CODE

    @staticmethod
    def _harden(response: HttpResponse, *, language: str) -> None:
        response["Content-Security-Policy"] = TIP_CONTENT_SECURITY_POLICY
        # Our own pages only: the tip forms' POSTs then carry our real Origin (see _cross_site), and no other
        # site ever learns that someone came from the tip portal.
        response["Referrer-Policy"] = "same-origin"
        response["Cache-Control"] = "no-store"
        response["Content-Language"] = language
        # No cookie at all for citizens (session, messages, language, CSRF), whatever a library below set.
        response.cookies.clear()


_IPV4 = re.compile(r"(?<![\d.])\d{1,3}(?:\.\d{1,3}){3}(?![\d.])")
# Candidates only; ipaddress decides, so times of day ("09:58:12") are left alone.
_IPV6_CANDIDATE = re.compile(r"[0-9A-Fa-f]*:[0-9A-Fa-f:]*")


def _redact_ipv6(match: re.Match[str]) -> str:
    try:
        ipaddress.IPv6Address(match.group(0))
    except ValueError:
        return match.group(0)
    return "[address removed]"


def redact_addresses(text: str) -> str:
    return _IPV6_CANDIDATE.sub(_redact_ipv6, _IPV4.sub("[address removed]", text))


def _about_tips(record: logging.LogRecord, *, message: str) -> bool:
    request = getattr(record, "request", None)
    path = getattr(request, "path_info", None)
    if in_tip_request.get() or (isinstance(path, str) and is_tip_path(path)):
        return True
    return any(prefix in message for prefix in TIP_PATH_PREFIXES)


def _message(record: logging.LogRecord) -> str | None:
    try:
        return record.getMessage()
    except Exception:  # a broken format string is the logger's problem, not a reason to drop the line
        return None


class TipAddressFilter(logging.Filter):
    """Redacts addresses from log records about tip routes: access logs written by the server before any
    middleware (uvicorn, runserver) and anything logged while a tip request is handled."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = _message(record)
        if message is None or not _about_tips(record, message=message):
            return True
        record.msg = redact_addresses(message)
        record.args = None
        if getattr(record, "request", None) is not None:
            record.request = None
        return True


class TipRoutesExcluded(logging.Filter):
    """Keeps error reports (the admins' e-mail, with the whole request in it) off the tip routes."""

    def filter(self, record: logging.LogRecord) -> bool:
        # A line whose format is broken is still judged by its request and the context it was logged in.
        return not _about_tips(record, message=_message(record) or "")
