"""Records cameras' H.264, as it came, into ~10 s fragmented MP4 segments in a local spool, off the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path

import av

from cameras.media.probe import url_without_credentials
from cameras.media.relay import Relay
from cameras.media.source import CLOCK_RATE, NAL_PPS, NAL_SPS, RECONNECTING, RELAYABLE_CODEC, AccessUnit, CameraSource

logger = logging.getLogger(__name__)

SEGMENT_SUFFIX = ".mp4"
SIDECAR_SUFFIX = ".json"  # written last, by rename: a segment is complete exactly when its sidecar exists
PART_SUFFIX = ".part"  # a segment or sidecar being written
CONTENT_TYPE = "video/mp4"
# Each segment is a fragmented MP4 with its own init (ftyp+moov), so the playback page can hand it to Media
# Source Extensions as it is. A fragment starts at each keyframe, and also every 2 s: the muxer holds a
# fragment in memory until it is written, and a camera with a very long GOP must not make that large.
# No trailer: its random-access index (mfra) is of no use to MSE.
_MOVFLAGS = "frag_keyframe+empty_moov+default_base_moof+skip_trailer"
_FRAG_DURATION_US = "2000000"
_TIME_BASE = Fraction(1, CLOCK_RATE)
# Timestamps that step back, or forward by more than this, within one connection mean the camera's clock
# jumped: the segment ends there and the next starts at a keyframe on the new clock.
_MAX_STEP = 5 * CLOCK_RATE
# When a camera's clock and ours disagree by more than this at a cut, the next segment's wall time is
# taken afresh from the arrival time (a camera's clock drifts; network delay jitters far less than this).
_MAX_DRIFT_S = 1.0
_DEFAULT_FRAME_TICKS = CLOCK_RATE // 25  # a last picture's duration when the camera gave us no other
_HASH_CHUNK = 1024 * 1024
# Pictures waiting for the writer thread; a disk that stalls for longer than this much video costs a gap
# in the recording rather than unbounded memory.
_QUEUE_MAX_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class SpooledSegment:
    """A complete segment in the spool: its MP4, and the sidecar that says it is complete."""

    camera_id: int
    started_at: datetime  # UTC
    ended_at: datetime  # UTC; the next segment of an unbroken recording starts exactly here
    path: Path  # the .mp4
    size_bytes: int
    sha256: str  # of the whole file
    frames: int

    @property
    def sidecar(self) -> Path:
        return self.path.with_suffix(SIDECAR_SUFFIX)

    def as_json(self) -> str:
        return json.dumps(
            {
                "camera_id": self.camera_id,
                "started_at": self.started_at.isoformat(),
                "ended_at": self.ended_at.isoformat(),
                "file": self.path.name,
                "size_bytes": self.size_bytes,
                "sha256": self.sha256,
                "frames": self.frames,
            }
        )

    @classmethod
    def from_sidecar(cls, sidecar: Path) -> SpooledSegment:
        data = json.loads(sidecar.read_text())
        return cls(
            camera_id=int(data["camera_id"]),
            started_at=datetime.fromisoformat(data["started_at"]),
            ended_at=datetime.fromisoformat(data["ended_at"]),
            path=sidecar.with_name(data["file"]),
            size_bytes=int(data["size_bytes"]),
            sha256=str(data["sha256"]),
            frames=int(data["frames"]),
        )


def spool_camera_dir(*, spool_dir: Path, camera_id: int) -> Path:
    return spool_dir / str(camera_id)


def spool_segments(*, spool_dir: Path, camera_id: int) -> list[SpooledSegment]:
    """A camera's complete segments in the spool, oldest first (file names sort by start time)."""
    folder = spool_camera_dir(spool_dir=spool_dir, camera_id=camera_id)
    if not folder.is_dir():
        return []
    sidecars = sorted(p for p in folder.iterdir() if p.name.endswith(SIDECAR_SUFFIX))
    return [SpooledSegment.from_sidecar(p) for p in sidecars]


def segment_stem(*, started_at: datetime) -> str:
    """A file name stem that sorts as the start times do."""
    return started_at.astimezone(UTC).strftime("%Y%m%dT%H%M%S.%fZ")


# ---------------------------------------------------------------- the writer thread's side


class Segmenter:
    """Cuts one camera's access units into segment files; runs on the recorder's writer thread (or a test's).

    A segment starts at a keyframe and ends at the first keyframe at least `segment_s` after its start, at a
    new connection (epoch), at a jump in the camera's clock, at a change of parameter sets, or at a gap.
    Each picture goes to the file as it comes; one is held back so that its duration is known exactly.
    """

    def __init__(
        self,
        *,
        camera_id: int,
        spool_dir: Path,
        segment_s: float,
        on_segment: Callable[[SpooledSegment], None],
    ) -> None:
        self.camera_id = camera_id
        self.folder = spool_camera_dir(spool_dir=spool_dir, camera_id=camera_id)
        self._segment_ticks = max(1, round(segment_s * CLOCK_RATE))
        self._on_segment = on_segment
        # The wall clock of the current run of pictures (one connection, no clock jumps): (UTC, pts).
        self._anchor: tuple[datetime, int] | None = None
        self._epoch: int | None = None
        self._file: _SegmentFile | None = None
        self._held: AccessUnit | None = None
        self._last_pts: int | None = None
        self._frame_ticks = _DEFAULT_FRAME_TICKS
        self._last_ended_at: datetime | None = None

    def unit_add(self, unit: AccessUnit) -> None:
        if self._last_pts is not None and (unit.epoch != self._epoch or not 0 < unit.pts - self._last_pts <= _MAX_STEP):
            if unit.epoch == self._epoch:
                logger.warning(
                    "camera %s: timestamps jumped by %.3f s; recording goes on at the next keyframe",
                    self.camera_id,
                    (unit.pts - self._last_pts) / CLOCK_RATE,
                )
            self.gap()
        if self._anchor is None:
            if not unit.keyframe:
                return  # a picture before the run's first keyframe cannot be decoded on its own
            self._anchor = (_arrival(unit), unit.pts)
            self._epoch = unit.epoch
            self._segment_open(unit)
        elif unit.keyframe and self._file is not None and self._cut_due(unit):
            self._segment_close(end_pts=unit.pts)
            self._anchor_check(unit)
            self._segment_open(unit)
        else:
            self._held_write(next_pts=unit.pts)
        if self._last_pts is not None and self._epoch == unit.epoch and unit.pts > self._last_pts:
            self._frame_ticks = unit.pts - self._last_pts
        self._last_pts = unit.pts
        self._held = unit if self._file is not None else None

    def gap(self) -> None:
        """The pictures stop here for now (lost connection, dropped pictures): end the segment and wait
        for a keyframe."""
        if self._file is not None:
            end = self._last_pts + self._frame_ticks if self._last_pts is not None else None
            self._segment_close(end_pts=end)
        self._anchor = None
        self._epoch = None
        self._last_pts = None
        self._held = None

    def close(self) -> None:
        self.gap()

    def _cut_due(self, unit: AccessUnit) -> bool:
        assert self._file is not None
        if unit.pts - self._file.start_pts >= self._segment_ticks:
            return True
        # New SPS/PPS (the camera's resolution or profile changed): this file's init would not decode them.
        return _parameter_sets(unit.data) != self._file.parameter_sets

    def _anchor_check(self, unit: AccessUnit) -> None:
        assert self._anchor is not None
        predicted = self._wall(unit.pts)
        arrived = _arrival(unit)
        drift = (arrived - predicted).total_seconds()
        if abs(drift) > _MAX_DRIFT_S:
            logger.info("camera %s: its clock is %.2f s off ours; recording times re-anchored", self.camera_id, drift)
            # Never before the previous segment's end: segments of one run stay ordered and apart.
            floor = self._last_ended_at or arrived
            self._anchor = (max(arrived, floor), unit.pts)

    def _wall(self, pts: int) -> datetime:
        assert self._anchor is not None
        wall, anchor_pts = self._anchor
        return wall + timedelta(microseconds=round((pts - anchor_pts) * 1_000_000 / CLOCK_RATE))

    def _segment_open(self, unit: AccessUnit) -> None:
        started_at = self._wall(unit.pts)
        if self._last_ended_at is not None and started_at < self._last_ended_at:
            started_at = self._last_ended_at
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / (segment_stem(started_at=started_at) + SEGMENT_SUFFIX)
        try:
            self._file = _SegmentFile(path=path, first=unit, started_at=started_at)
        except Exception:
            logger.exception("camera %s: could not start a segment at %s", self.camera_id, path)
            self._file = None
            self._anchor = None  # try again at the next keyframe

    def _held_write(self, *, next_pts: int) -> None:
        held, file = self._held, self._file
        if held is None or file is None:
            return
        try:
            file.write(held, duration=next_pts - held.pts)
        except Exception:
            # A muxer error (timestamps it will not take): keep what is written, start again at a keyframe.
            logger.exception("camera %s: could not write a picture; the segment ends here", self.camera_id)
            self._held = None
            self.gap()

    def _segment_close(self, *, end_pts: int | None) -> None:
        file, held = self._file, self._held
        self._file, self._held = None, None
        if file is None:
            return
        if end_pts is None or held is None:
            end_pts = file.last_pts + self._frame_ticks if file.frames else file.start_pts + self._frame_ticks
        try:
            if held is not None:
                file.write(held, duration=max(1, end_pts - held.pts))
            # From the run's anchor, as the next segment's start will be: the two are the same instant.
            ended_at = max(self._wall(end_pts), file.started_at) if self._anchor is not None else file.started_at
            segment = file.finish(camera_id=self.camera_id, ended_at=ended_at)
        except Exception:
            # The file is left as .part for someone to look at; it is never taken for a complete segment.
            logger.exception("camera %s: could not finish segment %s", self.camera_id, file.path)
            file.abandon()
            return
        self._last_ended_at = segment.ended_at
        self._on_segment(segment)


class _SegmentFile:
    """One segment's MP4 as it is written: remuxed by FFmpeg's MP4 muxer, never decoded or encoded."""

    def __init__(self, *, path: Path, first: AccessUnit, started_at: datetime) -> None:
        self.path = path
        self.part = path.with_name(path.name + PART_SUFFIX)
        self.started_at = started_at
        self.start_pts = first.pts
        self.last_pts = first.pts
        self.frames = 0
        self.parameter_sets = _parameter_sets(first.data)
        sps = self.parameter_sets[0]
        width, height = sps_size(sps) if sps else (0, 0)
        self._container = av.open(
            str(self.part),
            "w",
            format="mp4",
            options={"movflags": _MOVFLAGS, "frag_duration": _FRAG_DURATION_US},
        )
        try:
            # A stream without a codec context: FFmpeg takes the avcC (SPS/PPS) from the first keyframe
            # and rewrites our Annex B pictures as length-prefixed samples, which is all a remux needs.
            self._stream = self._container.add_mux_stream(RELAYABLE_CODEC, width=width, height=height)
            self._stream.time_base = _TIME_BASE
        except BaseException:
            self._container.close()
            raise

    def write(self, unit: AccessUnit, *, duration: int) -> None:
        packet = av.Packet(unit.data)
        packet.stream = self._stream
        packet.time_base = _TIME_BASE
        packet.pts = packet.dts = unit.pts - self.start_pts
        packet.duration = duration
        packet.is_keyframe = unit.keyframe
        self._container.mux_one(packet)
        self.frames += 1
        self.last_pts = unit.pts

    def abandon(self) -> None:
        with contextlib.suppress(Exception):  # it failed already; closing is only to free FFmpeg's resources
            self._container.close()

    def finish(self, *, camera_id: int, ended_at: datetime) -> SpooledSegment:
        """Closes the file, hashes it, and marks it complete with its sidecar, each step durable before the next."""
        self._container.close()
        digest = hashlib.sha256()
        with self.part.open("rb") as f:
            while chunk := f.read(_HASH_CHUNK):
                digest.update(chunk)
            size = f.tell()
            os.fsync(f.fileno())
        self.part.rename(self.path)
        segment = SpooledSegment(
            camera_id=camera_id,
            started_at=self.started_at,
            ended_at=ended_at,
            path=self.path,
            size_bytes=size,
            sha256=digest.hexdigest(),
            frames=self.frames,
        )
        sidecar_part = segment.sidecar.with_name(segment.sidecar.name + PART_SUFFIX)
        with sidecar_part.open("w") as f:
            f.write(segment.as_json())
            f.flush()
            os.fsync(f.fileno())
        sidecar_part.rename(segment.sidecar)
        _directory_sync(self.path.parent)
        return segment


def _arrival(unit: AccessUnit) -> datetime:
    """When the unit arrived, by the wall clock (its `received` is the monotonic clock)."""
    return datetime.fromtimestamp(time.time() - (time.monotonic() - unit.received), tz=UTC)


def _parameter_sets(data: bytes) -> tuple[bytes, bytes]:
    """The SPS and PPS in front of a keyframe; empty where it has none."""
    sps = pps = b""
    # They come first (the source puts them there): stop at the first other NAL unit after both, rather
    # than cut a large keyframe into all of its slices.
    start = data.find(b"\x00\x00\x01")
    while start != -1:
        end = data.find(b"\x00\x00\x01", start + 3)
        nal = data[start + 3 :] if end == -1 else data[start + 3 : end].rstrip(b"\x00")
        kind = nal[0] & 0x1F if nal else 0
        if kind == NAL_SPS and not sps:
            sps = nal
        elif kind == NAL_PPS and not pps:
            pps = nal
        elif sps and pps:
            break
        start = end
    return sps, pps


def _directory_sync(folder: Path) -> None:
    # The renames are durable only once the folder itself is written.
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def sps_size(sps: bytes) -> tuple[int, int]:
    """Width and height from an H.264 sequence parameter set (ITU-T H.264 7.3.2.1.1), cropping applied.

    The MP4 track header wants them, and reading them here spares us opening a decoder.
    """
    bits = _Bits(sps[1:])
    profile_idc = bits.u(8)
    bits.u(16)  # constraint flags, level_idc
    bits.ue()  # seq_parameter_set_id
    chroma_format_idc = 1
    if profile_idc in (100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135):
        chroma_format_idc = bits.ue()
        if chroma_format_idc == 3:
            bits.u(1)  # separate_colour_plane_flag
        bits.ue()  # bit_depth_luma_minus8
        bits.ue()  # bit_depth_chroma_minus8
        bits.u(1)  # qpprime_y_zero_transform_bypass_flag
        if bits.u(1):  # seq_scaling_matrix_present_flag
            for i in range(8 if chroma_format_idc != 3 else 12):
                if bits.u(1):
                    _scaling_list_skip(bits, size=16 if i < 6 else 64)
    bits.ue()  # log2_max_frame_num_minus4
    pic_order_cnt_type = bits.ue()
    if pic_order_cnt_type == 0:
        bits.ue()
    elif pic_order_cnt_type == 1:
        bits.u(1)
        bits.se()
        bits.se()
        for _ in range(bits.ue()):
            bits.se()
    bits.ue()  # max_num_ref_frames
    bits.u(1)  # gaps_in_frame_num_value_allowed_flag
    width_mbs = bits.ue() + 1
    height_map_units = bits.ue() + 1
    frame_mbs_only = bits.u(1)
    if not frame_mbs_only:
        bits.u(1)  # mb_adaptive_frame_field_flag
    bits.u(1)  # direct_8x8_inference_flag
    width = width_mbs * 16
    height = (2 - frame_mbs_only) * height_map_units * 16
    if bits.u(1):  # frame_cropping_flag
        left, right, top, bottom = bits.ue(), bits.ue(), bits.ue(), bits.ue()
        sub_width, sub_height = {0: (1, 1), 1: (2, 2), 2: (2, 1), 3: (1, 1)}[chroma_format_idc]
        width -= sub_width * (left + right)
        height -= sub_height * (2 - frame_mbs_only) * (top + bottom)
    return width, height


def _scaling_list_skip(bits: _Bits, *, size: int) -> None:
    last = next_scale = 8
    for _ in range(size):
        if next_scale:
            next_scale = (last + bits.se() + 256) % 256
        last = next_scale or last


class _Bits:
    """Reads an RBSP bit by bit, emulation-prevention bytes removed."""

    def __init__(self, data: bytes) -> None:
        self._data = data.replace(b"\x00\x00\x03", b"\x00\x00")
        self._pos = 0

    def u(self, n: int) -> int:
        value = 0
        for _ in range(n):
            byte = self._data[self._pos >> 3]  # IndexError on a truncated SPS
            value = (value << 1) | ((byte >> (7 - (self._pos & 7))) & 1)
            self._pos += 1
        return value

    def ue(self) -> int:
        zeros = 0
        while self.u(1) == 0:
            zeros += 1
            if zeros > 31:
                raise ValueError("malformed exp-Golomb code")
        return (1 << zeros) - 1 + self.u(zeros)

    def se(self) -> int:
        code = self.ue()
        return (code + 1) // 2 if code & 1 else -(code // 2)


# ---------------------------------------------------------------- the event loop's side


class _Gap:
    pass


class _Stop:
    pass


_GAP = _Gap()
_STOP = _Stop()


class Recorder:
    """One camera's recorder: a Subscriber of its source that hands each picture to a writer thread.

    The event loop only queues pictures; muxing, file I/O and hashing happen on the thread. The queue is
    bounded by bytes: pictures that do not fit are dropped, and the recording resumes at the next keyframe
    in a new segment. `on_segment` is called on the event loop for each completed segment.
    """

    def __init__(
        self,
        *,
        camera_id: int,
        spool_dir: Path,
        segment_s: float,
        on_segment: Callable[[SpooledSegment], None] | None = None,
        queue_max_bytes: int = _QUEUE_MAX_BYTES,
    ) -> None:
        self.camera_id = camera_id
        self.dropped = 0
        self.segments = 0
        self._on_segment = on_segment
        self._queue: queue.SimpleQueue[AccessUnit | _Gap | _Stop] = queue.SimpleQueue()
        self._queue_max_bytes = queue_max_bytes
        self._queued_bytes = 0
        self._lock = threading.Lock()
        self._dropping = False
        self._closing = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._segmenter = Segmenter(
            camera_id=camera_id, spool_dir=spool_dir, segment_s=segment_s, on_segment=self._segment_done
        )
        self._thread = threading.Thread(target=self._run, name=f"camera-recorder-{camera_id}", daemon=True)

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._thread.start()

    async def close(self, *, timeout_s: float = 10.0) -> bool:
        """Finishes the current segment and ends the thread; whether it ended within timeout_s."""
        if not self._closing:
            self._closing = True
            self._queue.put(_STOP)
        if not self._thread.is_alive():
            return True
        await asyncio.get_running_loop().run_in_executor(None, self._thread.join, timeout_s)
        return not self._thread.is_alive()

    def discontinuity(self) -> None:
        """The pictures that follow do not continue the ones before (another connection to the camera)."""
        if not self._closing:
            self._queue.put(_GAP)

    # Subscriber

    def unit_push(self, unit: AccessUnit) -> None:
        if self._closing:
            return
        size = len(unit.data)
        with self._lock:
            fits = self._queued_bytes + size <= self._queue_max_bytes
            if fits:
                self._queued_bytes += size
        if not fits:
            self.dropped += 1
            if not self._dropping:
                self._dropping = True
                logger.warning(
                    "camera %s: the recorder is %.1f MB behind; pictures are dropped until it catches up",
                    self.camera_id,
                    self._queue_max_bytes / 2**20,
                )
                self._queue.put(_GAP)
            return
        self._dropping = False
        self._queue.put(unit)

    def source_state_changed(self, state: str) -> None:
        if state == RECONNECTING:
            # The connection is gone: what was recorded so far goes to storage now, not when it returns.
            self.discontinuity()

    # The writer thread.

    def _run(self) -> None:
        segmenter = self._segmenter
        while True:
            item = self._queue.get()
            try:
                if isinstance(item, _Stop):
                    segmenter.close()
                    return
                if isinstance(item, _Gap):
                    segmenter.gap()
                    continue
                with self._lock:
                    self._queued_bytes -= len(item.data)
                segmenter.unit_add(item)
            except Exception:  # a bug here must not end the camera's recording for good
                logger.exception("camera %s: recorder failed on %r", self.camera_id, type(item).__name__)
                with contextlib.suppress(Exception):
                    segmenter.gap()

    def _segment_done(self, segment: SpooledSegment) -> None:
        logger.debug("camera %s: segment %s spooled (%d bytes)", self.camera_id, segment.path.name, segment.size_bytes)
        if self._loop is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop has closed: the next process uploads it
            self._loop.call_soon_threadsafe(self._segment_arrived, segment)

    def _segment_arrived(self, segment: SpooledSegment) -> None:
        self.segments += 1
        if self._on_segment is not None:
            self._on_segment(segment)


@dataclass
class _Recording:
    recorder: Recorder
    source: CameraSource
    url: str


class Recordings:
    """This relay's recorders, one per recorded camera, each a subscriber of the relay's shared source, so
    that a camera watched and recorded is read once."""

    def __init__(
        self,
        *,
        relay: Relay,
        spool_dir: Path,
        segment_s: float,
        on_segment: Callable[[SpooledSegment], None] | None = None,
    ) -> None:
        self._relay = relay
        self._spool_dir = spool_dir
        self._segment_s = segment_s
        self._on_segment = on_segment
        self._recordings: dict[int, _Recording] = {}
        # Consent events and the periodic rescan may ask at once; each reconcile sees the other's result.
        self._lock = asyncio.Lock()

    def camera_ids(self) -> set[int]:
        return set(self._recordings)

    def recorder(self, camera_id: int) -> Recorder | None:
        recording = self._recordings.get(camera_id)
        return recording.recorder if recording is not None else None

    async def reconcile(self, *, wanted: Mapping[int, str], camera_ids: set[int] | None = None) -> None:
        """Records exactly the cameras in `wanted` (camera id -> source URL) from now on.

        With `camera_ids`, only those cameras are considered (`wanted` then names those of them to record).
        """
        async with self._lock:
            for camera_id in [c for c in self._recordings if c not in wanted]:
                if camera_ids is None or camera_id in camera_ids:
                    await self._stop(camera_id)
            for camera_id, url in wanted.items():
                recording = self._recordings.get(camera_id)
                if recording is None:
                    self._start(camera_id=camera_id, url=url)
                else:
                    self._keep(recording, camera_id=camera_id, url=url)

    async def stop(self, camera_ids: set[int]) -> None:
        async with self._lock:
            for camera_id in camera_ids & set(self._recordings):
                await self._stop(camera_id)

    async def close(self) -> None:
        """Stops every recorder, each finishing its current segment into the spool."""
        await self.stop(set(self._recordings))

    def _start(self, *, camera_id: int, url: str) -> None:
        source = self._relay.source_acquire(camera_id=camera_id, url=url)
        recorder = Recorder(
            camera_id=camera_id, spool_dir=self._spool_dir, segment_s=self._segment_s, on_segment=self._on_segment
        )
        recorder.start()
        # The source hands a new subscriber its cached GOP, so recording starts at once at a keyframe.
        source.subscribe(recorder)
        self._recordings[camera_id] = _Recording(recorder=recorder, source=source, url=url)
        logger.info("camera %s: recording from %s", camera_id, url_without_credentials(url=url))

    def _keep(self, recording: _Recording, *, camera_id: int, url: str) -> None:
        source = recording.source
        refused = source.codec is not None and source.codec != RELAYABLE_CODEC
        if not (source.stopped or refused or url != recording.url):
            return
        if refused:
            # Its reader gave up on a codec we cannot pass through; a fresh source finds out whether the
            # camera was switched back.
            logger.warning("camera %s: sends %s, which is not recorded; trying again", camera_id, source.codec)
            self._relay.source_release(source)
        # The relay retargets a source it still has, or opens a new one for a camera it closed.
        fresh = self._relay.source_acquire(camera_id=camera_id, url=url)
        if not refused:
            self._relay.source_release(source)
        if fresh is not source or refused:
            source.unsubscribe(recording.recorder)
            recording.recorder.discontinuity()
            fresh.subscribe(recording.recorder)
        recording.source, recording.url = fresh, url

    async def _stop(self, camera_id: int) -> None:
        recording = self._recordings.pop(camera_id)
        recording.source.unsubscribe(recording.recorder)
        self._relay.source_release(recording.source)
        if not await recording.recorder.close():
            logger.error("camera %s: the recorder's writer did not finish in time", camera_id)
        logger.info("camera %s: recording stopped", camera_id)
