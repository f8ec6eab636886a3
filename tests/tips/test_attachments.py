"""The tip is saved first; its files are refused at the door, scrubbed by the worker, or kept through an outage."""

from __future__ import annotations

import dataclasses
import io
from datetime import timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone
from PIL import Image

from cameras.storage import StorageUnavailable
from tests.tips.test_scrub import jpeg_with_gps, make_video
from tips import attachments
from tips.attachments import attachment_process, attachments_accept, attachments_retry
from tips.models import Tip, TipAttachment
from tips.services import tip_create

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def spool(settings: Any, tmp_path: Path) -> Path:
    settings.TIP_SPOOL_DIR = str(tmp_path / "spool")
    return tmp_path / "spool"


@pytest.fixture
def tip() -> Tip:
    return Tip.objects.create(number="T3ST1234", category="theft", description="a bike", codename_hash="x")


def _upload(name: str, data: bytes, content_type: str = "image/jpeg") -> SimpleUploadedFile:
    # The browser's content type is whatever it says; it must not matter.
    return SimpleUploadedFile(name, data, content_type=content_type)


def _gps_jpeg(tmp_path: Path) -> bytes:
    return jpeg_with_gps(tmp_path / "gps.jpg", size=(10, 20), orientation=6).read_bytes()


def test_a_jpeg_with_gps_is_stored_with_no_exif_at_all(
    tip: Tip, tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        (attachment,) = attachments_accept(tip=tip, files=[_upload("IMG_0001.JPG", _gps_jpeg(tmp_path))])
    attachment.refresh_from_db()
    assert attachment.state == TipAttachment.State.READY
    assert (attachment.kind, attachment.content_type) == ("image", "image/jpeg")
    assert attachment.file.name.startswith("tips/") and attachment.file.name.endswith(".jpg")
    assert "IMG_0001" not in attachment.file.name
    with default_storage.open(attachment.file.name, "rb") as f:
        data = f.read()
    assert attachment.size_bytes == len(data) and len(attachment.sha256) == 64
    assert b"Exif" not in data and b"GPS" not in data and b"PhoneMaker" not in data
    with Image.open(io.BytesIO(data)) as im:
        assert len(im.getexif()) == 0 and im.size == (20, 10)
    # The raw upload, which carried the GPS position, is gone.
    assert attachment.raw_key == ""
    assert [n for n in default_storage.listdir("tips/raw")[1]] == []


def test_a_video_is_stored_remuxed(tip: Tip, tmp_path: Path, django_capture_on_commit_callbacks: Any) -> None:
    data = make_video(tmp_path / "clip.mov", fmt="mov").read_bytes()
    with django_capture_on_commit_callbacks(execute=True):
        (attachment,) = attachments_accept(tip=tip, files=[_upload("clip.mov", data, "video/quicktime")])
    attachment.refresh_from_db()
    assert (attachment.state, attachment.kind, attachment.content_type) == ("ready", "video", "video/mp4")
    assert attachment.file.name.endswith(".mp4")


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("photo.jpg", b"", "empty"),
        ("photo.jpg", b"this is only text, renamed\n", "neither"),
        ("setup.exe", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + b"\x00" * 100, "neither"),
        ("photo.png", b"<!DOCTYPE html><html><script>alert(1)</script></html>", "neither"),
    ],
)
def test_files_that_are_not_photos_or_videos_are_refused_at_once(
    tip: Tip, name: str, data: bytes, reason: str, django_capture_on_commit_callbacks: Any
) -> None:
    with (
        mock.patch.object(attachments, "object_put") as put,
        django_capture_on_commit_callbacks(execute=True) as callbacks,
    ):
        (attachment,) = attachments_accept(tip=tip, files=[_upload(name, data, "image/png")])
    assert attachment.state == TipAttachment.State.REFUSED
    assert reason in attachment.refusal
    assert not put.called and callbacks == []  # nothing stored, nothing queued


def test_the_tipster_is_told_which_attachment_was_refused(tip: Tip, tmp_path: Path) -> None:
    good = _gps_jpeg(tmp_path)
    sent = attachments_accept(tip=tip, files=[_upload("a.jpg", good), _upload("b.jpg", b""), _upload("c.jpg", good)])
    assert [(a.position, a.state) for a in sent] == [(1, "pending"), (2, "refused"), (3, "pending")]


def test_files_beyond_the_limit_are_refused(tip: Tip, tmp_path: Path, settings: Any) -> None:
    settings.TIP_MAX_ATTACHMENTS = 2
    good = _gps_jpeg(tmp_path)
    sent = attachments_accept(tip=tip, files=[_upload(f"{i}.jpg", good) for i in range(3)])
    assert [a.state for a in sent] == ["pending", "pending", "refused"]
    assert "Only 2 files" in sent[2].refusal


def test_a_photo_over_the_size_limit_is_refused(tip: Tip, settings: Any) -> None:
    settings.TIP_MAX_IMAGE_MB = 1
    big = b"\x89PNG\r\n\x1a\n" + b"\x00" * (1024 * 1024)
    (attachment,) = attachments_accept(tip=tip, files=[_upload("big.png", big)])
    assert attachment.state == "refused" and "larger than 1 MB" in attachment.refusal


def test_a_truncated_jpeg_is_refused_by_the_worker_and_its_raw_upload_deleted(
    tip: Tip, tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    noise = np.random.default_rng(2).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(noise).save(buffer, format="JPEG")
    with django_capture_on_commit_callbacks(execute=True):
        (attachment,) = attachments_accept(tip=tip, files=[_upload("cut.jpg", buffer.getvalue()[:600])])
    attachment.refresh_from_db()
    assert attachment.state == "refused" and "damaged or incomplete" in attachment.refusal
    assert attachment.raw_key == "" and not attachment.file


def test_a_storage_outage_during_upload_loses_no_tip(
    tip: Tip, tmp_path: Path, spool: Path, django_capture_on_commit_callbacks: Any
) -> None:
    down = mock.patch.object(attachments, "object_put", side_effect=StorageUnavailable("connection refused"))
    with down, django_capture_on_commit_callbacks(execute=True):
        (attachment,) = attachments_accept(tip=tip, files=[_upload("gps.jpg", _gps_jpeg(tmp_path))])
    assert Tip.objects.filter(pk=tip.pk).exists()
    attachment.refresh_from_db()
    # The worker tried (and its retries ran out while storage stayed down); the raw file waits in the spool.
    assert attachment.state == TipAttachment.State.FAILED and attachment.attempts >= 1
    assert [p.name for p in spool.iterdir()] == [attachment.raw_key.removeprefix("tips/raw/")]

    # Storage is back: the periodic retry finishes it, and the spool is emptied.
    with django_capture_on_commit_callbacks(execute=True):
        attachments_retry()
    attachment.refresh_from_db()
    assert attachment.state == TipAttachment.State.READY and attachment.raw_key == ""
    assert list(spool.iterdir()) == []
    with default_storage.open(attachment.file.name, "rb") as f:
        assert b"GPS" not in f.read()


def test_a_repeated_task_after_success_changes_nothing(
    tip: Tip, tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        (attachment,) = attachments_accept(tip=tip, files=[_upload("gps.jpg", _gps_jpeg(tmp_path))])
    attachment.refresh_from_db()
    before = dataclasses.asdict(_Snapshot.of(attachment))
    with mock.patch.object(attachments, "object_put") as put:
        again = attachment_process(attachment_id=attachment.pk)
    assert not put.called and dataclasses.asdict(_Snapshot.of(again)) == before


@dataclasses.dataclass
class _Snapshot:
    state: str
    file: str
    sha256: str

    @classmethod
    def of(cls, attachment: TipAttachment) -> _Snapshot:
        return cls(state=attachment.state, file=attachment.file.name, sha256=attachment.sha256)


def test_an_outage_on_s3_keeps_the_upload_and_it_is_sent_on_later(
    s3_storage: Any, settings: Any, tip: Tip, tmp_path: Path, spool: Path, django_capture_on_commit_callbacks: Any
) -> None:
    working = settings.STORAGES["default"]
    dead = {**working, "OPTIONS": {**working["OPTIONS"], "endpoint_url": "http://127.0.0.1:9"}}
    settings.STORAGES = {**settings.STORAGES, "default": dead}
    with (
        mock.patch("tips.tasks.attachment_process_task.delay"),  # the worker is not running yet
        django_capture_on_commit_callbacks(execute=True),
    ):
        (attachment,) = attachments_accept(tip=tip, files=[_upload("gps.jpg", _gps_jpeg(tmp_path))])
    assert attachment.state == "pending" and len(list(spool.iterdir())) == 1

    settings.STORAGES = {**settings.STORAGES, "default": working}
    with django_capture_on_commit_callbacks(execute=True):
        assert attachments.attachments_spool_flush() == 1
    attachment.refresh_from_db()
    assert attachment.state == "ready" and list(spool.iterdir()) == []
    keys = [o["Key"] for o in s3_storage.client().list_objects_v2(Bucket=s3_storage.bucket).get("Contents", [])]
    assert keys == [attachment.file.name]


def test_a_copy_that_fails_after_another_finished_leaves_the_attachment_ready(tip: Tip, tmp_path: Path) -> None:
    (attachment,) = attachments_accept(tip=tip, files=[_upload("gps.jpg", _gps_jpeg(tmp_path))])

    def finished_elsewhere(**_: Any) -> Path:
        TipAttachment.objects.filter(pk=attachment.pk).update(state=TipAttachment.State.READY)
        raise StorageUnavailable("raw upload already deleted by the other copy")

    with (
        mock.patch.object(attachments, "_raw_fetch", side_effect=finished_elsewhere),
        pytest.raises(StorageUnavailable),
    ):
        attachment_process(attachment_id=attachment.pk)
    attachment.refresh_from_db()
    assert (attachment.state, attachment.attempts) == ("ready", 0)


def _lost_message_attachment(tip: Tip, tmp_path: Path, capture: Any) -> TipAttachment:
    # The broker never got the task (a restart lost it): the attachment is pending with its raw upload stored.
    with mock.patch("tips.tasks.attachment_process_task.delay"), capture(execute=True):
        (attachment,) = attachments_accept(tip=tip, files=[_upload("gps.jpg", _gps_jpeg(tmp_path))])
    attachment.refresh_from_db()
    assert attachment.state == TipAttachment.State.PENDING and default_storage.exists(attachment.raw_key)
    return attachment


def test_an_attachment_whose_task_message_was_lost_is_picked_up(
    tip: Tip, tmp_path: Path, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.TIP_ATTACHMENT_PENDING_RETRY_S = 1800
    attachment = _lost_message_attachment(tip, tmp_path, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        assert attachments_retry() == 0  # still fresh: its task may yet come
    TipAttachment.objects.filter(pk=attachment.pk).update(queued_at=timezone.now() - timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert attachments_retry() == 1
    raw_key = attachment.raw_key
    attachment.refresh_from_db()
    assert attachment.state == TipAttachment.State.READY and attachment.requeues == 1
    assert attachment.raw_key == "" and not default_storage.exists(raw_key)


def test_an_attachment_retried_too_often_is_given_up_and_the_tipster_told(
    settings: Any, tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    settings.TIP_ATTACHMENT_MAX_REQUEUES = 3
    receipt = tip_create(category="theft", description="a bike", language="es")
    attachment = _lost_message_attachment(receipt.tip, tmp_path, django_capture_on_commit_callbacks)
    raw_key = attachment.raw_key
    TipAttachment.objects.filter(pk=attachment.pk).update(queued_at=timezone.now() - timedelta(hours=1), requeues=3)
    with django_capture_on_commit_callbacks(execute=True):
        assert attachments_retry() == 0
    attachment.refresh_from_db()
    assert attachment.state == TipAttachment.State.REFUSED and attachment.refusal
    assert attachment.raw_key == "" and not default_storage.exists(raw_key)  # the metadata went with it
    thread = Client().post("/tips/follow-up/?lang=en", {"number": receipt.tip.number, "codename": receipt.codename})
    assert attachment.refusal in thread.content.decode()
