"""Reads one camera's H.264 in a thread, never decoding, and hands each picture to every viewer of that camera."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol
from urllib.parse import urlsplit

import av
import av.bitstream

from cameras.media.addresses import StreamAddressRefused, stream_target
from cameras.media.probe import text_without_credentials, url_without_credentials
from cameras.media.rtp_fanout import h264_payloads

logger = logging.getLogger(__name__)

CONNECTING = "connecting"
LIVE = "live"
RECONNECTING = "reconnecting"
RELAYABLE_CODEC = "h264"  # FFmpeg's name; the only codec browsers are sure to decode that we can pass through
CLOCK_RATE = 90_000  # RTP's video clock; every timestamp in this package counts in it

START_CODE = b"\x00\x00\x00\x01"
NAL_IDR = 5
NAL_SPS = 7
NAL_PPS = 8
NAL_AUD = 9
NAL_FILLER = 12

_FIRST_BACKOFF_S = 0.5
# A camera with a very long GOP at a high bitrate would make the cached GOP large; past this a late
# joiner waits for the next keyframe instead.
_GOP_MAX_BYTES = 8 * 1024 * 1024
# An RTSP camera names its codec and parameter sets in the SDP, so FFmpeg needs to read almost nothing
# before the first packet; its defaults (5 s of analysis) would hold every first viewer back.
_RTSP_OPTIONS = {"rtsp_transport": "tcp", "allowed_media_types": "video", "probesize": "32", "analyzeduration": "1"}
_OTHER_OPTIONS = {"analyzeduration": "500000"}
# What a reader thread's attempt to read the camera came to.
_FAILED = "failed"
_DELIVERED = "delivered"
_REFUSED = "refused"


@dataclass(frozen=True, slots=True)
class AccessUnit:
    """One picture as the camera encoded it: Annex B NAL units, SPS/PPS before every keyframe; and its RTP payloads."""

    data: bytes
    pts: int  # in CLOCK_RATE ticks, on the clock of the connection it came from
    keyframe: bool
    epoch: int  # which connection to the camera it came from; each starts its own clock
    received: float  # time.monotonic() when it arrived
    # Cut once here, in the reader thread, and shared by every viewer's RTP stream.
    payloads: tuple[bytes, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "payloads", h264_payloads(self.data))


class Subscriber(Protocol):
    def unit_push(self, unit: AccessUnit) -> None: ...

    def source_state_changed(self, state: str) -> None: ...


class CameraSource:
    """One camera's connection, shared by all its viewers: reconnects with backoff and keeps the current GOP.

    Lives on the event loop that created it; a reader thread demuxes (never decodes) and posts each access
    unit to the loop.
    """

    def __init__(
        self,
        *,
        camera_id: int,
        url: str,
        open_timeout_s: float,
        backoff_max_s: float,
        on_refused: Callable[[CameraSource], None],
    ) -> None:
        self.camera_id = camera_id
        self.state = CONNECTING
        self.codec: str | None = None
        self.subscribers: set[Subscriber] = set()
        # Viewers, and viewers being set up; the relay closes a source nobody uses after a grace period.
        self.users = 0
        self.idle_timer: asyncio.TimerHandle | None = None
        self._url = url
        self._open_timeout_s = open_timeout_s
        self._backoff_max_s = max(_FIRST_BACKOFF_S, backoff_max_s)
        self._on_refused = on_refused
        self._gop: list[AccessUnit] = []
        self._gop_bytes = 0
        self._loop = asyncio.get_running_loop()
        self._first_attempt: asyncio.Future[None] = self._loop.create_future()
        self._finished = asyncio.Event()
        self._stop = threading.Event()
        self._reopen = threading.Event()
        self._wake = threading.Event()
        self._epochs = 0  # reader thread only
        self._thread = threading.Thread(target=self._run, name=f"camera-source-{camera_id}", daemon=True)

    @property
    def url(self) -> str:
        return self._url

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stops reading; the thread leaves at its next packet, or when FFmpeg's timeout ends a stalled read."""
        self._stop.set()
        self._wake.set()
        self.subscribers.clear()
        self._gop = []
        if self.idle_timer is not None:
            self.idle_timer.cancel()
            self.idle_timer = None
        if not self._first_attempt.done():
            self._first_attempt.set_result(None)

    def retarget(self, *, url: str) -> None:
        """Reads from `url` from now on (new credentials, a new path); viewers resume at its first keyframe."""
        if url == self._url:
            return
        self._url = url
        self._reopen.set()
        self._wake.set()

    async def first_attempt(self, *, timeout_s: float) -> None:
        """Returns once the first connection has told us the codec or failed, or after timeout_s."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._first_attempt), timeout=timeout_s)

    async def finished(self, *, timeout_s: float) -> bool:
        """Whether the reader thread ended within timeout_s after stop()."""
        try:
            await asyncio.wait_for(self._finished.wait(), timeout=timeout_s)
        except TimeoutError:
            return False
        return True

    def subscribe(self, subscriber: Subscriber) -> None:
        """Adds a viewer and gives it the current GOP at once, so it can show a picture before the next keyframe."""
        self.subscribers.add(subscriber)
        for unit in self._gop:
            subscriber.unit_push(unit)

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self.subscribers.discard(subscriber)

    # On the event loop, posted by the reader thread.

    def _opened(self, codec: str) -> None:
        if self.stopped:
            return
        self.codec = codec
        self._attempted()

    def _refused(self, codec: str) -> None:
        if self.stopped:
            return
        self.codec = codec
        self._attempted()
        self._on_refused(self)

    def _lost(self) -> None:
        if self.stopped:
            return
        # Pictures and timestamps from a connection that ended would only confuse a viewer who joins now.
        self._gop = []
        self._gop_bytes = 0
        self._state_set(RECONNECTING)
        self._attempted()

    def _unit_arrived(self, unit: AccessUnit) -> None:
        if self.stopped:
            return
        if unit.keyframe:
            self._gop, self._gop_bytes = [unit], len(unit.data)
        elif self._gop and self._gop[-1].epoch == unit.epoch and self._gop_bytes + len(unit.data) <= _GOP_MAX_BYTES:
            self._gop.append(unit)
            self._gop_bytes += len(unit.data)
        else:
            self._gop, self._gop_bytes = [], 0
        self._state_set(LIVE)
        for subscriber in list(self.subscribers):
            subscriber.unit_push(unit)

    def _state_set(self, state: str) -> None:
        if state == self.state:
            return
        self.state = state
        logger.info("camera %s source: %s", self.camera_id, state)
        for subscriber in list(self.subscribers):
            subscriber.source_state_changed(state)

    def _attempted(self) -> None:
        if not self._first_attempt.done():
            self._first_attempt.set_result(None)

    # The reader thread.

    def _run(self) -> None:
        backoff = _FIRST_BACKOFF_S
        try:
            while not self._stop.is_set():
                # Cleared before the URL is read: a retarget() from now on is seen by this read or the next.
                self._reopen.clear()
                self._wake.clear()
                outcome = self._read(url=self._url)
                if outcome == _REFUSED or self._stop.is_set():
                    return
                if outcome == _DELIVERED:
                    backoff = _FIRST_BACKOFF_S
                if not self._post(self._lost):
                    return
                if self._reopen.is_set():
                    continue
                self._wake.wait(backoff)
                backoff = min(backoff * 2, self._backoff_max_s)
        finally:
            self._post(self._finished.set)

    def _read(self, *, url: str) -> str:
        live = urlsplit(url).scheme.lower() in ("rtsp", "rtsps")
        options = _RTSP_OPTIONS if live else _OTHER_OPTIONS
        # A camera sends at its own pace; a file or an HTTP MP4 would be read as fast as the disk allows.
        pacer = None if live else _Pacer(stop=self._stop)
        try:
            # The probe's check again, at each connection: what a name resolves to can change.
            target = stream_target(url=url)
        except StreamAddressRefused as refused:
            logger.warning("camera %s: %s: %s", self.camera_id, url_without_credentials(url=url), refused)
            return _FAILED
        try:
            container = av.open(
                target.url, options=options | target.options, timeout=(self._open_timeout_s, self._open_timeout_s)
            )
        except Exception as exc:  # FFmpeg says "camera down" in many ways; each of them means try again later
            self._log_failure(url=url, what="could not open", exc=exc)
            return _FAILED
        delivered = False
        try:
            if not container.streams.video:
                logger.warning("camera %s: %s has no video", self.camera_id, url_without_credentials(url=url))
                return _FAILED
            stream = container.streams.video[0]
            codec = stream.codec_context.name
            if codec != RELAYABLE_CODEC:
                self._post(self._refused, codec)
                return _REFUSED
            self._epochs += 1
            units = AccessUnits.for_stream(stream=stream, epoch=self._epochs)
            if not self._post(self._opened, codec):
                return _FAILED
            for packet in container.demux(stream):
                if self._stop.is_set() or self._reopen.is_set():
                    break
                for unit in units.from_packet(packet):
                    if pacer is not None:
                        unit = pacer.held(unit)
                    if not self._post(self._unit_arrived, unit):
                        return _FAILED
                    delivered = True
        except Exception as exc:  # a camera that goes away mid-stream, in whichever way FFmpeg reports it
            self._log_failure(url=url, what="stopped reading", exc=exc)
        finally:
            try:
                container.close()
            except Exception as exc:  # closing a connection that already failed may fail again
                reason = text_without_credentials(text=str(exc), url=url)
                logger.debug("camera %s: close failed: %s", self.camera_id, reason)
        return _DELIVERED if delivered else _FAILED

    def _post(self, callback: Callable[..., None], *args: Any) -> bool:
        try:
            self._loop.call_soon_threadsafe(callback, *args)
        except RuntimeError:  # the loop has closed: the process is shutting down
            self._stop.set()
            return False
        return True

    def _log_failure(self, *, url: str, what: str, exc: Exception) -> None:
        # Not logger.exception: PyAV puts the URL, password included, in its messages.
        logger.info(
            "camera %s: %s %s: %s: %s",
            self.camera_id,
            what,
            url_without_credentials(url=url),
            type(exc).__name__,
            text_without_credentials(text=str(exc), url=url),
        )


class _Pacer:
    """Holds a source that is not live to the pace of its own timestamps, as a camera would send it."""

    def __init__(self, *, stop: threading.Event) -> None:
        self._stop = stop
        self._anchor: tuple[float, int] | None = None  # (time.monotonic(), pts) of the first unit

    def held(self, unit: AccessUnit) -> AccessUnit:
        now = time.monotonic()
        if self._anchor is None:
            self._anchor = (now, unit.pts)
            return unit
        due = self._anchor[0] + (unit.pts - self._anchor[1]) / CLOCK_RATE
        if not -1.0 < due - now < 10.0:
            # The file's clock jumped (or we fell far behind): time afresh from here.
            self._anchor = (now, unit.pts)
            return unit
        if due > now:
            self._stop.wait(due - now)
        return replace(unit, received=time.monotonic())


class AccessUnits:
    """Turns one connection's packets into AccessUnits: Annex B, parameter sets before keyframes, no filler."""

    def __init__(
        self, *, extradata: bytes, epoch: int, avcc_filter: av.bitstream.BitStreamFilterContext | None
    ) -> None:
        self._epoch = epoch
        self._last_pts: int | None = None
        self._parameter_sets: dict[int, bytes] = {}
        self._filter = avcc_filter
        if avcc_filter is None:
            # RTSP: FFmpeg hands out Annex B already, but a camera may send SPS/PPS only in its SDP
            # (sprop-parameter-sets), which FFmpeg puts in the extradata.
            self._parameter_sets_note(nal_units(extradata))

    @classmethod
    def for_stream(cls, *, stream: av.VideoStream, epoch: int) -> AccessUnits:
        extradata = stream.codec_context.extradata or b""
        avcc_filter = None
        if extradata[:1] == b"\x01":
            # avcC (MP4, FLV/RTMP): length-prefixed NAL units; FFmpeg's filter rewrites them as Annex B
            # and puts the parameter sets in front of each IDR.
            avcc_filter = av.bitstream.BitStreamFilterContext("h264_mp4toannexb", stream)
        return cls(extradata=extradata, epoch=epoch, avcc_filter=avcc_filter)

    def from_packet(self, packet: av.Packet) -> list[AccessUnit]:
        packets = self._filter.filter(packet) if self._filter is not None else [packet]
        units = []
        for each in packets:
            unit = self._unit(each)
            if unit is not None:
                units.append(unit)
        return units

    def _unit(self, packet: av.Packet) -> AccessUnit | None:
        if packet.size == 0:
            return None
        # Filler only pads a CBR camera's bitrate; it would cost viewers bandwidth and decode to nothing.
        nals = [nal for nal in nal_units(bytes(packet)) if nal[0] & 0x1F != NAL_FILLER]
        if not nals:
            return None
        types = {nal[0] & 0x1F for nal in nals}
        self._parameter_sets_note(nals)
        keyframe = packet.is_keyframe or NAL_IDR in types
        if keyframe:
            # A viewer may start at any keyframe, and a browser cannot decode one without SPS/PPS.
            known = self._parameter_sets
            missing = [known[t] for t in (NAL_SPS, NAL_PPS) if t not in types and t in known]
            at = 1 if nals[0][0] & 0x1F == NAL_AUD else 0
            nals[at:at] = missing
        return AccessUnit(
            data=b"".join(START_CODE + nal for nal in nals),
            pts=self._pts(packet),
            keyframe=keyframe,
            epoch=self._epoch,
            received=time.monotonic(),
        )

    def _parameter_sets_note(self, nals: list[bytes]) -> None:
        for nal in nals:
            if nal[0] & 0x1F in (NAL_SPS, NAL_PPS):
                self._parameter_sets[nal[0] & 0x1F] = nal

    def _pts(self, packet: av.Packet) -> int:
        value = packet.pts if packet.pts is not None else packet.dts
        if value is None or packet.time_base is None:
            # FFmpeg's RTSP demuxer leaves the first packet untimed until an RTCP report arrives.
            pts = self._last_pts + 1 if self._last_pts is not None else 0
        else:
            pts = round(value * packet.time_base * CLOCK_RATE)
        self._last_pts = pts
        return pts


def nal_units(data: bytes) -> list[bytes]:
    """The NAL units of an Annex B byte string, without start codes."""
    nals = []
    start = data.find(b"\x00\x00\x01")
    while start != -1:
        begin = start + 3
        end = data.find(b"\x00\x00\x01", begin)
        # Zeros before a start code are the 4-byte start code's first byte or padding; no decoder needs them.
        nal = data[begin:] if end == -1 else data[begin:end].rstrip(b"\x00")
        if nal:
            nals.append(nal)
        start = end
    return nals
