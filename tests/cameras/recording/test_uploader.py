"""The uploader moves spooled segments to storage in order, exactly once, through crashes and outages."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest

from cameras import storage
from cameras.live import segment_register_spooled
from cameras.media import uploader as uploader_module
from cameras.media.recorder import PART_SUFFIX, Segmenter, SpooledSegment, spool_segments
from cameras.media.uploader import Uploader
from cameras.models import Camera, Segment
from cameras.storage import StorageUnavailable, object_open, segment_key
from tests.cameras.media.conftest import run_async
from tests.cameras.recording.conftest import Collected, Picture, units_from

pytestmark = pytest.mark.usefixtures("transactional_db")


class Crash(BaseException):
    """The process dying: not an error the uploader could catch and retry."""


@pytest.fixture
def local_storage(settings, tmp_path: Path) -> Path:
    location = tmp_path / "media"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(location)}},
    }
    return location


def spooled(spool: Path, pictures: list[Picture], *, camera_id: int, segment_s: float = 2.0) -> list[SpooledSegment]:
    """What a recorder left in the spool: here three 2 s segments of the camera."""
    collected = Collected()
    seg = Segmenter(camera_id=camera_id, spool_dir=spool, segment_s=segment_s, on_segment=collected)
    for unit in units_from(pictures):
        seg.unit_add(unit)
    seg.close()
    return collected.segments


class Registrations:
    """The real registration, noting the order it was asked in; `crash_before`/`crash_after` kill the process
    around the n-th call."""

    def __init__(self, *, crash_before: int | None = None, crash_after: int | None = None) -> None:
        self.keys: list[str] = []
        self._crash_before = crash_before
        self._crash_after = crash_after

    async def __call__(self, *, segment: SpooledSegment, key: str) -> bool:
        self.keys.append(key)
        if len(self.keys) == self._crash_before:
            raise Crash
        known = await segment_register_spooled(segment=segment, key=key)
        if len(self.keys) == self._crash_after:
            raise Crash
        return known


async def deliver_all(spool: Path, register: Any, **options: Any) -> Uploader:
    uploader = Uploader(spool_dir=spool, register=register, backoff_first_s=0.05, backoff_max_s=0.2, **options)
    await uploader.start()
    await uploader.idle(timeout_s=20)
    await uploader.close(timeout_s=1)
    return uploader


def stored_bytes(key: str) -> bytes:
    with object_open(name=key) as f:
        return f.read()


def key_of(segment: SpooledSegment) -> str:
    return segment_key(camera_id=segment.camera_id, started_at=segment.started_at)


def spool_files(spool: Path) -> list[Path]:
    return sorted(p for p in spool.rglob("*") if p.is_file())


@run_async()
async def test_it_delivers_each_cameras_segments_oldest_first_and_empties_the_spool(
    local_storage: Path, spool: Path, pictures: list[Picture], alice_camera: Camera, charlie_camera: Camera
) -> None:
    alices = spooled(spool, pictures, camera_id=alice_camera.pk)
    charlies = spooled(spool, pictures, camera_id=charlie_camera.pk)
    contents = {key_of(s): s.path.read_bytes() for s in alices + charlies}
    registrations = Registrations()

    await deliver_all(spool, registrations)

    asked = registrations.keys
    assert [k for k in asked if f"camera-{alice_camera.pk}/" in k] == [key_of(s) for s in alices]
    assert [k for k in asked if f"camera-{charlie_camera.pk}/" in k] == [key_of(s) for s in charlies]
    rows = await asyncio.to_thread(lambda: list(Segment.objects.order_by("camera_id", "started_at")))
    assert [(r.camera_id, r.key, r.sha256, r.size_bytes) for r in rows] == [
        (s.camera_id, key_of(s), s.sha256, s.size_bytes) for s in alices + charlies
    ]
    assert [r.started_at for r in rows[:3]] == [s.started_at for s in alices]
    for key, data in contents.items():
        assert await asyncio.to_thread(stored_bytes, key) == data
    assert spool_files(spool) == []


@run_async()
async def test_a_crash_between_upload_and_registration_is_made_good_once_by_the_next_process(
    local_storage: Path, spool: Path, pictures: list[Picture], alice_camera: Camera
) -> None:
    segments = spooled(spool, pictures, camera_id=alice_camera.pk)
    second = segments[1].path.read_bytes()

    await deliver_all(spool, Registrations(crash_before=2))

    assert await asyncio.to_thread(Segment.objects.count) == 1
    assert await asyncio.to_thread(storage.object_exists, name=key_of(segments[1]))  # stored, not registered
    assert len(spool_segments(spool_dir=spool, camera_id=alice_camera.pk)) == 2

    again = Registrations()
    await deliver_all(spool, again)

    assert again.keys == [key_of(s) for s in segments[1:]]
    keys = await asyncio.to_thread(lambda: list(Segment.objects.values_list("key", flat=True)))
    assert sorted(keys) == sorted(key_of(s) for s in segments)
    assert await asyncio.to_thread(stored_bytes, key_of(segments[1])) == second
    assert spool_files(spool) == []


@run_async()
async def test_a_crash_between_registration_and_deleting_the_spool_files_registers_nothing_twice(
    local_storage: Path, spool: Path, pictures: list[Picture], alice_camera: Camera
) -> None:
    segments = spooled(spool, pictures, camera_id=alice_camera.pk)
    second = segments[1].path.read_bytes()

    await deliver_all(spool, Registrations(crash_after=2))

    assert await asyncio.to_thread(Segment.objects.count) == 2
    assert len(spool_segments(spool_dir=spool, camera_id=alice_camera.pk)) == 2  # the second is still spooled

    again = Registrations()
    await deliver_all(spool, again)

    assert again.keys == [key_of(s) for s in segments[1:]]  # asked again: the answer is the existing row
    assert await asyncio.to_thread(Segment.objects.count) == 3
    assert await asyncio.to_thread(stored_bytes, key_of(segments[1])) == second
    assert spool_files(spool) == []


@run_async()
async def test_a_sidecar_whose_video_was_already_deleted_counts_as_delivered(
    local_storage: Path, spool: Path, pictures: list[Picture], alice_camera: Camera
) -> None:
    segments = spooled(spool, pictures, camera_id=alice_camera.pk)
    segments[0].path.unlink()  # the process ended between deleting the video and its sidecar
    registrations = Registrations()

    await deliver_all(spool, registrations)

    assert registrations.keys == [key_of(s) for s in segments[1:]]
    assert spool_files(spool) == []


@run_async()
async def test_an_unreachable_store_keeps_the_files_and_the_order_until_it_answers(
    local_storage: Path, spool: Path, pictures: list[Picture], alice_camera: Camera, monkeypatch, caplog
) -> None:
    segments = spooled(spool, pictures, camera_id=alice_camera.pk)
    attempts: list[str] = []
    real_put = uploader_module.object_put

    def flaky_put(**kwargs: Any) -> storage.StoredObject:
        attempts.append(kwargs["name"])
        if len(attempts) <= 4:
            assert spool_files(spool)  # nothing was given up meanwhile
            raise StorageUnavailable("Could not connect to the endpoint URL")
        return real_put(**kwargs)

    monkeypatch.setattr(uploader_module, "object_put", flaky_put)
    registrations = Registrations()

    with caplog.at_level(logging.INFO, logger="cameras.media.uploader"):
        await deliver_all(spool, registrations)

    keys = [key_of(s) for s in segments]
    assert attempts == [keys[0]] * 5 + keys[1:]  # the oldest again and again; nothing overtook it
    assert registrations.keys == keys
    assert spool_files(spool) == []
    assert "storage unavailable" in caplog.text
    assert "stored after 4 failed attempts" in caplog.text


@run_async()
async def test_a_spool_past_its_size_warning_is_reported_and_nothing_is_deleted(
    local_storage: Path, spool: Path, pictures: list[Picture], alice_camera: Camera, monkeypatch, caplog
) -> None:
    spooled(spool, pictures, camera_id=alice_camera.pk)
    before = spool_files(spool)

    def down(**kwargs: Any) -> storage.StoredObject:
        raise StorageUnavailable("Could not connect to the endpoint URL")

    monkeypatch.setattr(uploader_module, "object_put", down)
    uploader = Uploader(spool_dir=spool, register=Registrations(), backoff_first_s=0.05, spool_warn_bytes=1000)
    with caplog.at_level(logging.ERROR, logger="cameras.media.uploader"):
        await uploader.start()
        assert not await uploader.idle(timeout_s=0.5)
        await uploader.close(timeout_s=0.1)

    assert "waiting for storage" in caplog.text
    assert spool_files(spool) == before


@run_async()
async def test_an_incomplete_file_from_a_crash_is_left_in_place_and_reported(
    local_storage: Path, spool: Path, pictures: list[Picture], alice_camera: Camera, caplog
) -> None:
    segments = spooled(spool, pictures, camera_id=alice_camera.pk)
    half = segments[-1].path.with_name("20990101T000000.000000Z.mp4" + PART_SUFFIX)
    half.write_bytes(b"\x00\x00\x00\x18ftypisom")

    with caplog.at_level(logging.WARNING, logger="cameras.media.uploader"):
        await deliver_all(spool, Registrations())

    assert "1 incomplete files" in caplog.text
    assert spool_files(spool) == [half]
    assert await asyncio.to_thread(Segment.objects.count) == 3


@run_async()
async def test_segments_of_a_removed_camera_are_not_kept_anywhere(
    local_storage: Path, spool: Path, pictures: list[Picture], alice_camera: Camera, caplog
) -> None:
    segments = spooled(spool, pictures, camera_id=alice_camera.pk)
    await asyncio.to_thread(alice_camera.delete)

    with caplog.at_level(logging.WARNING, logger="cameras.media.uploader"):
        await deliver_all(spool, Registrations())

    assert "was removed" in caplog.text
    for segment in segments:
        assert not await asyncio.to_thread(storage.object_exists, name=key_of(segment))
    assert spool_files(spool) == []
