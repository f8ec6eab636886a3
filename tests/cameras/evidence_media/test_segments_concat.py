"""Segments joined into one MP4 by remux: every packet as recorded, on one rising timeline, with its hash."""

from __future__ import annotations

import functools
import hashlib
import io
import itertools
import json
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import av
import pytest

from cameras.media.export import ConcatResult, ExportError, segments_concat
from tests.cameras.evidence_media.conftest import (
    CLOCK,
    FPS,
    FRAME_TICKS,
    Recording,
    Video,
    segment_without_parameter_sets,
    segment_write,
)

ROOT = Path(__file__).resolve().parents[3]


def opener(path: Path) -> Callable[[], BinaryIO]:
    return functools.partial(path.open, "rb")


def concat(paths: list[Path], out: Path, **options) -> ConcatResult:
    return segments_concat(sources=[opener(p) for p in paths], out_path=out, **options)


def packets_of(path: Path) -> list[av.Packet]:
    with av.open(str(path)) as container:
        return [p for p in container.demux(container.streams.video[0]) if p.dts is not None]


def payloads_of(path: Path) -> list[bytes]:
    return [bytes(p) for p in packets_of(path)]


def frames_of(path: Path) -> list[av.VideoFrame]:
    with av.open(str(path)) as container:
        return list(container.decode(container.streams.video[0]))


class Unseekable(io.RawIOBase):
    """A response body as S3 sends it: read() only."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        chunk = self._data.read(min(len(buffer), 4096))
        buffer[: len(chunk)] = chunk
        return len(chunk)


def test_segments_become_one_mp4_that_decodes_from_start_to_end(recording: Recording, tmp_path: Path) -> None:
    result = concat(recording.paths, tmp_path / "out.mp4")

    frames = frames_of(tmp_path / "out.mp4")
    assert len(frames) == result.packets == 4 * recording.frames_per_segment
    assert (frames[0].width, frames[0].height) == (320, 180)
    assert result.duration_s == pytest.approx(4.0)


def test_every_packet_is_copied_byte_for_byte_so_nothing_was_re_encoded(recording: Recording, tmp_path: Path) -> None:
    concat(recording.paths, tmp_path / "out.mp4")

    recorded = [payload for path in recording.paths for payload in payloads_of(path)]
    assert payloads_of(tmp_path / "out.mp4") == recorded


def test_timestamps_rise_one_frame_at_a_time_across_segments(recording: Recording, tmp_path: Path) -> None:
    # The fixture's segments alternate between starting at zero and carrying on from the one before.
    concat(recording.paths, tmp_path / "out.mp4")

    packets = packets_of(tmp_path / "out.mp4")
    seconds = [float(p.dts * p.time_base) for p in packets]
    steps = {round(b - a, 6) for a, b in itertools.pairwise(seconds)}
    assert steps == {1 / FPS}
    assert seconds[0] == 0
    assert [p.pts for p in packets] == [p.dts for p in packets]


def test_keyframes_stay_where_the_camera_put_them(recording: Recording, tmp_path: Path) -> None:
    concat(recording.paths, tmp_path / "out.mp4")

    keyframes = [index for index, p in enumerate(packets_of(tmp_path / "out.mp4")) if p.is_keyframe]
    assert keyframes == [0, 10, 20, 30]


def test_the_sha256_and_size_are_those_of_the_file_written(recording: Recording, tmp_path: Path) -> None:
    result = concat(recording.paths, tmp_path / "out.mp4")

    data = (tmp_path / "out.mp4").read_bytes()
    assert result.sha256 == hashlib.sha256(data).hexdigest()
    assert result.size_bytes == len(data)


def test_the_same_segments_give_the_same_bytes_every_time(recording: Recording, tmp_path: Path) -> None:
    first = concat(recording.paths, tmp_path / "first.mp4")
    second = concat(recording.paths, tmp_path / "second.mp4")

    assert first.sha256 == second.sha256


def test_progress_is_reported_after_each_segment(recording: Recording, tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []

    concat(recording.paths, tmp_path / "out.mp4", progress=lambda done, total: calls.append((done, total)))

    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]


def test_a_gap_in_the_recording_stays_a_gap_when_start_times_are_given(recording: Recording, tmp_path: Path) -> None:
    # The camera was away for 5 s between the second and third segments.
    result = concat(recording.paths, tmp_path / "out.mp4", source_starts_s=[100.0, 101.0, 107.0, 108.0])

    seconds = [float(p.dts * p.time_base) for p in packets_of(tmp_path / "out.mp4")]
    assert seconds[19] == pytest.approx(1.9)
    assert seconds[20] == pytest.approx(7.0)
    assert result.duration_s == pytest.approx(9.0)
    assert len(frames_of(tmp_path / "out.mp4")) == 40


def test_start_times_a_few_frames_off_do_not_open_gaps(recording: Recording, tmp_path: Path) -> None:
    concat(recording.paths, tmp_path / "out.mp4", source_starts_s=[0.0, 1.03, 1.98, 3.2])

    seconds = [float(p.dts * p.time_base) for p in packets_of(tmp_path / "out.mp4")]
    assert {round(b - a, 6) for a, b in itertools.pairwise(seconds)} == {1 / FPS}


def test_a_camera_that_comes_back_at_another_size_plays_on_in_the_same_file(
    recording: Recording, video_160: Video, tmp_path: Path
) -> None:
    smaller = segment_write(path=tmp_path / "small.mp4", video=video_160, units=video_160.second(0))

    result = concat([recording.paths[0], smaller, recording.paths[1]], tmp_path / "out.mp4")

    sizes = [(f.width, f.height) for f in frames_of(tmp_path / "out.mp4")]
    assert sizes == [(320, 180)] * FPS + [(160, 90)] * FPS + [(320, 180)] * FPS
    assert result.parameter_changes == 1  # the third segment is like the first one again


def test_a_new_size_without_parameter_sets_in_band_gets_them_put_in_front_of_its_keyframe(
    recording: Recording, video_160: Video, tmp_path: Path
) -> None:
    recorded = segment_write(path=tmp_path / "recorded.mp4", video=video_160, units=video_160.second(0))
    smaller = segment_without_parameter_sets(source=recorded, path=tmp_path / "small.mp4")

    concat([recording.paths[0], smaller], tmp_path / "out.mp4")

    sizes = [(f.width, f.height) for f in frames_of(tmp_path / "out.mp4")]
    assert sizes == [(320, 180)] * FPS + [(160, 90)] * FPS
    payloads = payloads_of(tmp_path / "out.mp4")
    assert payloads[FPS + 1 :] == payloads_of(smaller)[1:]  # only the keyframe gained its SPS and PPS


def test_a_source_that_cannot_seek_is_read_all_the_same(recording: Recording, tmp_path: Path) -> None:
    bodies = [p.read_bytes() for p in recording.paths]
    sources = [functools.partial(lambda data: io.BufferedReader(Unseekable(data)), body) for body in bodies]

    result = segments_concat(sources=sources, out_path=tmp_path / "out.mp4")

    assert result.packets == 40
    assert payloads_of(tmp_path / "out.mp4") == [x for p in recording.paths for x in payloads_of(p)]
    assert [p.name for p in tmp_path.iterdir()] == ["out.mp4"]  # the spooled copies are gone


def test_every_source_is_closed(recording: Recording, tmp_path: Path) -> None:
    opened: list[BinaryIO] = []

    def source(path: Path) -> BinaryIO:
        opened.append(path.open("rb"))
        return opened[-1]

    segments_concat(sources=[functools.partial(source, p) for p in recording.paths], out_path=tmp_path / "out.mp4")

    assert len(opened) == 4
    assert all(f.closed for f in opened)


def test_an_unreadable_segment_is_named_and_leaves_no_file(recording: Recording, tmp_path: Path) -> None:
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypisom" + b"\x00" * 200)

    with pytest.raises(ExportError, match="Segment 2"):
        concat([recording.paths[0], broken, recording.paths[1]], tmp_path / "out.mp4")

    assert not (tmp_path / "out.mp4").exists()


def test_no_segments_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ExportError):
        segments_concat(sources=[], out_path=tmp_path / "out.mp4")


_PEAK_RSS_CHILD = textwrap.dedent(
    """
    import functools, json, sys
    from pathlib import Path
    from cameras.media.export import segments_concat

    segment, count, out = Path(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
    result = segments_concat(sources=[functools.partial(segment.open, "rb")] * count, out_path=out)
    peak_kb = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
    print(json.dumps({"peak_rss_kb": peak_kb, "size": result.size_bytes}))
    """
)


def _peak_rss_mb(*, segment: Path, count: int, out: Path) -> tuple[float, int]:
    # A process of its own: PyAV allocates in C, where tracemalloc does not look, and peak RSS never goes down.
    # The peak is the kernel's VmHWM: getrusage's ru_maxrss would start at pytest's own, kept across exec.
    done = subprocess.run(
        [sys.executable, "-c", _PEAK_RSS_CHILD, str(segment), str(count), str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    out.unlink()
    return figures["peak_rss_kb"] / 1024, figures["size"]


def test_memory_stays_flat_whatever_the_number_of_segments(recording: Recording, tmp_path: Path) -> None:
    segment = recording.paths[0]  # ~250 kB; 200 of them make a 50 MB export

    few_mb, few_size = _peak_rss_mb(segment=segment, count=20, out=tmp_path / "few.mp4")
    many_mb, many_size = _peak_rss_mb(segment=segment, count=200, out=tmp_path / "many.mp4")

    grown_mb = (many_size - few_size) / 2**20
    assert grown_mb > 40
    # Holding the output or the segments in memory would add ~45 MB; allocator noise is a few MB.
    assert many_mb - few_mb < 15, f"peak RSS {few_mb:.1f} MB for 20 segments, {many_mb:.1f} MB for 200"


def test_timestamps_are_rebased_from_any_clock(video_320: Video, tmp_path: Path) -> None:
    # A segment whose first timestamp is an hour in, as a recorder that carries its clock on would write.
    late = segment_write(path=tmp_path / "late.mp4", video=video_320, units=video_320.second(0), first_pts=3600 * CLOCK)
    early = segment_write(path=tmp_path / "early.mp4", video=video_320, units=video_320.second(1))

    concat([late, early], tmp_path / "out.mp4")

    dts = [p.dts for p in packets_of(tmp_path / "out.mp4")]
    assert dts == [index * FRAME_TICKS for index in range(2 * FPS)]
