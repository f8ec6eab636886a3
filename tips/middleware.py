"""Anonymity on the tip routes: the client address is replaced by a daily HMAC before any app code sees it."""

from __future__ import annotations

import contextvars
import hashlib
import hmac
import ipaddress
import logging
import re
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.utils import timezone, translation

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


def _daily_key() -> bytes:
    """Today's random HMAC key, held only in the cache and gone at midnight (UTC), so yesterday's keys
    cannot be recomputed by anyone who later reads the database or the cache."""
    now = datetime.now(UTC)
    name = f"tips:client-key:{now.date().isoformat()}"
    midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    ttl = max(int((midnight - now).total_seconds()), 1)
    key = cache.get(name)  # one round trip on every request but the day's first
    if key is None:
        # add() is a no-op when another process made today's key first; everyone then reads the same one.
        cache.add(name, secrets.token_hex(32), timeout=ttl)
        key = cache.get(name)
    if key is None:  # evicted between add and get: a new key only resets the rate limit early
        key = secrets.token_hex(32)
        cache.set(name, key, timeout=ttl)
    return bytes.fromhex(key)


def client_key(*, address: str) -> str:
    return hmac.new(_daily_key(), address.encode(), hashlib.sha256).hexdigest()


def _real_address(request: HttpRequest) -> str:
    if getattr(settings, "TIP_TRUST_X_FORWARDED_FOR", False):
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded:
            return forwarded.split(",")[0].strip()
    return str(request.META.get("REMOTE_ADDR", ""))


class TipAnonymityMiddleware:
    """First in MIDDLEWARE: on tip routes, keep only an HMAC of the address, blank it and the forwarding
    headers, choose the language without a cookie or session, and answer with strict privacy headers."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not is_tip_path(request.path_info):
            return self.get_response(request)
        token = in_tip_request.set(True)
        try:
            request.tip_client_key = client_key(address=_real_address(request))  # type: ignore[attr-defined]
            for header in IDENTIFYING_HEADERS:
                request.META.pop(header, None)
            request.META["REMOTE_ADDR"] = BLANK_ADDRESS
            self._trust_same_origin_post(request)
            language = self._language(request)
            # The tipster's "when" is read in the agency's zone, and the pages say times in it.
            with translation.override(language), timezone.override(settings.AGENCY_TIME_ZONE):
                request.LANGUAGE_CODE = language
                response = self.get_response(request)
            self._harden(response, language=language)
            return response
        finally:
            in_tip_request.reset(token)

    @staticmethod
    def _trust_same_origin_post(request: HttpRequest) -> None:
        # With `Referrer-Policy: no-referrer` browsers send `Origin: null` on the tip form's own POST and no
        # Referer, which Django's CSRF check refuses. The token check still stands, and the CSRF cookie is
        # SameSite=Strict, so a cross-site page cannot supply it; the browser's Sec-Fetch-Site says whether
        # the POST came from our own page.
        if request.META.get("HTTP_ORIGIN") == "null" and request.META.get("HTTP_SEC_FETCH_SITE") in (
            None,
            "same-origin",
        ):
            request.META["HTTP_ORIGIN"] = f"{request.scheme}://{request.get_host()}"

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
        response["Referrer-Policy"] = "no-referrer"
        response["Cache-Control"] = "no-store"
        response["Content-Language"] = language
        # No session or tracking cookie for citizens, whatever a library below may have set.
        for name in (settings.SESSION_COOKIE_NAME, "messages", settings.LANGUAGE_COOKIE_NAME):
            if name in response.cookies:
                del response.cookies[name]
        if settings.CSRF_COOKIE_NAME in response.cookies:
            response.cookies[settings.CSRF_COOKIE_NAME]["samesite"] = "Strict"


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
