"""An export that runs longer than its lease keeps it: the worker renews the lease while it works, so that a
second claim made meanwhile (a redelivered or resumed task on another worker) is refused."""

from __future__ import annotations

import os
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.files.storage import default_storage
from django.db import connection
from django.utils import timezone

from cameras.models import Camera, EvidenceItem, EvidenceRequest, Segment
from cameras.services import evidence_export, evidence_export_claim
from community.models import SharingAgreement, User
from tests.cameras.recorded import segments_stored

LEASE_S = 2


@pytest.fixture
def slow_segment_export(
    transactional_db: None,
    alice_camera: Camera,
    alice_agreement: SharingAgreement,
    monitor: User,
    alice: User,
    tmp_path: Path,
) -> tuple[EvidenceRequest, Path, bytes]:
    """An approved request whose middle segment is a named pipe in the store: reading it waits until the test
    writes it, like a store that takes minutes to answer."""
    alice_agreement.recording_allowed = True
    alice_agreement.save()
    start = timezone.now() - timedelta(hours=1)
    segments: list[Segment] = segments_stored(camera=alice_camera, start=start, count=3, seconds=1, scratch=tmp_path)
    slow = Path(default_storage.path(segments[1].key))
    data = slow.read_bytes()
    slow.unlink()
    os.mkfifo(slow)
    request = EvidenceRequest.objects.create(
        business=alice_camera.business,
        case_number="2026-000111",
        reason="Robbery",
        window_start=start,
        window_end=start + timedelta(minutes=5),
        requested_by=monitor,
        decided_by=alice,
        decided_at=timezone.now(),
        state=EvidenceRequest.State.APPROVED,
    )
    request.cameras.set([alice_camera])
    return request, slow, data


def test_an_export_longer_than_its_lease_is_never_taken_over_and_ends_exported(
    slow_segment_export: tuple[EvidenceRequest, Path, bytes], settings: Any
) -> None:
    request, slow, data = slow_segment_export
    settings.EVIDENCE_EXPORT_LEASE_S = LEASE_S
    outcome: dict[str, Any] = {}

    def first_worker() -> None:
        try:
            outcome["result"] = evidence_export(request_id=request.pk, claim="task-1")
        except BaseException as error:  # reported by the test below
            outcome["error"] = error
        finally:
            connection.close()

    worker = threading.Thread(target=first_worker)
    worker.start()
    takeovers = []
    try:
        deadline = time.monotonic() + 60
        while EvidenceRequest.objects.get(pk=request.pk).state != EvidenceRequest.State.EXPORTING:
            assert time.monotonic() < deadline, "the export never started"
            time.sleep(0.05)
        # The worker now waits on the slow segment for three leases; another worker tries to take over
        # all the while, as a redelivered task would.
        until = time.monotonic() + 3 * LEASE_S
        while time.monotonic() < until:
            takeovers.append(evidence_export_claim(request_id=request.pk, claim="task-2"))
            time.sleep(0.25)
    finally:
        with slow.open("wb") as pipe:  # lets the worker read the segment and finish
            pipe.write(data)
        worker.join(timeout=120)

    assert "error" not in outcome, outcome.get("error")
    assert takeovers and all(claim is None for claim in takeovers)
    request.refresh_from_db()
    assert (request.state, request.export_claim) == (EvidenceRequest.State.EXPORTED, "task-1")
    assert outcome["result"] is not None
    item = EvidenceItem.objects.get(request=request)
    assert len(item.sources) == 3
