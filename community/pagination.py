"""The API's paging: ?limit= and ?offset= as numbers within bounds, or a clear 400 (never a database error)."""

from __future__ import annotations

from rest_framework import pagination
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request

MAX_LIMIT = 500
# PostgreSQL's OFFSET is a bigint; far below that, no list has this many rows to skip.
MAX_OFFSET = 10**9


class LimitOffsetPagination(pagination.LimitOffsetPagination):
    max_limit = MAX_LIMIT

    def get_limit(self, request: Request) -> int | None:
        raw = request.query_params.get(self.limit_query_param)
        if raw is None or raw == "":
            return self.default_limit
        # A larger limit is clamped (a client asking for "everything" gets the most we give, and the `next` link).
        return min(_whole_number(name=self.limit_query_param, raw=raw, minimum=1), MAX_LIMIT)

    def get_offset(self, request: Request) -> int:
        raw = request.query_params.get(self.offset_query_param)
        if raw is None or raw == "":
            return 0
        offset = _whole_number(name=self.offset_query_param, raw=raw, minimum=0)
        if offset > MAX_OFFSET:
            raise ValidationError({self.offset_query_param: [f"Give an offset of at most {MAX_OFFSET}."]})
        return offset


def _whole_number(*, name: str, raw: str, minimum: int) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ValidationError({name: [f"{name} must be a whole number."]}) from None
    if value < minimum:
        raise ValidationError({name: [f"{name} must be at least {minimum}."]})
    return value
