"""Recorded footage for tests: short H.264 fragmented MP4 segments, stored and registered as the recorder does."""

from __future__ import annotations

import functools
import io
from datetime import datetime, timedelta
from fractions import Fraction
from pathlib import Path

import av
import av.bitstream
import numpy as np

from cameras.credentials import stream_url_encrypt, stream_url_mask
from cameras.models import Camera, Segment
from cameras.services import segment_register
from cameras.storage import file_sha256, object_put, segment_key

FPS = 10
FRAG_OPTIONS = {"movflags": "frag_keyframe+empty_moov+default_base_moof"}


@functools.cache
def _encoded_packets(*, seconds: int) -> list[tuple[bytes, int, bool]]:
    """One encode of `seconds` of a moving gradient at 160x90, keyframe every second, no B-frames: [(Annex B packet,
    frame index, keyframe)]."""
    out = io.BytesIO()
    with av.open(out, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = 160, 90, "yuv420p"
        stream.codec_context.options = {"g": str(FPS), "bf": "0", "preset": "ultrafast", "tune": "zerolatency"}
        for i in range(seconds * FPS):
            pixels = np.full((90, 160, 3), (i * 7) % 255, dtype=np.uint8)
            pixels[:, (i * 3) % 160] = 255
            for packet in stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    out.seek(0)
    packets = []
    with av.open(out, "r") as container:
        # Annex B with SPS/PPS in band, as cameras send it and the recorder writes it.
        to_annex_b = av.bitstream.BitStreamFilterContext("h264_mp4toannexb", container.streams.video[0])
        demuxed = (p for p in container.demux(video=0) if p.size)
        for index, packet in enumerate(q for p in demuxed for q in to_annex_b.filter(p)):
            packets.append((bytes(packet), index, bool(packet.is_keyframe)))
    return packets


def segment_file(*, path: Path, seconds: int = 2) -> Path:
    """A self-contained fragmented MP4 of `seconds` seconds, as the recorder writes them."""
    packets = _encoded_packets(seconds=seconds)
    with av.open(str(path), "w", format="mp4", options=FRAG_OPTIONS) as container:
        stream = container.add_stream("h264", rate=FPS)
        stream.width, stream.height = 160, 90
        stream.time_base = Fraction(1, 90_000)
        for data, index, keyframe in packets:
            packet = av.Packet(data)
            packet.stream = stream
            packet.time_base = Fraction(1, 90_000)
            packet.pts = packet.dts = index * (90_000 // FPS)
            packet.is_keyframe = keyframe
            container.mux(packet)
    return path


def segment_store(*, camera: Camera, path: Path, started_at: datetime, seconds: float) -> Segment:
    """Store the MP4 at `path` as `camera`'s segment from `started_at`, and register it as the recorder does."""
    digest = file_sha256(path=path)
    key = segment_key(camera_id=camera.pk, started_at=started_at)
    object_put(name=key, path=path, sha256=digest, content_type="video/mp4")
    segment = segment_register(
        camera_id=camera.pk,
        key=key,
        started_at=started_at,
        ended_at=started_at + timedelta(seconds=seconds),
        size_bytes=path.stat().st_size,
        sha256=digest,
    )
    assert segment is not None
    return segment


def segments_stored(*, camera: Camera, start: datetime, count: int, seconds: int = 2, scratch: Path) -> list[Segment]:
    """`count` contiguous segments of `camera` from `start`, stored in the default storage and registered."""
    return [
        segment_store(
            camera=camera,
            path=segment_file(path=scratch / f"camera-{camera.pk}-{n}.mp4", seconds=seconds),
            started_at=start + timedelta(seconds=n * seconds),
            seconds=seconds,
        )
        for n in range(count)
    ]


def camera_streaming_from(camera: Camera, *, url: str) -> Camera:
    """Point `camera` at `url` (a simulator's) as enrolment would, with terms that allow recording."""
    agreement = camera.agreement
    assert agreement is not None
    agreement.recording_allowed = True
    agreement.save()
    camera.stream_url_encrypted = stream_url_encrypt(url)
    camera.stream_url_masked = stream_url_mask(url)
    camera.codec = "h264"
    camera.save()
    return camera
