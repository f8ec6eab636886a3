"""Citizen-side writes: filing a tip, its receipt (number and codename), follow-up messages and the rate limits."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction

from tips.attachments import attachments_accept
from tips.models import Tip, TipAttachment, TipMessage

CODENAME_WORDS = 7
# The number says nothing on its own; no 0/O or 1/I so it can be read out over the phone.
_NUMBER_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
# scrypt's cost (N); r and p as Django's own scrypt hasher. The codename's ~90 bits, not the hash's cost, are what
# keep it from being guessed (2**90 tries at any speed is out of reach); scrypt only makes a stolen database
# slower still to attack. Django's default N (2**14, ~40 ms a hash here) would cap a 2-core web host below 50 tips
# a second, so the default is 2**10 (~4 ms, 1 MiB; bench/tips_load.py); the setting raises it where the hardware
# allows. The cost is stored in each hash, so changing it never breaks the codenames already given out.
_SCRYPT_R, _SCRYPT_P = 8, 1


def _scrypt_n() -> int:
    return int(settings.TIP_CODENAME_SCRYPT_N)


# A pin coarsened by the tipster is rounded to this grid (0.005 degrees of latitude is about 550 m).
COARSE_PRECISION_M = 500
_COARSE_STEP = Decimal("0.005")


class TipRateLimited(Exception):
    """Too many tips, codename tries or follow-ups from one client (or for one tip) this hour."""


class TipAlreadySent(Exception):
    """The same form was sent again (a refresh of the receipt, a second tap): the tip exists already."""

    def __init__(self, *, number: str) -> None:
        super().__init__(number)
        self.number = number


@dataclass(frozen=True)
class TipReceipt:
    tip: Tip
    codename: str  # shown to the tipster once; only its hash is kept
    attachments: list[TipAttachment] = field(default_factory=list)  # in the order sent, refused ones with why


@lru_cache(maxsize=1)
def codename_words() -> tuple[str, ...]:
    lines = (Path(__file__).with_name("wordlist.txt")).read_text(encoding="utf-8").splitlines()
    return tuple(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def codename_generate() -> str:
    words = codename_words()
    return " ".join(secrets.choice(words) for _ in range(CODENAME_WORDS))


def codename_normalize(codename: str) -> str:
    # People retype it: case, extra spaces and line breaks must not matter.
    return " ".join(codename.lower().split())


def codename_hash(codename: str) -> str:
    salt = secrets.token_bytes(16)
    n = _scrypt_n()
    digest = _scrypt(codename_normalize(codename), salt=salt, n=n, r=_SCRYPT_R, p=_SCRYPT_P)
    return f"scrypt${n}${_SCRYPT_R}${_SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def codename_matches(*, codename: str, encoded: str) -> bool:
    try:
        algorithm, n, r, p, salt, digest = encoded.split("$")
        expected = base64.b64decode(digest)
        salt_bytes = base64.b64decode(salt)
    except ValueError:
        return False
    if algorithm != "scrypt":
        return False
    actual = _scrypt(codename_normalize(codename), salt=salt_bytes, n=int(n), r=int(r), p=int(p))
    return hmac.compare_digest(actual, expected)


def codename_burn_time() -> None:
    """One hash's worth of work, so that an unknown tip number answers as slowly as a wrong codename."""
    _scrypt("", salt=b"\0" * 16, n=_scrypt_n(), r=_SCRYPT_R, p=_SCRYPT_P)


def _scrypt(text: str, *, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(text.encode(), salt=salt, n=n, r=r, p=p, maxmem=64 * 1024 * 1024, dklen=32)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _hour_bucket() -> str:
    return datetime.now(UTC).strftime("%Y%m%d%H")


def _count(key: str, *, by: int = 1) -> int:
    """Increments an hourly counter in the cache (created at `by` with an hour's life)."""
    try:
        return cache.incr(key, by)  # the common case first: the counter is there
    except ValueError:
        pass
    if cache.add(key, by, timeout=3600):
        return by
    try:
        return cache.incr(key, by)  # another request created it in between
    except ValueError:  # and it expired at once
        cache.set(key, by, timeout=3600)
        return by


def tip_rate_check(*, client_key: str) -> None:
    """Counts one submission by this client (a coarse bucket of its address, never the address) this hour."""
    if _count(f"tips:rate:{client_key}:{_hour_bucket()}") > settings.TIP_RATE_PER_HOUR:
        raise TipRateLimited


def _number_key(number: str) -> str:
    # Whatever was typed as a number becomes a safe cache key (memcached refuses spaces and control bytes).
    return hashlib.sha256(number.strip().upper().encode()).hexdigest()[:32]


def _guess_keys(*, number: str, client_key: str) -> tuple[str, str, str]:
    bucket = _hour_bucket()
    return (
        f"tips:guess:{_number_key(number)}:{bucket}",
        f"tips:guess-client:{client_key}:{bucket}",
        f"tips:guess:*:{bucket}",
    )


def codename_guess_allowed(*, number: str, client_key: str) -> bool:
    """Whether this client may try another codename for this tip number now.

    Only wrong tries count, so a tipster who types the right codename is never held back by anyone else's
    guessing. Each client has its own hourly budget. The count across all tips is not a lockout: past it
    (a spread-out attack), every client's budget shrinks to a few wrong tries, which slows the attack to a
    crawl while a tipster with the right codename still gets in. (A delay or extra hashing per guess would
    hold one of the web process's few threads, turning the slowdown into a denial of service.) A stranger
    can still use up one tip's tries for the hour (the per-tip limit), which keeps that tip's thread closed
    until the next hour; the codename's ~90 bits make the limit a courtesy rather than the defence.
    """
    per_tip_key, per_client_key, overall_key = _guess_keys(number=number, client_key=client_key)
    counts = cache.get_many([per_tip_key, per_client_key, overall_key])  # one round trip
    under_pressure = counts.get(overall_key, 0) >= settings.TIP_CODENAME_GUESSES_PER_HOUR
    client_limit = (
        settings.TIP_CODENAME_GUESSES_PER_CLIENT_UNDER_PRESSURE
        if under_pressure
        else settings.TIP_CODENAME_GUESSES_PER_CLIENT_PER_HOUR
    )
    return (
        counts.get(per_tip_key, 0) < settings.TIP_CODENAME_GUESSES_PER_TIP_PER_HOUR
        and counts.get(per_client_key, 0) < client_limit
    )


def codename_guess_failed(*, number: str, client_key: str) -> None:
    for key in _guess_keys(number=number, client_key=client_key):
        _count(key)


def tip_follow_up_rate_check(*, tip: Tip, client_key: str, upload_bytes: int) -> None:
    """Counts one follow-up (and the bytes of its files) against this tip's thread and this client, this hour;
    raises TipRateLimited, counting nothing, when either is over its limit."""
    bucket = _hour_bucket()
    messages_by_tip, messages_by_client = f"tips:fu:{tip.pk}:{bucket}", f"tips:fu-client:{client_key}:{bucket}"
    bytes_by_tip, bytes_by_client = f"tips:fu-bytes:{tip.pk}:{bucket}", f"tips:fu-bytes-client:{client_key}:{bucket}"
    counts = cache.get_many([messages_by_tip, messages_by_client, bytes_by_tip, bytes_by_client])
    byte_limit = int(settings.TIP_FOLLOW_UP_MB_PER_HOUR) * 1024 * 1024
    if (
        counts.get(messages_by_tip, 0) >= settings.TIP_FOLLOW_UPS_PER_TIP_PER_HOUR
        or counts.get(messages_by_client, 0) >= settings.TIP_FOLLOW_UPS_PER_CLIENT_PER_HOUR
        or counts.get(bytes_by_tip, 0) + upload_bytes > byte_limit
        or counts.get(bytes_by_client, 0) + upload_bytes > byte_limit
    ):
        raise TipRateLimited
    # Two requests at once may both pass the check above; the limits are per hour, so one over is harmless.
    _count(messages_by_tip)
    _count(messages_by_client)
    if upload_bytes:
        _count(bytes_by_tip, by=upload_bytes)
        _count(bytes_by_client, by=upload_bytes)


def _coarsen(value: Decimal) -> Decimal:
    return ((value / _COARSE_STEP).quantize(Decimal(1), rounding=ROUND_HALF_UP) * _COARSE_STEP).quantize(
        Decimal("0.000001")
    )


def _number_generate() -> str:
    raw = "".join(secrets.choice(_NUMBER_ALPHABET) for _ in range(8))
    return f"{raw[:4]}-{raw[4:]}"


# How long a sent form's token is remembered, so that sending it again files nothing new.
SUBMISSION_MEMORY_S = 24 * 3600


def submission_token() -> str:
    """A random token for one tip form; it says nothing about who fills it in."""
    return secrets.token_urlsafe(18)


def _submission_key(submission: str) -> str:
    return f"tips:sent:{hashlib.sha256(submission.encode()).hexdigest()[:32]}"


def _submission_claim(*, submission: str, value: str) -> str | None:
    """Claims a form's token in one round trip, remembering `value` with it: None the first time (or when the
    form carried no token), otherwise the value the first claim remembered."""
    if not submission:
        return None
    key = _submission_key(submission)
    if cache.add(key, value, timeout=SUBMISSION_MEMORY_S):
        return None
    return str(cache.get(key) or "")


def _submission_release(*, submission: str) -> None:
    # Nothing was saved: sending the same form again must work.
    if submission:
        cache.delete(_submission_key(submission))


def tip_create(
    *,
    category: str,
    description: str,
    occurred_at: datetime | None = None,
    occurred_text: str = "",
    place_text: str = "",
    latitude: Decimal | None = None,
    longitude: Decimal | None = None,
    coarsen: bool = False,
    language: str = "en",
    files: list[UploadedFile] | None = None,
    submission: str = "",
) -> TipReceipt:
    """Saves the tip first (nothing else may lose it), then hands any files to the attachment pipeline.

    `submission` is the form's token: sent again (the receipt refreshed, the button tapped twice), it raises
    TipAlreadySent with the first tip's number instead of filing the tip twice.
    """
    if latitude is not None and longitude is not None and coarsen:
        latitude, longitude = _coarsen(latitude), _coarsen(longitude)
        precision: int | None = COARSE_PRECISION_M
    elif latitude is not None and longitude is not None:
        precision = None
    else:
        latitude = longitude = None
        precision = None
    codename = codename_generate()
    fields = dict(
        category=category,
        description=description,
        occurred_at=occurred_at,
        occurred_text=occurred_text,
        place_text=place_text,
        latitude=latitude,
        longitude=longitude,
        place_precision_m=precision,
        language=language,
        codename_hash=codename_hash(codename),
    )
    number = _number_generate()
    earlier = _submission_claim(submission=submission, value=number)  # remembers the number it files under
    if earlier is not None:
        raise TipAlreadySent(number=earlier)
    try:
        tip = _tip_insert(number=number, fields=fields)
    except BaseException:
        _submission_release(submission=submission)
        raise
    if submission and tip.number != number:  # the drawn number was taken; remember the one used
        cache.set(_submission_key(submission), tip.number, timeout=SUBMISSION_MEMORY_S)
    attachments = _attachments_accept(tip=tip, files=files, message=None) if files else []
    return TipReceipt(tip=tip, codename=codename, attachments=attachments)


def _tip_insert(*, number: str, fields: Mapping[str, Any]) -> Tip:
    for _ in range(5):
        try:
            # The savepoint lets a rare clash of random numbers be retried inside an outer transaction.
            with transaction.atomic():
                return Tip.objects.create(number=number, **fields)
        except IntegrityError:
            number = _number_generate()
    # 32**8 numbers; five clashes in a row means something else is wrong.
    raise RuntimeError("could not draw a free tip number")  # pragma: no cover


def tip_message_add(
    *, tip: Tip, body: str, files: list[UploadedFile] | None = None, submission: str = ""
) -> TipMessage | None:
    """The tipster's follow-up on their own tip (the caller has checked the codename). The same reply form sent
    again (the thread refreshed after sending) adds nothing and returns None."""
    if _submission_claim(submission=submission, value=tip.number) is not None:
        return None
    try:
        with transaction.atomic():
            message = TipMessage.objects.create(tip=tip, author_kind=TipMessage.Author.CITIZEN, body=body)
            Tip.objects.filter(pk=tip.pk).update(has_unread_from_citizen=True)
            if files:
                _attachments_accept(tip=tip, files=files, message=message)
    except BaseException:
        _submission_release(submission=submission)
        raise
    return message


def _attachments_accept(*, tip: Tip, files: list[UploadedFile], message: TipMessage | None) -> list[TipAttachment]:
    # Sniffing, scrubbing and storage belong to the attachment pipeline; refused files come back with a reason.
    return attachments_accept(tip=tip, files=files, message=message)
