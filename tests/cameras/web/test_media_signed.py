"""media_signed: the local stand-in for an S3 presigned URL serves a file for five minutes, to anyone holding it."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from unittest import mock

import pytest
from django.core import signing
from django.test import Client

from cameras.models import Segment
from cameras.storage import object_put, object_url, signed_link_target

CONTENT = b"\x00\x00\x00\x18ftypmp42" + b"\x01" * 1000


@pytest.fixture
def stored(tmp_path: Path, db) -> str:
    path = tmp_path / "clip.mp4"
    path.write_bytes(CONTENT)
    object_put(name="evidence/request-9/clip.mp4", path=path, sha256="", content_type="video/mp4")
    return "evidence/request-9/clip.mp4"


def _body(response) -> bytes:
    return b"".join(response.streaming_content)


def test_a_signed_link_serves_the_file_without_a_login(client: Client, stored: str) -> None:
    response = client.get(object_url(name=stored))

    assert response.status_code == 200
    assert response["Content-Type"] == "video/mp4"
    assert response["Cache-Control"] == "private, no-store"
    assert "attachment" not in response.get("Content-Disposition", "")
    assert _body(response) == CONTENT


def test_a_link_with_a_file_name_is_a_download_under_that_name(client: Client, stored: str) -> None:
    response = client.get(object_url(name=stored, filename="2026-001234-camera-1.mp4"))

    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="2026-001234-camera-1.mp4"'


def test_a_recorded_segment_comes_back_byte_for_byte(client: Client, footage: list[Segment]) -> None:
    segment = footage[0]

    body = _body(client.get(object_url(name=segment.key)))

    assert hashlib.sha256(body).hexdigest() == segment.sha256
    assert len(body) == segment.size_bytes


def test_a_link_names_its_file_and_nothing_else(stored: str) -> None:
    token = object_url(name=stored, filename="a.mp4").rsplit("/", 1)[1]

    assert signed_link_target(token=token) == (stored, "a.mp4")


def test_a_forged_link_is_not_found(client: Client, stored: str) -> None:
    token = object_url(name=stored).rsplit("/", 1)[1]
    forged = signing.dumps({"n": "segments/camera-2/other.mp4", "f": ""}, salt="someone else", compress=True)

    assert client.get(f"/media/signed/{token[:-2]}xx").status_code == 404
    assert client.get(f"/media/signed/{forged}").status_code == 404


def test_a_link_older_than_five_minutes_is_gone(client: Client, stored: str, settings) -> None:
    assert settings.MEDIA_URL_EXPIRE_S <= 300
    with mock.patch("django.core.signing.time.time", return_value=time.time() - settings.MEDIA_URL_EXPIRE_S - 1):
        url = object_url(name=stored)

    response = client.get(url)

    assert response.status_code == 410
    assert b"expired" in response.content


def test_a_link_to_a_deleted_file_is_not_found(client: Client, db) -> None:
    assert client.get(object_url(name="segments/camera-1/gone.mp4")).status_code == 404


def test_a_link_only_reads(client: Client, stored: str) -> None:
    assert client.post(object_url(name=stored)).status_code == 405
