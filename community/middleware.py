"""Monitors and supervisors must pass TOTP two-factor before any page or API call; pages carry a CSP."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse

# Paths a police officer can reach before the second factor: the 2FA pages themselves, logout,
# and static files.
_EXEMPT_PREFIXES = ("/account/2fa/", "/account/logout/", "/static/", "/invitations/")


class StaffTwoFactorMiddleware:
    """Session logins of police officers go to the 2FA pages until verified.

    Bearer-token API calls never reach this check as a logged-in user: DRF authenticates them in
    the view, and tokens are only issued after the second factor (community/api.py).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        # is_verified() is added to the user by django-otp's OTPMiddleware.
        if (
            user.is_authenticated
            and getattr(user, "is_police", False)
            and not user.is_verified()  # type: ignore[union-attr,attr-defined]
            and not request.path.startswith(_EXEMPT_PREFIXES)
        ):
            if request.path.startswith("/api/"):
                return JsonResponse({"detail": "Two-factor verification required."}, status=403)
            return redirect(f"{reverse('community:otp_verify')}?next={request.get_full_path()}")
        return self.get_response(request)


def _origin(url: str) -> str:
    """`https://{s}.tile.example/{z}/{x}/{y}.png` -> `https://*.tile.example`; "" for a relative or empty URL."""
    parts = urlsplit(url.replace("{s}", "*"))
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def content_security_policy() -> str:
    """The policy for every page but the tip portal's (tips/middleware.py sets a stricter one of its own).

    Scripts and styles only from our own files, never inline, so an injected tag runs nothing. Beyond
    ourselves: map tiles (LANTERN_MAP_TILE_URL) as images, and the object store's public endpoint, from which
    playback fetches segments and pages show snapshots by presigned URL. WebSockets to this host are 'self'.
    """
    tiles = _origin(settings.MAP_TILE_URL)
    storage: dict[str, Any] = settings.STORAGES["default"]  # type: ignore[assignment]
    store = _origin(getattr(settings, "S3_PUBLIC_ENDPOINT_URL", "") or "") or _origin(
        str(storage.get("OPTIONS", {}).get("endpoint_url") or "")
    )
    extra_connect = " ".join(_origin(url) for url in getattr(settings, "CSP_CONNECT_SRC", []) if _origin(url))

    def sources(*names: str) -> str:
        return " ".join(name for name in names if name)

    directives = {
        "default-src": "'self'",
        "script-src": "'self'",
        "style-src": "'self'",
        "img-src": sources("'self'", "data:", "blob:", tiles, store),
        "media-src": sources("'self'", "blob:", store),
        "connect-src": sources("'self'", store, extra_connect),
        "font-src": "'self'",
        "object-src": "'none'",
        "base-uri": "'self'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
    }
    return "; ".join(f"{name} {value}" for name, value in directives.items())


class ContentSecurityPolicyMiddleware:
    """Adds the Content-Security-Policy to responses that have none (the tip routes bring their own)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if "Content-Security-Policy" not in response:
            # Built per response, not once at start: tests change these settings while the process runs.
            response["Content-Security-Policy"] = content_security_policy()
        return response
