"""Role checks for pages: a role without a row in DESIGN.md's matrix gets 403 for the whole page."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from community.models import User


class AuthedRequest(HttpRequest):
    """The request a view gets behind `login_required` or `role_required`: its user is never anonymous."""

    user: User  # type: ignore[assignment]


View = Callable[..., HttpResponse]


def role_required(*roles: str) -> Callable[[View], View]:
    """Anonymous visitors go to the login page; signed-in people of another role get 403."""

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if getattr(request.user, "role", None) not in roles:
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return login_required(wrapped)

    return decorate


owner_required = role_required("owner")
police_required = role_required("monitor", "supervisor")
supervisor_required = role_required("supervisor")
