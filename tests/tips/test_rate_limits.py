"""The tip portal's rate limits stop one client without stopping everyone else, and what they keep in Redis
cannot be mapped back to a tipster's address with what Redis holds (issue 11, items 14 and 15)."""

from __future__ import annotations

import hashlib
import hmac
import io
import ipaddress
import os
import re
from datetime import UTC, datetime

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from tips.middleware import client_key
from tips.models import Tip, TipMessage
from tips.services import tip_create

pytestmark = pytest.mark.django_db

TIPSTER_ADDRESS = "203.0.113.77"
ATTACKER_ADDRESS = "192.0.2.66"
JSON = "application/json"


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    cache.clear()


@pytest.fixture
def tip() -> tuple[Tip, str]:
    receipt = tip_create(category="theft", description="Bikes taken from the rack.")
    return receipt.tip, receipt.codename


def _redis():  # type: ignore[no-untyped-def]
    client_of = getattr(getattr(cache, "_cache", None), "get_client", None)
    if client_of is None:
        pytest.skip("the cache is not Redis here (set LANTERN_REDIS_URL)")
    return client_of(write=False)


def _everything_in(redis) -> tuple[list[bytes], list[bytes]]:  # type: ignore[no-untyped-def]
    """Every key name and every stored value (strings as they are, other types as Redis's own dump)."""
    names = list(redis.keys("*"))
    values = [redis.get(name) if redis.type(name) == b"string" else redis.dump(name) for name in names]
    return names, [value for value in values if value is not None]


def _secrets_found_in(blobs: list[bytes]) -> set[bytes]:
    """What an attacker holding the dump would try as an HMAC key: every blob, every hex run in it decoded, and
    nothing at all (a plain hash)."""
    found = {b""}
    for blob in blobs:
        found.add(blob)
        for run in re.findall(rb"[0-9a-fA-F]{16,}", blob):
            found.add(run)
            if len(run) % 2 == 0:
                found.add(bytes.fromhex(run.decode()))
    return found


def _hex_parts(names: list[bytes]) -> set[str]:
    return {part for name in names for part in name.decode().split(":") if re.fullmatch(r"[0-9a-f]{4,}", part)}


def test_redis_holds_nothing_that_maps_back_to_a_tipsters_address(tip: tuple[Tip, str]) -> None:
    redis = _redis()
    number, codename = tip[0].number, tip[1]
    tipster = Client(REMOTE_ADDR=TIPSTER_ADDRESS)
    for n in range(3):
        assert tipster.post("/tips/", {"category": "other", "description": f"Tip {n}"}).status_code == 201
    tipster.post("/tips/follow-up/", {"number": number, "codename": "wrong words"})
    replied = tipster.post("/tips/follow-up/reply/", {"number": number, "codename": codename, "body": "b"})
    assert replied.status_code == 200

    names, values = _everything_in(redis)
    parts = _hex_parts(names)
    assert any(name.startswith(b":1:tips:rate:") for name in names)  # the limits did write to this Redis
    # Brute force the tipster's /24 with everything Redis holds as the key, as the reviewer did over a /16.
    found = set()
    for address in ipaddress.ip_network("203.0.113.0/24"):
        text = str(address).encode()
        for secret in _secrets_found_in(names + values):
            for digest in (
                hmac.new(secret, text, hashlib.sha256).hexdigest(),
                hashlib.sha256(secret + text).hexdigest(),
            ):
                if any(digest.startswith(part) for part in parts):
                    found.add(str(address))
    assert TIPSTER_ADDRESS not in found

    # The search itself works: with the key derived from SECRET_KEY (which Redis never holds) it finds the bucket,
    # and that bucket is all an attacker with the settings would learn (see tips.middleware.CLIENT_BUCKET_BITS).
    assert client_key(address=TIPSTER_ADDRESS) in parts
    assert not any(name.endswith(f":{datetime.now(UTC).date().isoformat()}".encode()) for name in names)


def test_an_attackers_500_guesses_do_not_keep_a_tipster_out(tip: tuple[Tip, str]) -> None:
    number, codename = tip[0].number, tip[1]
    attacker = Client(REMOTE_ADDR=ATTACKER_ADDRESS)
    answers = [
        attacker.post("/tips/follow-up/", {"number": f"ZZZZ-{n:04d}", "codename": "not the words"}).status_code
        for n in range(500)
    ]
    assert answers[0] == 404 and answers[-1] == 429  # the attacker is stopped...
    tipster = Client(REMOTE_ADDR=TIPSTER_ADDRESS)
    opened = tipster.post("/tips/follow-up/", {"number": number, "codename": codename})
    assert opened.status_code == 200  # ...the tipster is not
    replied = tipster.post("/tips/follow-up/reply/", {"number": number, "codename": codename, "body": "Still here."})
    assert replied.status_code == 200
    api = Client(REMOTE_ADDR="198.51.100.9").post(
        "/api/tips/thread/", {"number": number, "codename": codename}, content_type=JSON
    )
    assert api.status_code == 200


def test_a_client_guessing_over_the_api_is_stopped_too(settings, tip: tuple[Tip, str]) -> None:
    settings.TIP_CODENAME_GUESSES_PER_CLIENT_PER_HOUR = 5
    attacker = Client(REMOTE_ADDR=ATTACKER_ADDRESS)
    answers = [
        attacker.post("/api/tips/thread/", {"number": f"ZZZZ-{n:04d}", "codename": "x"}, content_type=JSON).status_code
        for n in range(8)
    ]
    assert answers == [404] * 5 + [429] * 3


def test_thirty_follow_ups_in_a_row_are_refused_past_the_limit(settings, tip: tuple[Tip, str]) -> None:
    settings.TIP_FOLLOW_UPS_PER_TIP_PER_HOUR = 10
    number, codename = tip[0].number, tip[1]
    client = Client(REMOTE_ADDR=ATTACKER_ADDRESS)
    answers = [
        client.post(
            "/tips/follow-up/reply/", {"number": number, "codename": codename, "body": f"Message {n}"}
        ).status_code
        for n in range(30)
    ]
    assert answers == [200] * 10 + [429] * 20
    assert TipMessage.objects.filter(tip=tip[0]).count() == 10  # nothing past the limit, nothing lost before it
    # The API counts against the same thread.
    api = client.post(
        "/api/tips/messages/", {"number": number, "codename": codename, "body": "One more"}, content_type=JSON
    )
    assert api.status_code == 429


def test_one_client_flooding_threads_does_not_stop_another_tipster(settings) -> None:
    settings.TIP_FOLLOW_UPS_PER_CLIENT_PER_HOUR = 3
    first, second = (tip_create(category="other", description=f"Tip {n}") for n in range(2))
    flooder = Client(REMOTE_ADDR=ATTACKER_ADDRESS)
    answers = [
        flooder.post(
            "/api/tips/messages/",
            {"number": receipt.tip.number, "codename": receipt.codename, "body": "spam"},
            content_type=JSON,
        ).status_code
        for receipt in (first, second, first, second)
    ]
    assert answers == [201, 201, 201, 429]
    tipster = Client(REMOTE_ADDR=TIPSTER_ADDRESS)
    own = tipster.post(
        "/api/tips/messages/",
        {"number": second.tip.number, "codename": second.codename, "body": "The real follow-up"},
        content_type=JSON,
    )
    assert own.status_code == 201


def _noise_png(*, side: int) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(buffer, "PNG")
    return SimpleUploadedFile("noise.png", buffer.getvalue(), content_type="image/png")


def test_follow_up_files_are_limited_per_hour(settings, tip: tuple[Tip, str]) -> None:
    settings.TIP_FOLLOW_UP_MB_PER_HOUR = 1
    number, codename = tip[0].number, tip[1]
    client = Client(REMOTE_ADDR=TIPSTER_ADDRESS)
    photo = _noise_png(side=350)  # about 370 KB
    assert 300_000 < photo.size < 500_000
    answers = []
    for n in range(3):
        photo.seek(0)
        data = {"number": number, "codename": codename, "body": f"Photo {n}", "attachments": [photo]}
        answers.append(client.post("/tips/follow-up/reply/", data).status_code)
    assert answers == [200, 200, 429]
    assert tip[0].attachments.count() == 2
    # A message without files still fits.
    text_only = client.post("/tips/follow-up/reply/", {"number": number, "codename": codename, "body": "Text"})
    assert text_only.status_code == 200
