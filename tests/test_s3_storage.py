"""Django's default storage on S3: files, snapshots and presigned URLs against a real S3 server on loopback."""

from __future__ import annotations

import io
import urllib.request
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client
from PIL import Image
from storages.backends.s3 import S3Storage

from cameras.media.probe import ProbeResult
from cameras.models import Camera
from cameras.services import camera_probe_record
from community.models import User
from tests.s3 import S3Endpoint


def _tiny_jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (2, 2), (200, 30, 30)).save(out, format="JPEG")
    return out.getvalue()


def test_the_server_is_plain_http_on_loopback(s3_storage: S3Endpoint) -> None:
    assert s3_storage.url.startswith("http://127.0.0.1:")


def test_lantern_s3_settings_switch_the_default_storage_to_s3(s3_storage: S3Endpoint) -> None:
    assert isinstance(default_storage, S3Storage)
    assert default_storage.endpoint_url == s3_storage.url  # type: ignore[attr-defined]
    assert default_storage.bucket_name == s3_storage.bucket  # type: ignore[attr-defined]


def test_a_saved_file_lands_in_the_bucket_and_reads_back(s3_storage: S3Endpoint) -> None:
    name = default_storage.save("notes/hello.txt", ContentFile(b"hello lantern"))

    stored = s3_storage.client().get_object(Bucket=s3_storage.bucket, Key=name)
    assert stored["Body"].read() == b"hello lantern"
    assert default_storage.exists(name)
    with default_storage.open(name, "rb") as f:
        assert f.read() == b"hello lantern"


def test_a_second_save_under_the_same_name_does_not_overwrite(s3_storage: S3Endpoint) -> None:
    first = default_storage.save("notes/same.txt", ContentFile(b"first"))
    second = default_storage.save("notes/same.txt", ContentFile(b"second"))

    assert first != second
    assert default_storage.open(first, "rb").read() == b"first"


def test_a_probe_snapshot_is_stored_in_s3_and_served_to_its_owner_only(
    s3_storage: S3Endpoint,
    alice_camera: Camera,
    alice: User,
    charlie: User,
    client_for: Callable[[User | None], Client],
) -> None:
    jpeg = _tiny_jpeg()
    result = ProbeResult(
        health="online", message="", codec="h264", width=2, height=2, fps=10.0, snapshot_jpeg=jpeg, elapsed_s=0.1
    )

    camera_probe_record(camera=alice_camera, result=result)

    alice_camera.refresh_from_db()
    stored = s3_storage.client().get_object(Bucket=s3_storage.bucket, Key=alice_camera.snapshot.name)
    assert stored["Body"].read() == jpeg
    url = f"/cameras/{alice_camera.pk}/snapshot.jpg"
    response = client_for(alice).get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert b"".join(response.streaming_content) == jpeg  # type: ignore[attr-defined]
    assert client_for(charlie).get(url).status_code == 404


def test_a_presigned_url_works_over_http_and_expires_within_five_minutes(s3_storage: S3Endpoint) -> None:
    name = default_storage.save("clips/one.bin", ContentFile(b"\x00\x01clip bytes"))

    url = default_storage.url(name)

    assert url.startswith(f"{s3_storage.url}/{s3_storage.bucket}/")
    query = parse_qs(urlsplit(url).query)
    assert query["X-Amz-Expires"] == ["300"]
    with urllib.request.urlopen(url, timeout=5) as response:
        assert response.read() == b"\x00\x01clip bytes"


def test_presigned_urls_name_the_public_endpoint_when_one_is_set(s3_storage: S3Endpoint, settings) -> None:
    from cameras.storage import object_url

    name = default_storage.save("clips/public.bin", ContentFile(b"for browsers"))
    public = s3_storage.url.replace("127.0.0.1", "localhost")
    settings.S3_PUBLIC_ENDPOINT_URL = public

    url = object_url(name=name, filename="clip.bin")

    assert url.startswith(f"{public}/{s3_storage.bucket}/")
    assert parse_qs(urlsplit(url).query)["X-Amz-Expires"] == ["300"]
    # Signed for the host it names, so the server accepts it there.
    with urllib.request.urlopen(url, timeout=5) as response:
        assert response.read() == b"for browsers"
        assert response.headers["Content-Disposition"] == 'attachment; filename="clip.bin"'
