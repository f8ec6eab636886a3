"""The recorder keeps the event loop free, bounds its memory, and follows the relay's source through changes."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import av
import pytest

from cameras.media.recorder import Recorder, Recordings, SpooledSegment
from cameras.media.relay import RelayError
from devtools.simulator import CameraSimulator
from tests.cameras.media.conftest import RtspForwarder, relay_running, run_async
from tests.cameras.recording.conftest import Collected, Picture, units_from


async def segments_wait(collected: Collected, *, count: int, timeout_s: float = 15.0) -> list[SpooledSegment]:
    deadline = time.monotonic() + timeout_s
    while len(collected.segments) < count and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    return collected.segments


def starts_with_a_keyframe_and_decodes(segment: SpooledSegment) -> bool:
    with av.open(str(segment.path)) as container:
        frames = list(container.decode(video=0))
    return bool(frames) and frames[0].key_frame and len(frames) == segment.frames


@run_async()
async def test_closing_a_recorder_finishes_the_segment_it_was_writing(spool: Path, pictures: list[Picture]) -> None:
    collected = Collected()
    recorder = Recorder(camera_id=1, spool_dir=spool, segment_s=10.0, on_segment=collected)
    recorder.start()

    for unit in units_from(pictures[:15]):
        recorder.unit_push(unit)
    assert await recorder.close()

    assert [s.frames for s in collected.segments] == [15]
    assert recorder.segments == 1
    assert starts_with_a_keyframe_and_decodes(collected.segments[0])


@run_async()
async def test_a_recorder_that_falls_behind_drops_pictures_and_resumes_at_a_keyframe(
    spool: Path, pictures: list[Picture]
) -> None:
    collected = Collected()
    units = units_from(pictures)
    room = sum(len(u.data) for u in units[:10])  # one GOP's worth
    recorder = Recorder(camera_id=1, spool_dir=spool, segment_s=10.0, on_segment=collected, queue_max_bytes=room)

    # The writer is not running yet, as if its disk had stalled: three GOPs arrive, one fits.
    for unit in units[:30]:
        recorder.unit_push(unit)
    recorder.start()
    for unit in units[30:]:
        recorder.unit_push(unit)
        await asyncio.sleep(0.01)  # the camera's pace, which the writer keeps up with
    assert await recorder.close()

    assert recorder.dropped == 20
    assert [s.frames for s in collected.segments] == [10, 30]  # what fitted; then from the next keyframe
    assert all(starts_with_a_keyframe_and_decodes(s) for s in collected.segments)


@run_async()
async def test_the_event_loop_only_queues_pictures(spool: Path, pictures: list[Picture]) -> None:
    recorder = Recorder(camera_id=1, spool_dir=spool, segment_s=1.0)
    recorder.start()
    units = units_from(pictures)

    started = time.perf_counter()
    for unit in units:
        recorder.unit_push(unit)
    took = time.perf_counter() - started
    await recorder.close()

    print(f"{len(units)} pictures queued in {took * 1000:.2f} ms")
    assert recorder.segments == 6  # the muxing happened, on the writer thread


@run_async(timeout_s=60)
async def test_a_recording_follows_its_camera_when_the_relay_closes_the_source_under_it(
    spool: Path, simulator: CameraSimulator
) -> None:
    forwarder = RtspForwarder(target_port=simulator.port)
    await forwarder.start()
    url = forwarder.url(simulator.url(1))
    collected = Collected()
    try:
        async with relay_running(grace_s=0.2) as relay:
            recordings = Recordings(relay=relay, spool_dir=spool, segment_s=1.0, on_segment=collected)
            await recordings.reconcile(wanted={5: url})
            await segments_wait(collected, count=1)
            await relay.close_camera(5, reason="The partner was suspended.")

            await recordings.reconcile(wanted={5: url})  # the next rescan
            before = len(collected.segments)
            await segments_wait(collected, count=before + 2)
            assert len(collected.segments) >= before + 2
            assert forwarder.connections == 2
            assert recordings.camera_ids() == {5}

            await recordings.reconcile(wanted={})
            assert recordings.camera_ids() == set()
            assert relay.source_state(5) is not None  # a grace period, as after a viewer
            await asyncio.sleep(0.5)
            assert relay.source_state(5) is None
    finally:
        await forwarder.close()

    assert all(starts_with_a_keyframe_and_decodes(s) for s in collected.segments)


@run_async(timeout_s=60)
async def test_a_new_stream_address_is_followed_on_the_same_shared_source(
    spool: Path, simulator: CameraSimulator
) -> None:
    collected = Collected()
    async with relay_running() as relay:
        recordings = Recordings(relay=relay, spool_dir=spool, segment_s=1.0, on_segment=collected)
        await recordings.reconcile(wanted={5: "rtsp://127.0.0.1:1/nothing-here"})
        await asyncio.sleep(0.5)
        assert not collected.segments

        await recordings.reconcile(wanted={5: simulator.url(2)})  # the owner fixed the address
        segments = await segments_wait(collected, count=2)
        await recordings.close()

    assert len(segments) >= 2
    assert all(starts_with_a_keyframe_and_decodes(s) for s in collected.segments)


@run_async()
async def test_a_relay_that_is_shutting_down_gives_no_source_to_record_from() -> None:
    async with relay_running() as relay:
        pass

    with pytest.raises(RelayError):
        relay.source_acquire(camera_id=5, url="rtsp://127.0.0.1:1/cam1")
