"""`manage.py evidence_verify`: an intact export passes; a file or manifest changed in storage is caught."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.utils import timezone

from cameras.models import Camera, EvidenceRequest, Segment
from cameras.services import evidence_export
from cameras.storage import file_sha256, object_delete, object_put, segment_key
from community.models import AuditEvent, User
from tests.cameras.evidence_media.conftest import Recording
from tests.s3 import S3Endpoint

START = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture
def exported(recording: Recording, alice_camera: Camera, alice: User, monitor: User) -> EvidenceRequest:
    """Four recorded seconds of alice's front door, requested by monica, approved by alice, exported by the worker."""
    for index, path in enumerate(recording.paths):
        started = START + timedelta(seconds=index)
        key = segment_key(camera_id=alice_camera.pk, started_at=started)
        digest = file_sha256(path=path)
        object_put(name=key, path=path, sha256=digest, content_type="video/mp4")
        Segment.objects.create(
            camera=alice_camera,
            started_at=started,
            ended_at=started + timedelta(seconds=1),
            key=key,
            size_bytes=path.stat().st_size,
            sha256=digest,
        )
    request = EvidenceRequest.objects.create(
        business=alice_camera.business,
        case_number="2026-001234",
        reason="Break-in next door",
        window_start=START,
        window_end=START + timedelta(seconds=4),
        requested_by=monitor,
        state=EvidenceRequest.State.APPROVED,
        decided_by=alice,
        decided_at=timezone.now(),
        decision_reason="Glad to help.",
    )
    request.cameras.set([alice_camera])
    done = evidence_export(request_id=request.pk, claim="test-export")
    assert done is not None and done.state == EvidenceRequest.State.EXPORTED
    return done


def verify(request: EvidenceRequest, *args: str) -> tuple[str, bool]:
    """The command's output, and whether it exited 0."""
    out = io.StringIO()
    try:
        call_command("evidence_verify", str(request.pk), *args, stdout=out)
    except CommandError:
        return out.getvalue(), False
    return out.getvalue(), True


def lines_starting(output: str, status: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith(status + " ")]


def last_verdict(request: EvidenceRequest) -> AuditEvent:
    return AuditEvent.objects.filter(action="evidence.verify", target_id=str(request.pk)).latest("created_at")


def changed(data: bytes) -> bytes:
    """One byte different, in the middle, where the pictures are: same length, different hash."""
    middle = len(data) // 2
    return data[:middle] + bytes([data[middle] ^ 0x01]) + data[middle + 1 :]


def s3_put(s3: S3Endpoint, *, key: str, data: bytes) -> None:
    # With Object Lock the bucket is versioned: the exported version stays, but a plain GET now
    # returns this one, as it would for anyone fetching the file by name.
    s3.client().put_object(Bucket=s3.bucket, Key=key, Body=data)


def s3_get(s3: S3Endpoint, *, key: str) -> bytes:
    return s3.client().get_object(Bucket=s3.bucket, Key=key)["Body"].read()


@pytest.mark.django_db
def test_an_intact_export_on_s3_is_verified_and_the_command_exits_0(
    s3_storage: S3Endpoint, exported: EvidenceRequest
) -> None:
    output, exited_ok = verify(exported)

    assert exited_ok, output
    assert not lines_starting(output, "MISMATCH") and not lines_starting(output, "MISSING")
    item = exported.items.get()
    assert f"OK        file {item.key}: sha256 {item.sha256}" in output
    assert "OK        manifest signature: valid Ed25519 signature" in output
    assert len([line for line in lines_starting(output, "OK") if " source " in line]) == 4
    assert output.splitlines()[-1].startswith("VERIFIED: all 8 checks passed")
    verdict = last_verdict(exported)
    assert verdict.details["ok"] is True
    assert verdict.actor is None and verdict.actor_label == "evidence_verify"


@pytest.mark.django_db
def test_an_exported_file_changed_on_s3_is_a_mismatch_and_the_command_fails(
    s3_storage: S3Endpoint, exported: EvidenceRequest
) -> None:
    item = exported.items.get()
    s3_put(s3_storage, key=item.key, data=changed(s3_get(s3_storage, key=item.key)))

    output, exited_ok = verify(exported)

    assert not exited_ok
    assert [line.split(":")[0] for line in lines_starting(output, "MISMATCH")] == [f"MISMATCH  file {item.key}"]
    assert output.splitlines()[-1].startswith("FAILED: 1 of 8 checks failed")
    # Object Lock kept the export's own version under the new one, and the report says so.
    assert f"the exported version {item.version_id} is intact" in output
    verdict = last_verdict(exported)
    assert verdict.details["ok"] is False
    assert item.key in verdict.details["details"]


@pytest.mark.django_db
def test_a_manifest_changed_on_s3_breaks_its_hash_and_its_signature(
    s3_storage: S3Endpoint, exported: EvidenceRequest
) -> None:
    manifest = s3_get(s3_storage, key=exported.manifest_key)
    assert b"Break-in next door" in manifest
    s3_put(s3_storage, key=exported.manifest_key, data=manifest.replace(b"Break-in next door", b"Break-in next gate"))

    output, exited_ok = verify(exported)

    assert not exited_ok
    mismatches = lines_starting(output, "MISMATCH")
    assert [line.split(":")[0] for line in mismatches] == [
        f"MISMATCH  manifest {exported.manifest_key}",
        "MISMATCH  manifest signature",
    ]
    assert last_verdict(exported).details["ok"] is False


@pytest.mark.django_db
def test_on_local_files_an_intact_export_passes_and_a_changed_file_fails(exported: EvidenceRequest) -> None:
    output, exited_ok = verify(exported)
    assert exited_ok, output

    exported_file = Path(default_storage.path(exported.items.get().key))
    exported_file.write_bytes(changed(exported_file.read_bytes()))
    output, exited_ok = verify(exported)

    assert not exited_ok
    assert len(lines_starting(output, "MISMATCH")) == 1


@pytest.mark.django_db
def test_source_segments_deleted_by_retention_are_reported_without_failing(exported: EvidenceRequest) -> None:
    first = Segment.objects.order_by("started_at").first()
    assert first is not None
    object_delete(name=first.key)
    first.delete()

    output, exited_ok = verify(exported)

    assert exited_ok, output
    assert lines_starting(output, "MISSING") == [f"MISSING   source {first.key}: deleted by retention"]
    assert output.splitlines()[-1] == "VERIFIED: 7 checks passed; 1 source segment(s) no longer in storage."


@pytest.mark.django_db
def test_a_source_segment_changed_in_storage_fails(exported: EvidenceRequest) -> None:
    last = Segment.objects.order_by("started_at").last()
    assert last is not None
    path = Path(default_storage.path(last.key))
    path.write_bytes(changed(path.read_bytes()))

    output, exited_ok = verify(exported)

    assert not exited_ok
    assert [line.split(":")[0] for line in lines_starting(output, "MISMATCH")] == [f"MISMATCH  source {last.key}"]


@pytest.mark.django_db
def test_a_missing_exported_file_fails(exported: EvidenceRequest) -> None:
    Path(default_storage.path(exported.items.get().key)).unlink()

    output, exited_ok = verify(exported)

    assert not exited_ok
    assert len(lines_starting(output, "MISSING")) == 1


@pytest.mark.django_db
def test_whoever_verifies_with_by_is_named_in_the_chain_of_custody(exported: EvidenceRequest, supervisor: User) -> None:
    _, exited_ok = verify(exported, "--by", supervisor.email)

    assert exited_ok
    assert last_verdict(exported).actor == supervisor


@pytest.mark.django_db
def test_a_request_not_yet_exported_cannot_be_verified(alice_camera: Camera, monitor: User) -> None:
    request = EvidenceRequest.objects.create(
        business=alice_camera.business,
        case_number="2026-000001",
        reason="Theft",
        window_start=START,
        window_end=START + timedelta(minutes=5),
        requested_by=monitor,
    )

    with pytest.raises(CommandError, match="has not been exported"):
        call_command("evidence_verify", str(request.pk), stdout=io.StringIO())
    assert not AuditEvent.objects.filter(action="evidence.verify").exists()
