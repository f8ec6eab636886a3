"""Sign-in lockouts (django-axes): one counter per e-mail in any case, when a lockout ends, tries left, clearing it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from axes.helpers import get_cool_off, get_failure_limit
from axes.models import AccessAttempt
from axes.utils import reset as axes_reset
from django.conf import settings
from django.db.models import Max
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone

from community.models import User
from community.services import audit_record


def lockout_username(request: HttpRequest | None, credentials: dict[str, Any] | None = None) -> str:
    """The counter's name for a sign-in: the e-mail as the login matches it (AXES_USERNAME_CALLABLE).

    Logins match e-mails case-insensitively (UserManager.get_by_natural_key), so the counter must too,
    or `Alice@Example.com` would get fresh guesses at alice's password.
    """
    value = (credentials or {}).get(settings.AXES_USERNAME_FORM_FIELD)
    if value is None and request is not None:
        value = getattr(request, "data", request.POST).get(settings.AXES_USERNAME_FORM_FIELD)
    return str(value or "").strip().lower()


def _cool_off(request: HttpRequest | None) -> timedelta:
    return get_cool_off(request) or timedelta(0)


def _minutes(delta: timedelta) -> int:
    return max(1, -(-int(delta.total_seconds()) // 60))


def lockout_ends_at(*, request: HttpRequest, username: str) -> datetime:
    """When sign-in for this e-mail from this client opens again: one cool-off after the last counted failure.

    Attempts refused during a lockout are not counted (AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT is
    off), so the end does not move however often the form is sent meanwhile.
    """
    last = AccessAttempt.objects.filter(
        username=username, ip_address=getattr(request, "axes_ip_address", None)
    ).aggregate(last=Max("attempt_time"))["last"]
    return (last or timezone.now()) + _cool_off(request)


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: dict[str, Any] | None = None
) -> HttpResponse:
    """The page (or JSON, for scripts) shown while locked out: when to retry, and the way out by password reset."""
    username = lockout_username(request, credentials)
    ends_at = lockout_ends_at(request=request, username=username)
    local = timezone.localtime(ends_at, ZoneInfo(settings.AGENCY_TIME_ZONE))
    context = {
        "retry_at": f"{local:%H:%M} {local.tzname()}",
        "retry_at_iso": ends_at.isoformat(),
        "retry_minutes": _minutes(ends_at - timezone.now()),
    }
    status = int(getattr(settings, "AXES_HTTP_RESPONSE_CODE", 429))
    if request.META.get("HTTP_X_REQUESTED_WITH") == "XMLHttpRequest":
        return JsonResponse({"detail": "Too many failed logins.", "retry_at": context["retry_at_iso"]}, status=status)
    response = render(request, "community/locked_out.html", context, status=status)
    response["Retry-After"] = str(max(1, int((ends_at - timezone.now()).total_seconds())))
    return response


def lockout_tries_left(*, request: HttpRequest) -> int | None:
    """Failed sign-ins left before the lockout, after a failure axes has just counted; None when it counted none."""
    failures = getattr(request, "axes_failures_since_start", None)
    if failures is None:
        return None
    return max(0, get_failure_limit(request, None) - int(failures))


def lockout_cool_off_minutes(*, request: HttpRequest | None = None) -> int:
    return _minutes(_cool_off(request))


def lockout_clear(*, user: User, reason: str) -> int:
    """Forget every failed sign-in for this user, from any client: they proved they hold the mailbox."""
    cleared = axes_reset(username=user.email.strip().lower())
    if cleared:
        audit_record(actor=user, action="auth.lockout_cleared", target=user, details={"reason": reason})
    return cleared
