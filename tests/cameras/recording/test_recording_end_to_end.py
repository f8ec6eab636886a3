"""Recording end to end: the RTSP simulator, the relay's shared source, the spool, S3 on loopback and the database."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import av
import pytest
from rest_framework.authtoken.models import Token

from cameras.credentials import stream_url_encrypt, stream_url_mask
from cameras.events import camera_access_changed
from cameras.live import segment_register_spooled
from cameras.media.recorder import Recordings, spool_segments
from cameras.media.relay import Relay
from cameras.media.source import AccessUnit, nal_units
from cameras.media.uploader import Uploader
from cameras.models import Camera, Segment
from community.models import User
from community.services import agreement_revoke
from devtools.simulator import CameraSimulator
from tests.cameras.live.whep_client import stop, wait_for, watch
from tests.cameras.media.conftest import BrowserViewer, RtspForwarder, relay_running, run_async
from tests.cameras.recording.conftest import RestartableS3
from tests.cameras.recording.test_segment_mp4 import length_prefixed_nals
from tests.s3 import S3Endpoint

SEGMENT_S = 1.0  # the simulator's GOP is 1 s, so each segment is one GOP
OUTAGE_S = 60.0  # as the issue asks: S3 down for a minute while recording


@dataclass(frozen=True)
class Stored:
    key: str
    sha256_metadata: str
    sha256_of_bytes: str
    data: bytes


def bucket_contents(endpoint: S3Endpoint) -> dict[str, Stored]:
    client = endpoint.client()
    stored = {}
    for item in client.list_objects_v2(Bucket=endpoint.bucket).get("Contents", []):
        obj = client.get_object(Bucket=endpoint.bucket, Key=item["Key"])
        data = obj["Body"].read()
        stored[item["Key"]] = Stored(
            key=item["Key"],
            sha256_metadata=obj["Metadata"].get("sha256", ""),
            sha256_of_bytes=hashlib.sha256(data).hexdigest(),
            data=data,
        )
    return stored


def segments_of(camera: Camera) -> list[Segment]:
    return list(Segment.objects.filter(camera=camera).order_by("started_at"))


class UnitCollector:
    """A subscriber that keeps every picture the source hands out."""

    def __init__(self) -> None:
        self.units: list[AccessUnit] = []

    def unit_push(self, unit: AccessUnit) -> None:
        self.units.append(unit)

    def source_state_changed(self, state: str) -> None:
        pass


@asynccontextmanager
async def recording(
    relay: Relay, *, spool: Path, backoff_max_s: float = 1.0
) -> AsyncIterator[tuple[Recordings, Uploader]]:
    """What the live runtime sets up when recording is on, with this test's spool and retry cap."""
    uploader = Uploader(
        spool_dir=spool, register=segment_register_spooled, backoff_first_s=0.2, backoff_max_s=backoff_max_s
    )
    await uploader.start()
    recordings = Recordings(relay=relay, spool_dir=spool, segment_s=SEGMENT_S, on_segment=uploader.segment_spooled)
    try:
        yield recordings, uploader
    finally:
        await recordings.close()
        await uploader.idle(timeout_s=30)
        await uploader.close(timeout_s=1)


async def rows_wait(camera: Camera, *, count: int, timeout_s: float) -> list[Segment]:
    deadline = time.monotonic() + timeout_s
    while True:
        rows = await asyncio.to_thread(segments_of, camera)
        if len(rows) >= count or time.monotonic() > deadline:
            return rows
        await asyncio.sleep(0.2)


def assert_contiguous(rows: list[Segment]) -> None:
    for before, after in itertools.pairwise(rows):
        assert after.started_at == before.ended_at, (before, after)


@pytest.fixture
def recorded_camera(transactional_db, alice_camera: Camera) -> Camera:
    agreement = alice_camera.agreement
    assert agreement is not None
    agreement.recording_allowed = True
    agreement.save()
    return alice_camera


@run_async(timeout_s=90)
async def test_segments_reach_the_bucket_with_the_hash_of_the_database_and_of_their_bytes(
    s3_storage: S3Endpoint, spool: Path, recorded_camera: Camera, simulator: CameraSimulator
) -> None:
    async with relay_running() as relay, recording(relay, spool=spool) as (recordings, _):
        await recordings.reconcile(wanted={recorded_camera.pk: simulator.url(1)})
        await rows_wait(recorded_camera, count=4, timeout_s=30)

    rows = await asyncio.to_thread(segments_of, recorded_camera)
    stored = await asyncio.to_thread(bucket_contents, s3_storage)
    assert len(rows) >= 4
    assert sorted(stored) == sorted(r.key for r in rows)
    for row in rows:
        assert row.sha256 == stored[row.key].sha256_metadata == stored[row.key].sha256_of_bytes
        assert row.size_bytes == len(stored[row.key].data)
    # The last segment ends where the recorder was stopped, so it may be short; the rest are one GOP each
    # (the first one's first timestamps are FFmpeg's guess until the camera's first RTCP report).
    assert [r.duration_s for r in rows[:-1]] == [pytest.approx(SEGMENT_S, abs=0.05)] * (len(rows) - 1)
    assert_contiguous(rows)
    assert abs((rows[-1].ended_at - datetime.now(UTC)).total_seconds()) < 5
    assert not [p for p in spool.rglob("*") if p.is_file()]


@run_async(timeout_s=90)
async def test_a_recorded_and_watched_camera_is_read_once_and_recorded_byte_for_byte(
    s3_storage: S3Endpoint, spool: Path, recorded_camera: Camera, simulator: CameraSimulator
) -> None:
    forwarder = RtspForwarder(target_port=simulator.port)
    await forwarder.start()
    url = forwarder.url(simulator.url(2))
    viewer = BrowserViewer()
    collector = UnitCollector()
    try:
        async with relay_running() as relay, recording(relay, spool=spool) as (recordings, _):
            await recordings.reconcile(wanted={recorded_camera.pk: url})
            source = relay.source_acquire(camera_id=recorded_camera.pk, url=url)
            source.subscribe(collector)  # after the recorder: the same cached GOP, then the same pictures
            await viewer.watch(relay, camera_id=recorded_camera.pk, url=url)
            await viewer.frames_wait(10)
            await rows_wait(recorded_camera, count=3, timeout_s=30)
            assert forwarder.connections == 1
            assert relay.viewer_count(recorded_camera.pk) == 1
            source.unsubscribe(collector)
            relay.source_release(source)
    finally:
        await viewer.close()
        await forwarder.close()

    rows = await asyncio.to_thread(segments_of, recorded_camera)
    stored = await asyncio.to_thread(bucket_contents, s3_storage)
    samples: list[list[bytes]] = []
    for row in rows:
        path = spool.parent / "check.mp4"
        path.write_bytes(stored[row.key].data)
        with av.open(str(path)) as container:
            samples += [length_prefixed_nals(bytes(p)) for p in container.demux(video=0) if p.size]
    sent = [nal_units(unit.data) for unit in collector.units]
    # Every picture the source delivered while recording, in order and unchanged: a remux, not an encode.
    assert samples == sent[: len(samples)]
    assert len(samples) >= 20


def live_camera_on(camera: Camera, url: str) -> Camera:
    Camera.objects.filter(pk=camera.pk).update(
        stream_url_encrypted=stream_url_encrypt(url), stream_url_masked=stream_url_mask(url), health="online"
    )
    camera.refresh_from_db()
    return camera


@pytest.fixture
def recording_on(settings, tmp_path: Path) -> Path:
    settings.RECORDING_ENABLED = True
    settings.RECORDING_SEGMENT_S = SEGMENT_S
    settings.RECORDING_SPOOL_DIR = tmp_path / "relay-spool"
    return settings.RECORDING_SPOOL_DIR


def test_the_relay_records_a_camera_its_owner_lets_it_and_stops_within_seconds_of_revocation(
    s3_storage: S3Endpoint, recording_on: Path, recorded_camera: Camera, simulator, asgi_server, alice: User
) -> None:
    camera = live_camera_on(recorded_camera, simulator.url(1))
    agreement = camera.agreement
    assert agreement is not None

    async def scenario() -> tuple[int, datetime]:
        # The runtime started with the server, before this camera had its URL; the consent event of a change
        # (or the periodic rescan) is what tells it. Here: an event, as the owner's edit would send.
        await asyncio.to_thread(camera_access_changed, [camera.pk], reason="test")
        rows = await rows_wait(camera, count=3, timeout_s=30)
        assert len(rows) >= 3
        revoked_at = datetime.now(UTC)
        await asyncio.to_thread(lambda: agreement_revoke(agreement=agreement, by=alice, reason="Closed"))
        await asyncio.sleep(4)
        settled = await asyncio.to_thread(segments_of, camera)
        await asyncio.sleep(3)
        later = await asyncio.to_thread(segments_of, camera)
        assert [r.key for r in later] == [r.key for r in settled]  # nothing recorded after the last one
        return len(later), revoked_at

    count, revoked_at = asyncio.run(scenario())
    rows = segments_of(camera)
    print(
        f"{count} segments; the last ended {(rows[-1].ended_at - revoked_at).total_seconds():+.2f} s after revocation"
    )
    assert (rows[-1].ended_at - revoked_at).total_seconds() < 2.0
    stored = bucket_contents(s3_storage)
    assert sorted(stored) == sorted(r.key for r in rows)
    for row in rows:
        assert row.sha256 == stored[row.key].sha256_metadata == stored[row.key].sha256_of_bytes
    assert not [p for p in recording_on.rglob("*") if p.is_file()]


def test_a_camera_without_recording_in_its_terms_is_not_recorded(
    s3_storage: S3Endpoint, recording_on: Path, alice_camera: Camera, simulator, asgi_server, monitor
) -> None:
    camera = live_camera_on(alice_camera, simulator.url(1))
    token = Token.objects.create(user=monitor).key

    async def scenario() -> None:
        await asyncio.to_thread(camera_access_changed, [camera.pk], reason="test")
        result = await watch(f"{asgi_server.url}/live/cameras/{camera.pk}/whep", token)
        assert result.status == 201, result.error
        assert await wait_for(lambda: result.frames >= 30, timeout=15)
        await stop(result)

    asyncio.run(scenario())
    assert not Segment.objects.exists()
    assert not bucket_contents(s3_storage)


@run_async(timeout_s=240)
async def test_s3_down_for_a_minute_while_recording_loses_no_segment_and_stores_none_twice(
    restartable_s3: RestartableS3, spool: Path, recorded_camera: Camera, simulator: CameraSimulator
) -> None:
    s3 = restartable_s3
    async with relay_running() as relay, recording(relay, spool=spool, backoff_max_s=5.0) as (recordings, uploader):
        await recordings.reconcile(wanted={recorded_camera.pk: simulator.url(1)})
        before = await rows_wait(recorded_camera, count=3, timeout_s=30)
        assert len(before) >= 3

        await asyncio.to_thread(s3.stop)
        stored_before = len(before)
        await asyncio.sleep(OUTAGE_S)
        during = await asyncio.to_thread(segments_of, recorded_camera)
        waiting = spool_segments(spool_dir=spool, camera_id=recorded_camera.pk)
        await asyncio.to_thread(s3.start)
        print(f"S3 down {OUTAGE_S:.0f} s: {len(during) - stored_before} registered meanwhile, {len(waiting)} spooled")
        assert len(during) <= stored_before + 1  # at most the one whose upload was under way
        assert len(waiting) >= OUTAGE_S / SEGMENT_S - 5

        # The backlog goes up while the camera goes on being recorded.
        caught_up = await rows_wait(recorded_camera, count=len(during) + len(waiting) + 5, timeout_s=60)
        assert len(caught_up) >= len(during) + len(waiting) + 5
        await recordings.stop({recorded_camera.pk})
        assert await uploader.idle(timeout_s=30)
        uploads = uploader.uploaded

    rows = await asyncio.to_thread(segments_of, recorded_camera)
    stored = await asyncio.to_thread(bucket_contents, s3.endpoint)
    # Every segment, in the bucket and the database once each, in one unbroken run of time.
    assert sorted(stored) == [r.key for r in rows]
    assert uploads == len(rows)
    assert_contiguous(rows)
    for row in rows:
        assert row.sha256 == stored[row.key].sha256_metadata == stored[row.key].sha256_of_bytes
    # Registered oldest first, the backlog included: row ids (insertion order) rise with the start times.
    assert [r.pk for r in rows] == sorted(r.pk for r in rows)
    assert not [p for p in spool.rglob("*") if p.is_file()]
