"""A database that stays locked past its busy timeout (the embedded SQLite under load) answers 503, never 500."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

from django.core.signals import got_request_exception
from django.db import OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse

logger = logging.getLogger(__name__)

RETRY_AFTER_S = 5
BUSY_MESSAGE = "Lantern is busy saving other changes. Nothing you sent was saved; please try again in a few seconds."
_BUSY_FLAG = "_lantern_database_busy"


def database_is_busy(error: BaseException | None) -> bool:
    """SQLite's words for a lock it waited for in vain; other database errors stay errors."""
    if not isinstance(error, OperationalError):
        return False
    text = str(error).lower()
    return "database is locked" in text or "database table is locked" in text


def database_busy_response(request: HttpRequest) -> HttpResponse:
    response: HttpResponse
    if request.path.startswith("/api/") or "application/json" in request.headers.get("Accept", ""):
        response = JsonResponse({"detail": BUSY_MESSAGE}, status=503)
    else:
        response = HttpResponse(
            f"<!doctype html><title>Busy</title><h1>Busy, try again</h1><p>{BUSY_MESSAGE}</p>",
            status=503,
            content_type="text/html; charset=utf-8",
        )
    response["Retry-After"] = str(RETRY_AFTER_S)
    return response


def _note_busy_database(sender: Any, request: HttpRequest | None = None, **kwargs: Any) -> None:
    # Django turns an exception raised in another middleware (the session's save, for one) into a 500 before
    # any outer middleware sees it; this signal is the one place that still has the exception.
    if request is not None and database_is_busy(sys.exc_info()[1]):
        setattr(request, _BUSY_FLAG, True)


got_request_exception.connect(_note_busy_database, dispatch_uid="lantern-database-busy")


class DatabaseBusyMiddleware:
    """Outside the session and auth middleware, so their writes are covered too."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if getattr(request, _BUSY_FLAG, False):
            return database_busy_response(request)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not database_is_busy(exception):
            return None
        logger.warning("database busy on %s %s: answered 503", request.method, request.path)
        return database_busy_response(request)
