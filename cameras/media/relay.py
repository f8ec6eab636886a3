"""Relays each camera's H.264 to WebRTC viewers as it came, one source connection per camera for all its viewers."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NoReturn

from aiortc import (
    RTCConfiguration,
    RTCDataChannel,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpCodecCapability,
    RTCRtpSender,
    RTCRtpTransceiver,
    RTCSessionDescription,
)
from aiortc import sdp as aiortc_sdp
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from cameras.media import ice
from cameras.media.probe import url_without_credentials
from cameras.media.rtp_fanout import RtpStream
from cameras.media.source import CLOCK_RATE, LIVE, RECONNECTING, RELAYABLE_CODEC, AccessUnit, CameraSource

logger = logging.getLogger(__name__)

ENDED = "ended"
# Reasons the relay gives on its own; Django passes its own (consent revoked, schedule ended, ...).
REASON_VIEWER_LEFT = "The viewer left."
REASON_CONNECTION_FAILED = "The connection to the viewer failed."
REASON_SHUTTING_DOWN = "The relay is shutting down."

# A viewer's timestamps may step forward at most this much between pictures; more means the camera's
# clock jumped, and we continue from where the viewer was instead.
_MAX_STEP = 10 * CLOCK_RATE
# ICE with candidates on loopback or a LAN takes well under a second; a viewer not connected by then has
# gone away (its tab closed mid-offer) or cannot reach us.
_CONNECT_TIMEOUT_S = 30.0
# How long the "ended" message may take to leave before the connection closes under it.
_GOODBYE_FLUSH_S = 0.5
_GOODBYE_LINGER_S = 0.05
_H264_MIME = "video/h264"


class RelayError(Exception):
    """A viewer could not be opened; the message is safe to show to the user."""


class RelayFull(RelayError):
    pass


class BadOffer(RelayError):
    pass


class CodecNotRelayable(RelayError):
    def __init__(self, codec: str) -> None:
        self.codec = codec
        super().__init__(f"The camera sends {codec}, which cannot be relayed live; set the camera to H.264.")


class ViewerClosed(RelayError):
    """The camera or the relay was closed while this viewer was being set up."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True)
class ViewerSession:
    session_id: str
    camera_id: int
    answer_sdp: str


@dataclass(frozen=True)
class ViewerState:
    """A viewer the relay holds now: whether its connection is up, and the bytes sent to it so far."""

    session_id: str
    camera_id: int
    connected: bool
    bytes_sent: int


@dataclass(frozen=True)
class ViewerReport:
    session_id: str
    camera_id: int
    bytes_sent: int
    packets_dropped: int
    started_at: datetime
    ended_at: datetime
    reason: str


class Relay:
    """All of one process's live viewers; one per process, on the event loop that serves WHEP.

    ice_host_addresses: the only addresses ICE binds and announces (["127.0.0.1"] in tests).
    public_address: behind a 1:1 NAT, the public address that maps to ice_host_addresses[0]; it is
        announced in its place.
    ice_servers: STUN/TURN for viewers behind NAT; none by default (aiortc's default is Google's STUN).
    grace_s: how long a camera's source stays open after its last viewer leaves.
    queue_packets: how many pictures a viewer may fall behind before it skips to the next keyframe.
    open_timeout_s: FFmpeg's limit for opening the camera and for each read.
    connect_timeout_s: how long a viewer has to connect (ICE and DTLS) before it is ended.
    """

    def __init__(
        self,
        *,
        ice_host_addresses: Sequence[str],
        public_address: str | None = None,
        ice_servers: Sequence[RTCIceServer] = (),
        max_viewers: int = 200,
        grace_s: float = 10.0,
        queue_packets: int = 150,
        reconnect_backoff_max_s: float = 8.0,
        open_timeout_s: float = 5.0,
        connect_timeout_s: float = _CONNECT_TIMEOUT_S,
    ) -> None:
        if max_viewers < 1 or queue_packets < 1:
            raise ValueError("max_viewers and queue_packets must be at least 1")
        self._ice_host_addresses = ice.addresses_checked(ice_host_addresses)
        self._public_address = ice.addresses_checked([public_address])[0] if public_address else None
        self._ice_servers = list(ice_servers)
        self._max_viewers = max_viewers
        self._grace_s = grace_s
        self._queue_packets = queue_packets
        self._reconnect_backoff_max_s = reconnect_backoff_max_s
        self._open_timeout_s = open_timeout_s
        self._connect_timeout_s = connect_timeout_s
        self._sources: dict[int, CameraSource] = {}
        self._viewers: dict[str, _Viewer] = {}
        self._opening = 0
        # Bumped by close_camera, so a viewer being set up while its camera is closed never starts.
        self._camera_closures: dict[int, int] = {}
        self._closed = False
        self._tasks: set[asyncio.Task[None]] = set()

    async def open_viewer(
        self,
        *,
        camera_id: int,
        source_url: str,
        offer_sdp: str,
        on_end: Callable[[ViewerReport], Awaitable[None]] | None = None,
        on_connect: Callable[[str], Awaitable[None]] | None = None,
    ) -> ViewerSession:
        """Answers a viewer's SDP offer; its video starts with the camera's current GOP.

        Raises RelayFull, BadOffer, CodecNotRelayable, or ViewerClosed. `on_end` is awaited exactly once
        when a viewer that got an answer ends, whatever ends it: its DELETE, a revocation, or its connection
        dying (ICE or DTLS failure, or ICE consent freshness expiring when the peer vanished without a word).
        `on_connect` is awaited (with the session id) when its connection first comes up.
        """
        if self._closed:
            raise ViewerClosed(REASON_SHUTTING_DOWN)
        _offer_check(offer_sdp)
        if len(self._viewers) + self._opening >= self._max_viewers:
            raise RelayFull("This relay has as many viewers as it can take; try again shortly.")
        closures = self._camera_closures.get(camera_id, 0)
        self._opening += 1
        source = self._source_use(camera_id=camera_id, url=source_url)
        viewer: _Viewer | None = None
        try:
            if source.codec is None:
                await source.first_attempt(timeout_s=self._open_timeout_s + 1)
            self._open_still_wanted(camera_id=camera_id, closures=closures, source=source)
            if source.codec is not None and source.codec != RELAYABLE_CODEC:
                raise CodecNotRelayable(source.codec)
            viewer = _Viewer(
                relay=self,
                session_id=secrets.token_urlsafe(16),
                camera_id=camera_id,
                source=source,
                queue=ViewerQueue(capacity=self._queue_packets),
                on_end=on_end,
                on_connect=on_connect,
                connect_timeout_s=self._connect_timeout_s,
                configuration=RTCConfiguration(iceServers=list(self._ice_servers)),
            )
            answer_sdp = await self._answer(viewer=viewer, offer_sdp=offer_sdp)
            self._open_still_wanted(camera_id=camera_id, closures=closures, source=source)
        except BaseException:
            if viewer is not None:
                await viewer.pc.close()
            self._source_release(source)
            raise
        finally:
            self._opening -= 1
        self._viewers[viewer.session_id] = viewer
        viewer.start()
        logger.info("camera %s: viewer %s opened", camera_id, viewer.session_id)
        return ViewerSession(session_id=viewer.session_id, camera_id=camera_id, answer_sdp=answer_sdp)

    async def close_viewer(self, session_id: str, *, reason: str) -> bool:
        viewer = self._viewers.get(session_id)
        if viewer is None:
            return False
        await viewer.end(reason=reason)
        return True

    async def close_camera(self, camera_id: int, *, reason: str) -> int:
        """Ends every viewer of the camera now, telling each why, and closes its source without a grace period."""
        self._camera_closures[camera_id] = self._camera_closures.get(camera_id, 0) + 1
        viewers = [v for v in self._viewers.values() if v.camera_id == camera_id]
        source = self._sources.pop(camera_id, None)
        if source is not None:
            source.stop()
        await asyncio.gather(*(viewer.end(reason=reason) for viewer in viewers))
        return len(viewers)

    def source_acquire(self, *, camera_id: int, url: str) -> CameraSource:
        """The camera's source, shared with its viewers, for a user that is not a viewer (the recorder).

        The caller subscribes to it, and gives it back with source_release; until then the source stays open.
        """
        if self._closed:
            raise RelayError(REASON_SHUTTING_DOWN)
        return self._source_use(camera_id=camera_id, url=url)

    def source_release(self, source: CameraSource) -> None:
        """Gives back a source_acquire; the source closes after the grace period when nobody else uses it."""
        self._source_release(source)

    def source_state(self, camera_id: int) -> str | None:
        """ "connecting", "live" or "reconnecting" while the camera has a source; None when it has none."""
        source = self._sources.get(camera_id)
        return source.state if source is not None else None

    def viewers_held(self) -> list[ViewerState]:
        """Every viewer this relay holds now, for the periodic report to Django."""
        return [
            ViewerState(
                session_id=viewer.session_id,
                camera_id=viewer.camera_id,
                connected=viewer.connected,
                bytes_sent=viewer.bytes_sent,
            )
            for viewer in self._viewers.values()
        ]

    def viewer_count(self, camera_id: int | None = None) -> int:
        if camera_id is None:
            return len(self._viewers)
        return sum(1 for viewer in self._viewers.values() if viewer.camera_id == camera_id)

    async def close(self) -> None:
        """Ends every viewer (telling each that the relay is shutting down) and closes every source."""
        self._closed = True
        await asyncio.gather(*(viewer.end(reason=REASON_SHUTTING_DOWN) for viewer in list(self._viewers.values())))
        sources = list(self._sources.values())
        self._sources.clear()
        for source in sources:
            source.stop()
        finished = await asyncio.gather(*(s.finished(timeout_s=self._open_timeout_s + 1) for s in sources))
        for source, done in zip(sources, finished, strict=True):
            if not done:
                # Its thread is stuck in FFmpeg until the read timeout; it is a daemon and posts nothing more.
                logger.warning("camera %s: source reader still running after close", source.camera_id)
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def _open_still_wanted(self, *, camera_id: int, closures: int, source: CameraSource) -> None:
        if self._closed:
            raise ViewerClosed(REASON_SHUTTING_DOWN)
        if self._camera_closures.get(camera_id, 0) != closures or source.stopped:
            raise ViewerClosed("The camera was closed while the viewer was being set up.")

    # Internals used by _Viewer.

    def viewer_forget(self, viewer: _Viewer) -> None:
        if self._viewers.pop(viewer.session_id, None) is not None:
            viewer.source.unsubscribe(viewer)
            self._source_release(viewer.source)

    def task_start(self, coroutine: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # Sources.

    def _source_use(self, *, camera_id: int, url: str) -> CameraSource:
        source = self._sources.get(camera_id)
        if source is None:
            source = CameraSource(
                camera_id=camera_id,
                url=url,
                open_timeout_s=self._open_timeout_s,
                backoff_max_s=self._reconnect_backoff_max_s,
                on_refused=self._source_refused,
            )
            self._sources[camera_id] = source
            source.start()
            logger.info("camera %s: source opened for %s", camera_id, url_without_credentials(url=url))
        else:
            source.retarget(url=url)
        if source.idle_timer is not None:
            source.idle_timer.cancel()
            source.idle_timer = None
        source.users += 1
        return source

    def _source_release(self, source: CameraSource) -> None:
        source.users -= 1
        if source.users > 0 or source.stopped:
            return
        if source.codec is not None and source.codec != RELAYABLE_CODEC:
            self._source_close(source)
            return
        loop = asyncio.get_running_loop()
        source.idle_timer = loop.call_later(self._grace_s, self._source_close_if_idle, source)

    def _source_close_if_idle(self, source: CameraSource) -> None:
        source.idle_timer = None
        if source.users == 0:
            self._source_close(source)

    def _source_close(self, source: CameraSource) -> None:
        if self._sources.get(source.camera_id) is source:
            del self._sources[source.camera_id]
        source.stop()
        logger.info("camera %s: source closed", source.camera_id)

    def _source_refused(self, source: CameraSource) -> None:
        # The camera was switched to a codec we cannot pass through: whoever watches it now cannot go on.
        codec = source.codec or "an unknown codec"
        reason = str(CodecNotRelayable(codec))
        logger.warning("camera %s: sends %s, which cannot be relayed", source.camera_id, codec)
        for viewer in [v for v in self._viewers.values() if v.source is source]:
            self.task_start(viewer.end(reason=reason))
        if source.users == 0:
            self._source_close(source)

    # Signalling.

    async def _answer(self, *, viewer: _Viewer, offer_sdp: str) -> str:
        pc = viewer.pc
        if ice.loopback_only(self._ice_host_addresses):
            offer_sdp = ice.mdns_candidates_removed(sdp=offer_sdp)
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
        except Exception as exc:  # aiortc rejects a description it cannot use in several ways
            raise BadOffer(f"The offer could not be used: {exc}") from None
        if viewer.transceiver.mid is None:
            # setRemoteDescription takes the first transceiver of the m-line's kind that has no mid yet;
            # ours, made before it, must be the one, or the answer would not carry our H.264 track.
            raise BadOffer("The offer's video could not be matched to the camera.")
        with ice.host_addresses_only(self._ice_host_addresses):
            await pc.setLocalDescription(await pc.createAnswer())
        answer = pc.localDescription.sdp
        if not _answers_h264(answer):
            raise BadOffer("The offer does not accept H.264 video.")
        stray = ice.host_candidate_addresses(sdp=answer) - set(self._ice_host_addresses)
        if stray:
            # Our restriction of aioice stopped working (a new aioice?); never announce other addresses.
            logger.error("ICE host candidates on %s, outside the configured addresses", sorted(stray))
            raise RuntimeError("ICE gathered host candidates outside the configured addresses")
        if self._public_address is not None:
            answer = ice.public_address_announce(
                sdp=answer, private=self._ice_host_addresses[0], public=self._public_address
            )
        return answer


class ViewerQueue:
    """One viewer's bounded backlog of access units, with timestamps made continuous for that viewer.

    A viewer that falls `capacity` units behind loses its backlog and skips to the next keyframe, so the
    relay's memory stays bounded and what the viewer gets stays decodable.
    """

    def __init__(self, *, capacity: int) -> None:
        self.capacity = capacity
        self.dropped = 0
        self._units: deque[AccessUnit] = deque()
        self._ready = asyncio.Event()
        self._closed = False
        self._waiting_for_keyframe = True
        self._counting_skipped = False  # whether units skipped while waiting for a keyframe are this viewer's loss
        self._pushed_epoch = 0
        self._started = False
        self._burst = 0
        self._burst_end = 0
        self._offset = 0
        self._last_out: int | None = None
        self._last_epoch = 0
        self._last_received = 0.0

    def __len__(self) -> int:
        return len(self._units)

    def put(self, unit: AccessUnit) -> None:
        if self._closed:
            return
        if unit.epoch != self._pushed_epoch:
            # A new connection to the camera: its pictures cannot refer to the old one's. What it sends
            # before its first keyframe is lost to every viewer alike, so it is not this viewer's drop.
            self._pushed_epoch = unit.epoch
            self._waiting_for_keyframe, self._counting_skipped = True, False
        if self._waiting_for_keyframe and not unit.keyframe:
            self.dropped += int(self._counting_skipped)
            return
        self._waiting_for_keyframe = False
        if unit.keyframe and not self._started:
            # Not playing yet: start from the newest keyframe rather than a backlog.
            self._units.clear()
        if len(self._units) >= self.capacity:
            if self._started:
                self.dropped += len(self._units) + int(not unit.keyframe)
            self._units.clear()
            self._burst = 0
            if not unit.keyframe:
                self._waiting_for_keyframe, self._counting_skipped = True, self._started
                return
        self._units.append(unit)
        self._ready.set()

    async def get(self) -> tuple[AccessUnit, int]:
        """The next unit and its timestamp for this viewer; MediaStreamError once closed."""
        while not self._units:
            if self._closed:
                raise MediaStreamError
            self._ready.clear()
            await self._ready.wait()
        if self._closed:
            raise MediaStreamError
        if not self._started:
            # What waited for the connection goes out at once; its timestamps are squeezed together just
            # before the newest one's, so the browser shows the newest picture now instead of replaying
            # the backlog at camera speed and staying that far behind.
            self._started = True
            self._burst = len(self._units) - 1
            self._burst_end = self._units[-1].pts
        unit = self._units.popleft()
        if self._burst > 0:
            out = self._burst_end - self._burst
            self._burst -= 1
        else:
            out = unit.pts + self._offset
            if self._last_out is not None and (
                unit.epoch != self._last_epoch or not 0 < out - self._last_out <= _MAX_STEP
            ):
                # A reconnected camera starts a new clock: go on from where this viewer was, by the time
                # that passed, so its timestamps never run backwards.
                step = max(1, round((unit.received - self._last_received) * CLOCK_RATE))
                self._offset = self._last_out + step - unit.pts
                out = self._last_out + step
        self._last_out, self._last_epoch, self._last_received = out, unit.epoch, unit.received
        return unit, out

    def close(self) -> None:
        self._closed = True
        self._units.clear()
        self._ready.set()


class _ViewerTrack(MediaStreamTrack):
    """The camera's pictures for one viewer, sent as they came: aiortc's sender task calls recv() once the
    connection is up, and recv() sends every picture itself through the viewer's RtpStream until the viewer ends.
    """

    kind = "video"

    def __init__(
        self, *, queue: ViewerQueue, stream: Callable[[], RtpStream], on_sent: Callable[[AccessUnit], None]
    ) -> None:
        super().__init__()
        self._queue = queue
        self._stream = stream
        self._on_sent = on_sent

    async def recv(self) -> NoReturn:
        # Never returns a packet: handing aiortc one per picture would have it build, stamp and send each RTP
        # packet for each viewer in Python, and cut the same picture into payloads once per viewer.
        stream = self._stream()
        while True:
            if self.readyState != "live":
                raise MediaStreamError
            unit, pts = await self._queue.get()
            stream.send(payloads=unit.payloads, timestamp=pts)
            self._on_sent(unit)


class _Viewer:
    """One browser watching one camera: its peer connection, queue, status channel and end report."""

    def __init__(
        self,
        *,
        relay: Relay,
        session_id: str,
        camera_id: int,
        source: CameraSource,
        queue: ViewerQueue,
        on_end: Callable[[ViewerReport], Awaitable[None]] | None,
        configuration: RTCConfiguration,
        on_connect: Callable[[str], Awaitable[None]] | None = None,
        connect_timeout_s: float = _CONNECT_TIMEOUT_S,
    ) -> None:
        self.relay = relay
        self.session_id = session_id
        self.camera_id = camera_id
        self.source = source
        self.queue = queue
        self.on_end = on_end
        self.on_connect = on_connect
        self.connect_timeout_s = connect_timeout_s
        self.connected = False
        self.started_at = datetime.now(UTC)
        self.pc = RTCPeerConnection(configuration=configuration)
        self.track = _ViewerTrack(queue=queue, stream=self._rtp_stream, on_sent=self._unit_sent)
        self.transceiver: RTCRtpTransceiver = self.pc.addTransceiver(self.track, direction="sendonly")
        # Before setRemoteDescription, so the offer's video m-line is answered with H.264 only: aiortc
        # would otherwise prefer VP8, and a VP8 answer carrying H.264 packets shows nothing.
        self.transceiver.setCodecPreferences(_h264_capabilities())
        self._channel: RTCDataChannel | None = None
        self._status: str | None = RECONNECTING if source.state == RECONNECTING else None
        self._live_after_epoch = 0
        self._last_epoch = 0
        self._ending: asyncio.Future[None] | None = None
        self._connect_timer: asyncio.TimerHandle | None = None
        self._stream: RtpStream | None = None

    @property
    def bytes_sent(self) -> int:
        """What the relay itself put on the wire for this viewer (it sends around aiortc's counters)."""
        return self._stream.bytes_sent if self._stream is not None else 0

    def start(self) -> None:
        self.pc.on("connectionstatechange", self._connection_state_changed)
        self.pc.on("datachannel", self._channel_opened)
        loop = asyncio.get_running_loop()
        self._connect_timer = loop.call_later(self.connect_timeout_s, self._connect_overdue)
        self.source.subscribe(self)

    # Subscriber

    def unit_push(self, unit: AccessUnit) -> None:
        self._last_epoch = unit.epoch
        self.queue.put(unit)

    def source_state_changed(self, state: str) -> None:
        if state == RECONNECTING:
            self._live_after_epoch = self._last_epoch
            self._status_send(RECONNECTING)

    async def end(self, *, reason: str) -> None:
        """Says goodbye on the status channel, closes the connection and reports, exactly once."""
        if self._ending is None:
            self._ending = asyncio.ensure_future(self._end(reason=reason))
        await asyncio.shield(self._ending)

    async def _end(self, *, reason: str) -> None:
        if self._connect_timer is not None:
            self._connect_timer.cancel()
        self.relay.viewer_forget(self)
        self.queue.close()
        await self._goodbye(reason=reason)
        bytes_sent = self.bytes_sent
        try:
            await self.pc.close()
        except Exception:  # a connection that already failed may fail to close; it is gone either way
            logger.debug("viewer %s: close failed", self.session_id, exc_info=True)
        report = ViewerReport(
            session_id=self.session_id,
            camera_id=self.camera_id,
            bytes_sent=bytes_sent,
            packets_dropped=self.queue.dropped,
            started_at=self.started_at,
            ended_at=datetime.now(UTC),
            reason=reason,
        )
        logger.info(
            "camera %s: viewer %s ended (%s): %d bytes, %d dropped",
            self.camera_id,
            self.session_id,
            reason,
            report.bytes_sent,
            report.packets_dropped,
        )
        if self.on_end is not None:
            try:
                await self.on_end(report)
            except Exception:  # Django's bookkeeping failing must not stop the other viewers' ends
                logger.exception("viewer %s: on_end failed", self.session_id)

    async def _goodbye(self, *, reason: str) -> None:
        channel = self._channel
        if channel is None or channel.readyState != "open":
            return
        self._status_send(ENDED, reason=reason)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _GOODBYE_FLUSH_S
        while channel.bufferedAmount > 0 and loop.time() < deadline:
            await asyncio.sleep(0.01)
        # Sent is not yet received: a moment more lets the message arrive before the connection's
        # shutdown overtakes it.
        await asyncio.sleep(_GOODBYE_LINGER_S)

    def _rtp_stream(self) -> RtpStream:
        # The answer we gave says what the browser agreed to: our codec's payload type, its RTX, the header
        # extensions; aiortc's sender was started with the same.
        media = next(
            m for m in aiortc_sdp.SessionDescription.parse(self.pc.localDescription.sdp).media if m.kind == "video"
        )
        codec = media.rtp.codecs[0]
        assert codec.payloadType is not None  # the SDP parser sets it from the m-line's format list
        rtx = next(
            (
                c.payloadType
                for c in media.rtp.codecs
                if c.mimeType.lower() == "video/rtx" and c.parameters.get("apt") == codec.payloadType
            ),
            None,
        )
        self._stream = RtpStream(
            sender=self.transceiver.sender,
            payload_type=codec.payloadType,
            rtx_payload_type=rtx,
            mid=self.transceiver.mid,
            header_extensions=media.rtp.headerExtensions,
        )
        return self._stream

    def _unit_sent(self, unit: AccessUnit) -> None:
        if self._status != LIVE and unit.epoch > self._live_after_epoch:
            self._status_send(LIVE)

    def _status_send(self, state: str, *, reason: str | None = None) -> None:
        self._status = state
        channel = self._channel
        if channel is None or channel.readyState != "open":
            return
        message = {"state": state} if reason is None else {"state": state, "reason": reason}
        try:
            channel.send(json.dumps(message))
        except Exception:  # the channel closed between the check and the send
            logger.debug("viewer %s: status not sent", self.session_id, exc_info=True)

    def _channel_opened(self, channel: RTCDataChannel) -> None:
        if self._channel is not None:
            return
        self._channel = channel

        def on_open() -> None:
            if self._status is not None:
                self._status_send(self._status)

        if channel.readyState == "open":
            on_open()
        else:
            channel.on("open", on_open)

    def _connection_state_changed(self) -> None:
        state = self.pc.connectionState
        if state == "connected" and self._connect_timer is not None:
            self._connect_timer.cancel()
            self._connect_timer = None
        if state == "connected" and not self.connected and self._ending is None:
            self.connected = True
            if self.on_connect is not None:
                self.relay.task_start(self._connected_report())
        elif state in ("failed", "closed") and self._ending is None:
            reason = REASON_CONNECTION_FAILED if state == "failed" else REASON_VIEWER_LEFT
            self.relay.task_start(self.end(reason=reason))

    async def _connected_report(self) -> None:
        assert self.on_connect is not None
        try:
            await self.on_connect(self.session_id)
        except Exception:  # the periodic report marks it connected too
            logger.exception("viewer %s: on_connect failed", self.session_id)

    def _connect_overdue(self) -> None:
        self._connect_timer = None
        if self.pc.connectionState != "connected" and self._ending is None:
            self.relay.task_start(self.end(reason=REASON_CONNECTION_FAILED))


def _h264_capabilities() -> list[RTCRtpCodecCapability]:
    codecs = RTCRtpSender.getCapabilities("video").codecs
    chosen = [
        c for c in codecs if c.mimeType.lower() == _H264_MIME and str(c.parameters.get("packetization-mode")) == "1"
    ]
    # RTX lets aiortc resend what a browser reports lost (NACK) on its own stream.
    return chosen + [c for c in codecs if c.mimeType.lower() == "video/rtx"]


def _offer_check(offer_sdp: str) -> None:
    try:
        if not offer_sdp.lstrip().startswith("v=0"):
            raise ValueError("an SDP description starts with v=0")
        description = aiortc_sdp.SessionDescription.parse(offer_sdp)
    except Exception:  # the SDP parser raises whatever the malformed line provokes
        raise BadOffer("The offer is not a valid SDP description.") from None
    # aiortc answers the first video m-line with our transceiver, so that is the one that must fit.
    video = [m for m in description.media if m.kind == "video"]
    if not video:
        raise BadOffer("The offer has no video.")
    if video[0].direction not in (None, "recvonly", "sendrecv"):
        raise BadOffer("The offer does not ask to receive video.")
    if not any(
        c.mimeType.lower() == _H264_MIME and str(c.parameters.get("packetization-mode")) == "1"
        for c in video[0].rtp.codecs
    ):
        raise BadOffer("The offer does not accept H.264 video (packetization-mode 1), which the camera sends.")


def _answers_h264(answer_sdp: str) -> bool:
    description = aiortc_sdp.SessionDescription.parse(answer_sdp)
    video = next((m for m in description.media if m.kind == "video"), None)
    if video is None:
        return False
    codecs = [c for c in video.rtp.codecs if c.mimeType.lower() != "video/rtx"]
    return bool(codecs) and all(c.mimeType.lower() == _H264_MIME for c in codecs)
