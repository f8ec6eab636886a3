"""A real Celery worker killed in the middle of an export: the redelivered task finishes it, once."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import psutil
import pytest
from celery import Celery
from django.utils import timezone

from cameras.manifest import manifest_signature_valid
from cameras.models import Camera, EvidenceItem, EvidenceRequest
from cameras.storage import object_open
from community.models import AuditEvent, Business, User
from tests.cameras.recorded import segments_stored
from tests.celery_worker import BROKER, needs_redis, pool_process
from tests.factories import AgreementFactory, CameraFactory, SiteFactory
from tests.s3 import S3Endpoint

pytestmark = needs_redis


@pytest.fixture
def two_cameras(alice_business: Business, tmp_path: Path) -> list[Camera]:
    agreement = AgreementFactory(business=alice_business, recording_allowed=True)
    site = SiteFactory(business=alice_business)
    return [CameraFactory(site=site, name=name, agreement=agreement) for name in ("A short", "B long")]


def test_a_worker_killed_during_an_export_finishes_it_on_redelivery_once(
    transactional_db: None,
    worker: tuple[psutil.Process, str],
    two_cameras: list[Camera],
    monitor: User,
    alice: User,
    s3_storage: S3Endpoint,
    tmp_path: Path,
) -> None:
    process, queue = worker
    start = timezone.now() - timedelta(hours=1)
    short, long = two_cameras
    segments_stored(camera=short, start=start, count=2, scratch=tmp_path)
    # Enough segments that the second camera's export is still running when the worker is killed.
    segments_stored(camera=long, start=start, count=150, scratch=tmp_path)
    request = EvidenceRequest.objects.create(
        business=short.business,
        case_number="2026-000099",
        reason="Robbery",
        window_start=start,
        window_end=start + timedelta(minutes=10),
        requested_by=monitor,
        decided_by=alice,
        decided_at=timezone.now(),
        state=EvidenceRequest.State.APPROVED,
    )
    request.cameras.set(two_cameras)
    pool = pool_process(process)
    # Not the current app: tests after this one must keep sending tasks to the eager test app.
    sender = Celery(broker=BROKER, set_as_current=False)
    sender.send_task("cameras.tasks.evidence_export_task", args=[request.pk], queue=queue, task_id="export-1")

    deadline = time.monotonic() + 60
    while not EvidenceItem.objects.filter(request=request).exists():
        assert time.monotonic() < deadline, (tmp_path / "worker.log").read_text()
        time.sleep(0.02)
    pool.kill()
    request.refresh_from_db()
    assert request.state == EvidenceRequest.State.EXPORTING
    assert EvidenceItem.objects.filter(request=request).count() == 1

    deadline = time.monotonic() + 120
    while request.state != EvidenceRequest.State.EXPORTED:
        assert time.monotonic() < deadline, (tmp_path / "worker.log").read_text()
        time.sleep(0.2)
        request.refresh_from_db()

    assert request.export_attempts == 2
    items = list(request.items.order_by("camera_name"))
    assert [i.camera_name for i in items] == ["A short", "B long"]
    assert len(items[1].sources) == 150
    assert AuditEvent.objects.filter(action="evidence.export", target_id=str(request.pk)).count() == 1
    # The first camera's file, done before the kill, was not uploaded again.
    versions = s3_storage.client().list_object_versions(Bucket=s3_storage.bucket, Prefix=items[0].key)
    assert len(versions["Versions"]) == 1
    with object_open(name=request.manifest_key) as f:
        assert manifest_signature_valid(data=f.read(), signature=request.manifest_signature)
