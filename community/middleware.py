"""Monitors and supervisors must pass TOTP two-factor before any page or API call."""

from __future__ import annotations

from collections.abc import Callable

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
