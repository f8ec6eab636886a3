"""A real Celery worker killed in the middle of an export: the redelivered task finishes it, once."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import psutil
import pytest
from celery import Celery
from django.db import connection
from django.utils import timezone

from cameras.manifest import manifest_signature_valid
from cameras.models import Camera, EvidenceItem, EvidenceRequest
from cameras.storage import object_open
from community.models import AuditEvent, Business, User
from tests.cameras.recorded import segments_stored
from tests.factories import AgreementFactory, CameraFactory, SiteFactory
from tests.s3 import ACCESS_KEY, REGION, SECRET_KEY, S3Endpoint

ROOT = Path(__file__).resolve().parents[2]
# A Redis database of its own, so that no other test's queue or the CI run's own broker meets these messages.
BROKER = "redis://127.0.0.1:6379/13"


def _redis_answers() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=0.5).close()
    except OSError:
        return False
    return True


pytestmark = pytest.mark.skipif(not _redis_answers(), reason="needs Redis on 127.0.0.1:6379 (CI has it)")


def _database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def worker(s3_storage: S3Endpoint, tmp_path: Path) -> Iterator[tuple[psutil.Process, str]]:
    """`celery worker` with one pool process, on a queue of its own, against this test's database and bucket."""
    queue = f"export-test-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "LANTERN_DATABASE_URL": _database_url(),
        "LANTERN_CELERY_BROKER_URL": BROKER,
        "LANTERN_CELERY_VISIBILITY_TIMEOUT_S": "5",
        "LANTERN_DATA_DIR": str(tmp_path / "worker"),
        "LANTERN_S3_BUCKET": s3_storage.bucket,
        "LANTERN_S3_ENDPOINT_URL": s3_storage.url,
        "LANTERN_S3_REGION": REGION,
        "LANTERN_S3_ACCESS_KEY_ID": ACCESS_KEY,
        "LANTERN_S3_SECRET_ACCESS_KEY": SECRET_KEY,
        "LANTERN_LOG_LEVEL": "WARNING",
    }
    env.pop("LANTERN_REDIS_URL", None)
    log = (tmp_path / "worker.log").open("w")
    command = [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", queue, "-c", "1", "-P", "prefork"]
    process = subprocess.Popen(
        [*command, "--without-gossip", "--without-mingle"], cwd=ROOT, env=env, stdout=log, stderr=log
    )
    try:
        yield psutil.Process(process.pid), queue
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture
def two_cameras(alice_business: Business, tmp_path: Path) -> list[Camera]:
    agreement = AgreementFactory(business=alice_business, recording_allowed=True)
    site = SiteFactory(business=alice_business)
    return [CameraFactory(site=site, name=name, agreement=agreement) for name in ("A short", "B long")]


def _pool_process(worker: psutil.Process, *, timeout_s: float = 30) -> psutil.Process:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        children = worker.children()
        if children:
            return children[0]
        time.sleep(0.1)
    raise AssertionError("the worker started no pool process")


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
    pool = _pool_process(process)
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
