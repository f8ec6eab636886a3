"""The segmenter cuts a camera's pictures into segments on keyframes, with wall-clock times from arrival and pts."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cameras.media.recorder import PART_SUFFIX, Segmenter, SpooledSegment, spool_segments, sps_size
from cameras.media.source import CLOCK_RATE, NAL_SPS, AccessUnit, nal_units
from tests.cameras.recording.conftest import TICKS, Collected, Picture, pictures_encoded, units_from


def segmenter(spool: Path, *, segment_s: float = 2.0) -> tuple[Segmenter, Collected]:
    collected = Collected()
    return Segmenter(camera_id=7, spool_dir=spool, segment_s=segment_s, on_segment=collected), collected


def feed(seg: Segmenter, units: list[AccessUnit]) -> None:
    for unit in units:
        seg.unit_add(unit)


def seconds(segment: SpooledSegment) -> float:
    return (segment.ended_at - segment.started_at).total_seconds()


def test_segments_are_cut_at_the_first_keyframe_at_or_after_the_target_length(
    spool: Path, pictures: list[Picture]
) -> None:
    seg, collected = segmenter(spool, segment_s=2.0)

    feed(seg, units_from(pictures))  # 6 s, keyframe every second
    seg.close()

    assert [s.frames for s in collected.segments] == [20, 20, 20]
    assert [seconds(s) for s in collected.segments] == [2.0, 2.0, 2.0]


def test_a_target_between_keyframes_waits_for_the_next_keyframe(spool: Path, pictures: list[Picture]) -> None:
    seg, collected = segmenter(spool, segment_s=1.5)

    feed(seg, units_from(pictures))
    seg.close()

    assert [s.frames for s in collected.segments] == [20, 20, 20]


def test_a_very_long_gop_is_never_cut_between_keyframes(spool: Path) -> None:
    long_gop = pictures_encoded(count=45, gop=30)  # keyframes at 0 s and 3 s
    seg, collected = segmenter(spool, segment_s=1.0)

    feed(seg, units_from(long_gop))
    seg.close()

    assert [s.frames for s in collected.segments] == [30, 15]


def test_a_new_connection_starts_a_new_segment_at_its_first_keyframe(spool: Path, pictures: list[Picture]) -> None:
    seg, collected = segmenter(spool, segment_s=10.0)
    first = units_from(pictures[:25], epoch=1)
    # The camera reconnected: a new clock, and pictures from mid-GOP that cannot be decoded alone.
    second = units_from(pictures[25:], start_pts=12345, epoch=2, received=first[-1].received + 1.0)

    feed(seg, first + second)
    seg.close()

    assert [s.frames for s in collected.segments] == [25, 30]
    assert second[5].keyframe and not any(u.keyframe for u in second[:5])


def test_pictures_before_the_first_keyframe_are_not_recorded(spool: Path, pictures: list[Picture]) -> None:
    seg, collected = segmenter(spool, segment_s=10.0)

    feed(seg, units_from(pictures[3:]))
    seg.close()

    assert collected.segments[0].frames == 60 - 10


def test_wall_times_come_from_arrival_and_pts_and_follow_on_without_a_gap(spool: Path, pictures: list[Picture]) -> None:
    seg, collected = segmenter(spool, segment_s=2.0)
    arrived = time.monotonic() - 30.0  # thirty seconds ago, say from the cached GOP
    wall_then = datetime.now(UTC) - timedelta(seconds=30)

    feed(seg, units_from(pictures, received=arrived))
    seg.close()

    first, *rest = collected.segments
    assert abs((first.started_at - wall_then).total_seconds()) < 0.05
    assert first.started_at.tzinfo == UTC
    for before, after in zip(collected.segments, rest, strict=False):
        assert after.started_at == before.ended_at
    assert collected.segments[-1].ended_at == first.started_at + timedelta(seconds=6)


def test_a_camera_clock_that_drifts_is_re_anchored_at_a_cut(spool: Path, pictures: list[Picture]) -> None:
    seg, collected = segmenter(spool, segment_s=2.0)
    units = units_from(pictures)
    # From the third second the pictures arrive 3 s later than the camera's clock says.
    late = [replace(u, received=u.received + 3.0) if i >= 20 else u for i, u in enumerate(units)]

    feed(seg, late)
    seg.close()

    starts = [s.started_at for s in collected.segments]
    assert abs((starts[1] - starts[0]).total_seconds() - 5.0) < 0.01
    assert collected.segments[1].started_at >= collected.segments[0].ended_at


def test_a_jump_in_the_cameras_clock_ends_the_segment(spool: Path, pictures: list[Picture]) -> None:
    seg, collected = segmenter(spool, segment_s=10.0)
    units = units_from(pictures)
    jumped = units[:15] + [replace(u, pts=u.pts + 60 * CLOCK_RATE) for u in units[15:]]

    feed(seg, jumped)
    seg.close()

    assert [s.frames for s in collected.segments] == [15, 40]


def test_new_parameter_sets_start_a_new_segment(spool: Path, pictures: list[Picture]) -> None:
    bigger = pictures_encoded(count=20, gop=10, width=640, height=360)
    seg, collected = segmenter(spool, segment_s=10.0)
    units = units_from(pictures[:20] + bigger)

    feed(seg, units)
    seg.close()

    assert [s.frames for s in collected.segments] == [20, 20]


def test_a_gap_ends_the_segment_and_recording_resumes_at_a_keyframe(spool: Path, pictures: list[Picture]) -> None:
    seg, collected = segmenter(spool, segment_s=10.0)
    units = units_from(pictures)

    feed(seg, units[:13])
    seg.gap()
    feed(seg, units[15:])
    seg.close()

    assert [s.frames for s in collected.segments] == [13, 40]
    assert seconds(collected.segments[0]) == pytest.approx(1.3)


def test_a_segment_is_complete_only_with_its_sidecar_and_the_spool_sorts_by_start_time(
    spool: Path, pictures: list[Picture]
) -> None:
    seg, collected = segmenter(spool, segment_s=2.0)

    feed(seg, units_from(pictures[:35]))

    folder = spool / "7"
    writing = [p.name for p in folder.iterdir() if p.name.endswith(PART_SUFFIX)]
    assert len(writing) == 1  # the third segment, still being written, has no sidecar
    assert spool_segments(spool_dir=spool, camera_id=7) == collected.segments
    seg.close()
    assert not [p for p in folder.iterdir() if p.name.endswith(PART_SUFFIX)]
    listed = spool_segments(spool_dir=spool, camera_id=7)
    assert listed == collected.segments
    assert [s.started_at for s in listed] == sorted(s.started_at for s in listed)
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        name for s in listed for name in (s.path.name, s.sidecar.name)
    )


@pytest.mark.parametrize(("width", "height"), [(320, 180), (1920, 1080), (640, 360)])
def test_the_picture_size_is_read_from_the_sps(width: int, height: int) -> None:
    keyframe = pictures_encoded(count=1, gop=1, width=width, height=height)[0]
    sps = next(nal for nal in nal_units(keyframe.data) if nal[0] & 0x1F == NAL_SPS)

    assert sps_size(sps) == (width, height)


def test_pts_spacing_gives_each_picture_its_duration(spool: Path, pictures: list[Picture]) -> None:
    seg, collected = segmenter(spool, segment_s=10.0)

    feed(seg, units_from(pictures[:10]))
    seg.close()

    assert seconds(collected.segments[0]) == pytest.approx(10 * TICKS / CLOCK_RATE)
