"""The whole evidence workflow for real: the RTSP simulator recorded to S3 on loopback by the live runtime, a
monitor's request, the owner's approval, the export, a download, verification, and a tampered file caught."""

from __future__ import annotations

import hashlib
import io
import time
import urllib.request
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import av
import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.test import Client

from cameras.models import Camera, EvidenceRequest, Segment
from community.models import AuditEvent, User
from devtools.simulator import CameraSimulator
from tests.cameras.recorded import camera_streaming_from
from tests.conftest import AsgiServer
from tests.s3 import S3Endpoint

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def recorded_camera(transactional_db, alice_camera: Camera, simulator: CameraSimulator) -> Camera:
    return camera_streaming_from(alice_camera, url=simulator.url(1))


@pytest.fixture
def recording_server(
    settings, s3_storage: S3Endpoint, recorded_camera: Camera, tmp_path: Path, request: pytest.FixtureRequest
) -> AsgiServer:
    """The ASGI server as `./dev run` starts it, recording the cameras whose terms allow it, into S3."""
    settings.RECORDING_ENABLED = True
    settings.RECORDING_SEGMENT_S = 1.0
    settings.RECORDING_SPOOL_DIR = tmp_path / "spool"
    return request.getfixturevalue("asgi_server")


def _segments_wait(camera: Camera, *, count: int, timeout_s: float = 60) -> list[Segment]:
    deadline = time.monotonic() + timeout_s
    while True:
        rows = list(Segment.objects.filter(camera=camera).order_by("started_at"))
        if len(rows) >= count:
            return rows
        assert time.monotonic() < deadline, f"only {len(rows)} segments were recorded"
        time.sleep(0.3)


def _frames(data: bytes) -> int:
    with av.open(io.BytesIO(data)) as container:
        return sum(1 for _ in container.decode(video=0))


def _fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read()


def test_recorded_footage_reaches_the_investigator_whole_hashed_signed_and_audited(
    recording_server: AsgiServer,
    recorded_camera: Camera,
    s3_storage: S3Endpoint,
    monitor: User,
    alice: User,
    supervisor: User,
    client_for: Callable[[User | None], Client],
) -> None:
    recorded = _segments_wait(recorded_camera, count=5)
    since = (recorded[1].started_at + timedelta(seconds=1)).replace(microsecond=0)
    until = recorded[3].ended_at.replace(microsecond=0)
    s3 = s3_storage.client()
    for segment in recorded:
        head = s3.head_object(Bucket=s3_storage.bucket, Key=segment.key)
        assert head["Metadata"]["sha256"] == segment.sha256

    # The monitor files the request through the page.
    monitor_client = client_for(monitor)
    response = monitor_client.post(
        "/evidence/new/",
        {
            "case_number": "2026-001234",
            "reason": "Robbery at the register, suspect left on foot",
            "camera_ids": [recorded_camera.pk],
            # The form offers the sites' zones and the agency's; the camera's site is in the agency's.
            "time_zone": recorded_camera.site.timezone,
            "window_start": since.astimezone(ZoneInfo(recorded_camera.site.timezone)).strftime("%Y-%m-%dT%H:%M:%S"),
            "window_end": until.astimezone(ZoneInfo(recorded_camera.site.timezone)).strftime("%Y-%m-%dT%H:%M:%S"),
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    evidence = EvidenceRequest.objects.get()
    assert evidence.state == EvidenceRequest.State.PENDING
    assert [alice.email] == mail.outbox[0].to[:1]

    # The owner approves; the (eager) worker exports at once.
    response = client_for(alice).post(f"/evidence/{evidence.pk}/decision/", {"decision": "approve", "reason": ""})
    assert response.status_code == 302
    evidence.refresh_from_db()
    assert evidence.state == EvidenceRequest.State.EXPORTED, evidence.export_error
    item = evidence.items.get()
    expected = [
        s
        for s in Segment.objects.filter(camera=recorded_camera).order_by("started_at")
        if s.started_at < until and s.ended_at > since
    ]
    assert [s["key"] for s in item.sources] == [s.key for s in expected]
    assert len(expected) >= 2

    # The monitor downloads it through a presigned link of five minutes: the same bytes, every picture.
    response = monitor_client.post(f"/evidence/{evidence.pk}/items/{item.pk}/download/")
    assert response.status_code == 303
    assert "X-Amz-Expires=300" in response["Location"]
    data = _fetch(response["Location"])
    assert hashlib.sha256(data).hexdigest() == item.sha256
    assert _frames(data) == sum(_frames(_fetch_segment(s3_storage, s.key)) for s in expected)

    # Verification passes, then catches a file changed in storage.
    out = io.StringIO()
    call_command("evidence_verify", str(evidence.pk), stdout=out)
    assert "VERIFIED" in out.getvalue()
    s3.put_object(Bucket=s3_storage.bucket, Key=item.key, Body=data[:-100] + b"\x00" * 100)
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("evidence_verify", str(evidence.pk), stdout=out)
    assert f"MISMATCH  file {item.key}" in out.getvalue()

    # The chain of custody, step by step, for everyone the request concerns.
    actions = list(
        AuditEvent.objects.filter(target_type="cameras.evidencerequest", target_id=str(evidence.pk))
        .order_by("created_at", "id")
        .values_list("action", flat=True)
    )
    assert actions == [
        "evidence.create",
        "evidence.approve",
        "evidence.export",
        "evidence.download",
        "evidence.verify",
        "evidence.verify",
    ]
    for person in (monitor, alice, supervisor):
        page = client_for(person).get(f"/evidence/{evidence.pk}/").content.decode()
        for word in ("Requested", "Approved", "Exported", "Downloaded", "Verified"):
            assert word in page, (person, word)


def _fetch_segment(s3_storage: S3Endpoint, key: str) -> bytes:
    return s3_storage.client().get_object(Bucket=s3_storage.bucket, Key=key)["Body"].read()
