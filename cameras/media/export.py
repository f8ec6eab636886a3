"""Joins a camera's recorded segments into one MP4 by remuxing their packets (never re-encoding) and hashes it."""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import IO

import av
import av.error
from av.container import InputContainer, OutputContainer
from av.packet import Packet
from av.video.stream import VideoStream

_CHUNK = 1024 * 1024
# 90 kHz, the clock of RTP and MPEG-TS: every frame rate a camera uses lands on a whole tick or close to it.
_CLOCK = 90_000
_TIME_BASE = Fraction(1, _CLOCK)
# Fragmented MP4, like the segments themselves. A classic MP4 keeps one sample-table entry per picture in
# memory until the file is closed: measured on one hour of 1080p at 15 fps (bench/evidence_export.py), the
# classic muxer's peak RSS was 2.5 MB higher than the fragmented one's (56.1 against 53.6 MB), so a 12-hour
# export at 30 fps would add ~60 MB per camera; a fragmented muxer holds one fragment at a time (and a small
# index entry per fragment for the mfra box at the end). Fragmented files also stay playable up to the last
# complete fragment if a worker dies while writing, and play in browsers, VLC, QuickTime and FFmpeg.
# Fragments start at keyframes, and `frag_size` caps a fragment for cameras with very long GOPs so that
# memory stays bounded even then.
_MUX_OPTIONS = {
    "movflags": "frag_keyframe+empty_moov+default_base_moof",
    "frag_size": str(8 * 1024 * 1024),
}
# What a segment's moov already says (codec, size, parameter sets) is all a remux needs, so opening must not
# read ahead or decode: by default FFmpeg decodes the first pictures of every file to fill in details
# (pixel format) that a remux ignores, which cost ~20 ms per 1080p segment, more than the remux itself.
_DEMUX_OPTIONS = {"probesize": "32", "analyzeduration": "0", "skip_frame": "all"}
# Start times within this much of where the previous segment ended are taken as contiguous: segment start
# times come from the recorder's wall clock, which jitters by a few frames around the media's own timeline.
_GAP_TOLERANCE_TICKS = _CLOCK // 2
_H264_SPS = 7


@dataclass(frozen=True)
class ConcatResult:
    sha256: str  # hex, of the whole output file as written
    size_bytes: int
    duration_s: float  # of the output's timeline, gaps between segments included
    packets: int
    # Segments whose codec parameters (SPS/PPS: size, profile) differ from the first segment's.
    parameter_changes: int = 0


class ExportError(Exception):
    """A segment cannot go into the export: unreadable, without video, or in another codec than the first."""


def segments_concat(
    *,
    sources: Sequence[Callable[[], IO[bytes]]],
    out_path: Path,
    progress: Callable[[int, int], None] | None = None,
    source_starts_s: Sequence[float] | None = None,
) -> ConcatResult:
    """Remuxes the video of every source, in order, into one fragmented MP4 at `out_path`, with its SHA-256.

    Each source is opened only when its turn comes and closed before the next, so memory stays flat
    whatever the number of segments. Timestamps are rebased so that each segment continues where the one
    before it ended; with `source_starts_s` (each source's start, in seconds on any common clock, e.g.
    from the segments' started_at), a gap in the recording stays a gap of the same length in the output.
    `progress(done, total)` is called after each segment. On failure no partial file is left at out_path.
    """
    if not sources:
        raise ExportError("There are no segments to export.")
    if source_starts_s is not None and len(source_starts_s) != len(sources):
        raise ValueError("source_starts_s needs one start per source")
    try:
        with av.open(str(out_path), "w", format="mp4", options=_MUX_OPTIONS) as output:
            timeline = _Timeline()
            for index, source in enumerate(sources):
                start = None
                if source_starts_s is not None:
                    start = round((source_starts_s[index] - source_starts_s[0]) * _CLOCK)
                with _segment_opened(source=source, index=index, scratch=out_path.parent) as segment:
                    timeline.segment_add(output=output, segment=segment, index=index, start_ticks=start)
                if progress is not None:
                    progress(index + 1, len(sources))
            if not timeline.packets:
                raise ExportError("The segments hold no video.")
    except BaseException:
        out_path.unlink(missing_ok=True)
        raise
    sha256, size = _file_sha256(path=out_path)
    return ConcatResult(
        sha256=sha256,
        size_bytes=size,
        duration_s=timeline.end / _CLOCK,
        packets=timeline.packets,
        parameter_changes=timeline.parameter_changes,
    )


class _Timeline:
    """The output's single video track: where the next segment starts, and what the first segment set up."""

    def __init__(self) -> None:
        self.stream: VideoStream | None = None
        self.codec = ""
        self.extradata = b""
        self.end = 0  # in ticks: where the last packet written ends
        self.last_dts = -1
        self.frame_ticks = 0  # between the last two pictures
        self.packets = 0
        self.parameter_changes = 0

    def segment_add(
        self, *, output: OutputContainer, segment: InputContainer, index: int, start_ticks: int | None
    ) -> None:
        # Only the video goes into evidence; the recorder writes no other tracks today.
        if not segment.streams.video:
            raise ExportError(f"Segment {index + 1} has no video track.")
        source = segment.streams.video[0]
        codec = source.codec_context.name
        extradata = source.codec_context.extradata or b""
        if self.stream is None:
            self.stream = output.add_stream_from_template(source)
            self.stream.time_base = _TIME_BASE
            self.codec, self.extradata = codec, extradata
        elif codec != self.codec:
            raise ExportError(f"Segment {index + 1} is {codec} where the segments before it are {self.codec}.")
        # A camera that reconnected at another size or profile starts sending new SPS/PPS. The output keeps
        # one track whose sample entry describes the first segment, and carries on: the recorder writes the
        # parameter sets in band before every keyframe, and decoders (FFmpeg, browsers, VLC) switch on an
        # in-band SPS. A segment without them in band gets its own put in front of its first keyframe, the
        # way FFmpeg's h264_mp4toannexb does, so the switch never depends on the sample entry. One file per
        # camera is what the evidence manifest and its hashes describe, so we do not split the output.
        in_band: tuple[int, bytes] | None = None
        if extradata != self.extradata:
            self.parameter_changes += 1
            in_band = _parameter_sets_in_band(codec=codec, extradata=extradata, first=self.extradata, index=index)

        time_base = source.time_base or _TIME_BASE
        scale_num, scale_den = time_base.numerator * _CLOCK, time_base.denominator

        def ticks(value: int) -> int:
            return (value * scale_num + scale_den // 2) // scale_den

        offset = self.end if start_ticks is None or start_ticks - self.end < _GAP_TOLERANCE_TICKS else start_ticks
        first_dts: int | None = None
        for packet in segment.demux(source):
            source_dts = packet.dts
            if source_dts is None:
                continue  # the demuxer's end-of-file marker
            if first_dts is None:
                first_dts = source_dts
                if in_band is not None and packet.is_keyframe:
                    packet = _with_parameter_sets(packet=packet, length_size=in_band[0], parameter_sets=in_band[1])
            # Each segment's own timestamps may start near 0 or carry on from the one before; only their
            # differences within the segment are used.
            dts = max(offset + ticks(source_dts - first_dts), self.last_dts + 1)
            composition = ticks(packet.pts - source_dts) if packet.pts is not None else 0
            if self.packets and dts - self.last_dts < _GAP_TOLERANCE_TICKS:
                self.frame_ticks = dts - self.last_dts
            # MP4 stores every sample's duration, so this fallback is for other demuxers' last packets.
            duration = ticks(packet.duration) if packet.duration else self.frame_ticks
            packet.time_base = _TIME_BASE
            packet.dts = dts
            packet.pts = dts + composition
            packet.duration = duration
            packet.stream = self.stream
            output.mux(packet)
            self.last_dts = dts
            self.end = max(self.end, dts + max(duration, 1))
            self.packets += 1


@contextlib.contextmanager
def _segment_opened(*, source: Callable[[], IO[bytes]], index: int, scratch: Path) -> Iterator[InputContainer]:
    """The segment opened for demuxing; a source that cannot seek (an S3 response body) is first copied
    in chunks to a temporary file next to the output, since an MP4 demuxer may seek."""
    with contextlib.ExitStack() as stack:
        try:
            stream: IO[bytes] = stack.enter_context(contextlib.closing(source()))
            if not _seekable(stream):
                spool = stack.enter_context(tempfile.TemporaryFile(dir=scratch, prefix=".segment-"))
                shutil.copyfileobj(stream, spool, _CHUNK)
                spool.seek(0)
                stream = spool
            container = stack.enter_context(av.open(stream, "r", options=_DEMUX_OPTIONS))
        except (av.error.FFmpegError, ValueError) as error:
            raise ExportError(f"Segment {index + 1} cannot be read: {error}") from error
        try:
            yield container
        except av.error.FFmpegError as error:
            raise ExportError(f"Segment {index + 1} could not be remuxed: {error}") from error


def _seekable(stream: IO[bytes]) -> bool:
    try:
        return bool(stream.seekable())
    except (AttributeError, OSError, ValueError):
        return False


def _parameter_sets_in_band(*, codec: str, extradata: bytes, first: bytes, index: int) -> tuple[int, bytes] | None:
    """(NAL length size, the segment's SPS and PPS as length-prefixed NAL units) to put in band; None when we
    cannot tell (not H.264, or no avcC), in which case the segment's own in-band parameter sets have to do."""
    if codec != "h264":
        return None
    parsed = _avcc_parameter_sets(extradata=extradata)
    if parsed is None:
        return None
    length_size, nals = parsed
    first_parsed = _avcc_parameter_sets(extradata=first)
    if first_parsed is not None and first_parsed[0] != length_size:
        # The output's sample entry tells players how long each NAL's length field is; one value for all.
        raise ExportError(f"Segment {index + 1} frames its NAL units differently from the segments before it.")
    return length_size, b"".join(len(nal).to_bytes(length_size, "big") + nal for nal in nals)


def _avcc_parameter_sets(*, extradata: bytes) -> tuple[int, list[bytes]] | None:
    """(NAL length size, [SPS..., PPS...]) from an avcC record (ISO/IEC 14496-15 §5.3.3); None if it is not one."""
    if len(extradata) < 7 or extradata[0] != 1:
        return None
    length_size = (extradata[4] & 0x03) + 1
    nals: list[bytes] = []
    position = 5
    try:
        for count_mask in (0x1F, 0xFF):  # SPS count in the low 5 bits, then a whole byte of PPS count
            count = extradata[position] & count_mask
            position += 1
            for _ in range(count):
                size = int.from_bytes(extradata[position : position + 2], "big")
                position += 2
                nal = extradata[position : position + size]
                if len(nal) != size:
                    return None
                nals.append(nal)
                position += size
    except IndexError:
        return None
    return length_size, nals


def _with_parameter_sets(*, packet: Packet, length_size: int, parameter_sets: bytes) -> Packet:
    """The keyframe with the parameter sets in front of its payload, unless it already carries an SPS."""
    payload = bytes(packet)
    if _has_sps(payload=payload, length_size=length_size):
        return packet
    joined = Packet(parameter_sets + payload)
    joined.time_base = packet.time_base
    joined.pts = packet.pts
    joined.dts = packet.dts
    joined.duration = packet.duration
    joined.is_keyframe = True
    return joined


def _has_sps(*, payload: bytes, length_size: int) -> bool:
    position = 0
    while position + length_size < len(payload):
        size = int.from_bytes(payload[position : position + length_size], "big")
        position += length_size
        if payload[position] & 0x1F == _H264_SPS:
            return True
        position += size
    return False


def _file_sha256(*, path: Path) -> tuple[str, int]:
    # Read back from disk, rather than hashed while muxing, so that the hash is of the bytes that were
    # actually written; the file is still in the page cache, and OpenSSL's SHA-256 runs at >1 GB/s.
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size
