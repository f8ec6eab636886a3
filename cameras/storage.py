"""Where recordings and evidence are kept: S3 through django-storages when configured, local files otherwise."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.core import signing
from django.core.files.storage import default_storage
from django.urls import reverse

_CHUNK = 1024 * 1024
_SIGNED_URL_SALT = "lantern.media-url"


class StorageUnavailable(Exception):
    """The store could not be reached or answered with a server error; the same call may work later."""


@dataclass(frozen=True)
class StoredObject:
    name: str
    size_bytes: int
    version_id: str = ""
    locked_until: datetime | None = None


def segment_key(*, camera_id: int, started_at: datetime) -> str:
    """The object name of a camera's segment: one per start time, so a repeated upload lands on the same name."""
    at = started_at.astimezone(UTC)
    return f"segments/camera-{camera_id}/{at:%Y-%m-%d}/{at:%H%M%S}.{at.microsecond // 1000:03d}.mp4"


def evidence_key(*, request_id: int, name: str) -> str:
    return f"evidence/request-{request_id}/{name}"


def file_sha256(*, path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def stream_sha256(*, stream: IO[bytes]) -> tuple[str, int]:
    """SHA-256 and length of everything left in `stream`, read in chunks so memory stays flat."""
    digest = hashlib.sha256()
    size = 0
    while chunk := stream.read(_CHUNK):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def is_s3() -> bool:
    return hasattr(default_storage, "bucket_name")


def _s3() -> Any:
    """The S3Storage behind default_storage (typed loosely: django-storages ships no stubs)."""
    return default_storage


def _head(name: str) -> dict[str, Any]:
    storage = _s3()
    with _unavailable_on_connection_errors():
        return storage.connection.meta.client.head_object(Bucket=storage.bucket_name, Key=name)  # type: ignore[no-any-return]


def object_put(
    *, name: str, path: Path, sha256: str, content_type: str, retain_until: datetime | None = None
) -> StoredObject:
    """Store the local file at `path` under exactly `name`, replacing what is there (so a retry is harmless).

    On S3 the SHA-256 travels as object metadata, boto3 switches to multipart above its threshold
    (reading the file in parts, never whole), and `retain_until` asks for Object Lock in compliance
    mode when the bucket has it enabled.
    """
    size = path.stat().st_size
    if not is_s3():
        target = Path(default_storage.path(name))
        target.parent.mkdir(parents=True, exist_ok=True)
        # Copy then rename, so a reader never sees half a file under the final name.
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
        with os.fdopen(fd, "wb") as out, path.open("rb") as src:
            shutil.copyfileobj(src, out, _CHUNK)
        os.replace(tmp, target)
        return StoredObject(name=name, size_bytes=size)
    extra: dict[str, Any] = {"Metadata": {"sha256": sha256}, "ContentType": content_type}
    locked_until = None
    if retain_until is not None and object_lock_supported():
        extra["ObjectLockMode"] = "COMPLIANCE"
        extra["ObjectLockRetainUntilDate"] = retain_until
        locked_until = retain_until
    with _unavailable_on_connection_errors():
        _s3().bucket.upload_file(str(path), name, ExtraArgs=extra, Config=_s3().transfer_config)
    head = _head(name)
    return StoredObject(name=name, size_bytes=size, version_id=head.get("VersionId", ""), locked_until=locked_until)


def object_open(*, name: str, version_id: str = "") -> IO[bytes]:
    """A readable stream of the object (or of one version of it, on a versioned bucket); on S3 it streams from
    the server rather than loading it whole."""
    if not is_s3():
        return Path(default_storage.path(name)).open("rb")
    storage = _s3()
    version = {"VersionId": version_id} if version_id else {}
    with _unavailable_on_connection_errors():
        response = storage.connection.meta.client.get_object(Bucket=storage.bucket_name, Key=name, **version)
    return response["Body"]  # type: ignore[no-any-return]


def object_exists(*, name: str) -> bool:
    with _unavailable_on_connection_errors():
        return bool(default_storage.exists(name))


def object_delete(*, name: str) -> None:
    with _unavailable_on_connection_errors():
        default_storage.delete(name)


def object_url(*, name: str, filename: str | None = None) -> str:
    """A link that fetches the object without a login and stops working after MEDIA_URL_EXPIRE_S (5 min at most).

    S3 gets a presigned URL; local files get a signed link to `media_signed`, which plays the same part.
    """
    expire = settings.MEDIA_URL_EXPIRE_S
    if is_s3():
        parameters = {"ResponseContentDisposition": f'attachment; filename="{filename}"'} if filename else {}
        if not settings.S3_PUBLIC_ENDPOINT_URL:
            return str(_s3().url(name, parameters=parameters or None, expire=expire))
        return str(
            _public_client().generate_presigned_url(
                "get_object",
                Params={"Bucket": _s3().bucket_name, "Key": name, **parameters},
                ExpiresIn=expire,
            )
        )
    token = signing.dumps({"n": name, "f": filename or ""}, salt=_SIGNED_URL_SALT, compress=True)
    return reverse("media-signed", args=[token])


def signed_link_target(*, token: str) -> tuple[str, str]:
    """The (object name, download file name) a local signed link stands for; BadSignature when forged or expired."""
    data = signing.loads(token, salt=_SIGNED_URL_SALT, max_age=settings.MEDIA_URL_EXPIRE_S)
    return data["n"], data["f"]


def _public_client() -> Any:
    """A client that signs for the public endpoint; signing needs no connection, so nothing is dialled here."""
    import boto3

    storage = _s3()
    return boto3.session.Session().client(
        "s3",
        endpoint_url=settings.S3_PUBLIC_ENDPOINT_URL,
        region_name=storage.region_name,
        aws_access_key_id=storage.access_key,
        aws_secret_access_key=storage.secret_key,
        config=storage.client_config,
    )


@functools.cache
def _lock_enabled(bucket: str) -> bool:
    client = _s3().connection.meta.client
    try:
        config = client.get_object_lock_configuration(Bucket=bucket)
    except Exception:
        # Buckets made without Object Lock answer with an error (ObjectLockConfigurationNotFoundError).
        return False
    return config.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled") == "Enabled"


def object_lock_supported() -> bool:
    """Whether the bucket can keep objects write-once (S3 Object Lock); local files cannot."""
    return is_s3() and _lock_enabled(_s3().bucket_name)


@contextlib.contextmanager
def _unavailable_on_connection_errors() -> Iterator[None]:
    """Turns "the store is down" (refused connections, timeouts, 5xx) into StorageUnavailable."""
    try:
        yield
    except Exception as error:
        if _is_unavailable(error):
            raise StorageUnavailable(str(error)) from error
        raise


def _is_unavailable(error: BaseException) -> bool:
    from boto3.exceptions import S3UploadFailedError
    from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

    if isinstance(error, ConnectionError | HTTPClientError | OSError):
        return not isinstance(error, FileNotFoundError)
    if isinstance(error, ClientError):
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return status >= 500
    if isinstance(error, S3UploadFailedError):
        # boto3 wraps the ClientError's text; a refused connection or a 5xx reads the same way.
        text = str(error)
        return any(s in text for s in ("Could not connect", "(500)", "(502)", "(503)", "(504)", "Connection"))
    return False
