"""A segment is a self-contained fragmented MP4 that plays, holding the camera's pictures byte for byte."""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path

import av

from cameras.media.recorder import Segmenter, SpooledSegment
from cameras.media.source import CLOCK_RATE, nal_units
from tests.cameras.recording.conftest import TICKS, Collected, Picture, units_from


def recorded(spool: Path, pictures: list[Picture], *, segment_s: float = 2.0) -> list[SpooledSegment]:
    collected = Collected()
    seg = Segmenter(camera_id=3, spool_dir=spool, segment_s=segment_s, on_segment=collected)
    for unit in units_from(pictures):
        seg.unit_add(unit)
    seg.close()
    return collected.segments


def top_level_boxes(path: Path) -> list[str]:
    data = path.read_bytes()
    boxes, at = [], 0
    while at < len(data):
        size, kind = struct.unpack(">I4s", data[at : at + 8])
        boxes.append(kind.decode())
        at += size
    return boxes


def length_prefixed_nals(sample: bytes) -> list[bytes]:
    nals, at = [], 0
    while at < len(sample):
        (size,) = struct.unpack(">I", sample[at : at + 4])
        nals.append(sample[at + 4 : at + 4 + size])
        at += 4 + size
    return nals


def test_each_segment_decodes_on_its_own_to_every_picture(spool: Path, pictures: list[Picture]) -> None:
    segments = recorded(spool, pictures)

    for segment in segments:
        with av.open(str(segment.path)) as container:
            stream = container.streams.video[0]
            assert (stream.codec_context.name, stream.width, stream.height) == ("h264", 320, 180)
            decoded = list(container.decode(stream))
        assert len(decoded) == segment.frames == 20
        assert decoded[0].key_frame


def test_the_samples_are_the_cameras_nal_units_unchanged(spool: Path, pictures: list[Picture]) -> None:
    # Remux, not re-encode: the MP4 only swaps Annex B start codes for length prefixes.
    segments = recorded(spool, pictures)

    samples = []
    for segment in segments:
        with av.open(str(segment.path)) as container:
            samples += [bytes(p) for p in container.demux(video=0) if p.size]

    assert len(samples) == len(pictures)
    for sample, picture in zip(samples, pictures, strict=True):
        assert length_prefixed_nals(sample) == nal_units(picture.data)


def test_timestamps_and_keyframes_are_kept(spool: Path, pictures: list[Picture]) -> None:
    segment = recorded(spool, pictures)[1]

    with av.open(str(segment.path)) as container:
        packets = [p for p in container.demux(video=0) if p.size]

    assert [(p.pts or 0) * p.time_base * CLOCK_RATE for p in packets] == [i * TICKS for i in range(20)]
    assert [p.is_keyframe for p in packets] == [i % 10 == 0 for i in range(20)]
    assert sum(p.duration or 0 for p in packets) * packets[0].time_base == 2


def test_a_segment_is_fragmented_with_its_own_init_for_media_source_extensions(
    spool: Path, pictures: list[Picture]
) -> None:
    segment = recorded(spool, pictures)[0]

    boxes = top_level_boxes(segment.path)

    assert boxes[:2] == ["ftyp", "moov"]
    assert boxes[2:] == ["moof", "mdat"] * 2  # one fragment per keyframe
    assert b"avcC" in segment.path.read_bytes()[:4096]


def test_the_sidecar_holds_the_full_file_sha256_and_size(spool: Path, pictures: list[Picture]) -> None:
    for segment in recorded(spool, pictures):
        data = segment.path.read_bytes()
        assert segment.sha256 == hashlib.sha256(data).hexdigest()
        assert segment.size_bytes == len(data)
        assert SpooledSegment.from_sidecar(segment.sidecar) == segment
