"""The relay passes a camera's H.264 to WebRTC viewers untouched, one camera connection for all its viewers."""

from __future__ import annotations

import asyncio
import itertools
import socket
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import aiortc.rtcrtpsender
import av
import numpy as np
import pytest
from aiortc import RTCSessionDescription

from cameras.media import relay as relay_module
from cameras.media import source as source_module
from cameras.media.relay import (
    REASON_SHUTTING_DOWN,
    REASON_VIEWER_LEFT,
    BadOffer,
    CodecNotRelayable,
    RelayFull,
    ViewerClosed,
)
from cameras.media.source import CLOCK_RATE, LIVE, RECONNECTING
from devtools.simulator import CameraSimulator
from devtools.simulator.encoder import codec_available
from tests.cameras.media.conftest import BrowserViewer, RtspForwarder, relay_running, run_async

WIDTH, HEIGHT = 320, 180


@pytest.fixture
def own_simulator() -> Iterator[CameraSimulator]:
    """A simulator this test may stop and start; camera 2 is H.265 where this PyAV can encode it."""
    codecs = {2: "hevc"} if codec_available(codec="hevc") else {}
    with CameraSimulator(cameras=2, width=WIDTH, height=HEIGHT, fps=10, gop_s=5.0, codecs=codecs) as sim:
        yield sim


@run_async()
async def test_a_viewer_gets_the_cameras_pictures_as_h264(simulator: CameraSimulator) -> None:
    async with relay_running() as relay:
        viewer = BrowserViewer()
        session = await viewer.watch(relay, camera_id=1, url=simulator.url(1))
        try:
            assert "H264/90000" in session.answer_sdp
            assert "VP8" not in session.answer_sdp
            await viewer.frames_wait(5)
            assert {(w, h) for _, w, h in viewer.frames} == {(WIDTH, HEIGHT)}
            assert await viewer.message_wait(LIVE) == {"state": "live"}
            assert relay.source_state(1) == LIVE
            assert relay.viewer_count(1) == relay.viewer_count() == 1
        finally:
            await viewer.close()


@run_async()
async def test_an_offer_with_audio_first_gets_the_video_and_no_audio(simulator: CameraSimulator) -> None:
    # Browsers' WHEP players often offer audio too, before the video.
    async with relay_running() as relay:
        viewer = BrowserViewer(audio=True)
        session = await viewer.watch(relay, camera_id=1, url=simulator.url(1))
        try:
            audio, video = session.answer_sdp.split("m=video")
            assert "a=inactive" in audio
            assert "a=sendonly" in video and "H264/90000" in video
            await viewer.frames_wait(3)
        finally:
            await viewer.close()


@run_async()
async def test_the_answer_offers_only_the_configured_host_addresses(simulator: CameraSimulator) -> None:
    async with relay_running() as relay:
        viewer = BrowserViewer()
        session = await viewer.watch(relay, camera_id=1, url=simulator.url(1))
        await viewer.close()
    candidates = [line.split() for line in session.answer_sdp.splitlines() if line.startswith("a=candidate:")]
    assert candidates
    assert {fields[4] for fields in candidates} == {"127.0.0.1"}
    assert {fields[7] for fields in candidates} == {"host"}


@run_async()
async def test_a_browser_hiding_its_address_behind_mdns_still_connects_on_loopback(simulator: CameraSimulator) -> None:
    # Chromium names its host candidates "<uuid>.local"; resolving them would multicast off the machine.
    async with relay_running() as relay:
        viewer = BrowserViewer()
        offer = await viewer.offer()
        hidden = offer.replace(" 127.0.0.1 ", " 0b3e61f2-4c1d-4e4b-9d6e-4f2f0c9a7d11.local ")
        assert ".local" in hidden and "a=end-of-candidates" in hidden
        session = await relay.open_viewer(camera_id=1, source_url=simulator.url(1), offer_sdp=hidden)
        await viewer.pc.setRemoteDescription(RTCSessionDescription(sdp=session.answer_sdp, type="answer"))
        try:
            await viewer.frames_wait(3)
        finally:
            await viewer.close()


@run_async()
async def test_a_public_address_is_announced_in_place_of_the_private_one(simulator: CameraSimulator) -> None:
    async with relay_running(public_address="203.0.113.7") as relay:
        viewer = BrowserViewer()
        session = await relay.open_viewer(camera_id=1, source_url=simulator.url(1), offer_sdp=await viewer.offer())
        await viewer.close()
    candidates = [line.split() for line in session.answer_sdp.splitlines() if line.startswith("a=candidate:")]
    assert {fields[4] for fields in candidates} == {"203.0.113.7"}
    assert "127.0.0.1" not in session.answer_sdp


@run_async()
async def test_a_file_is_sent_at_the_pace_of_its_timestamps(tmp_path: Path) -> None:
    # A camera paces itself; a file (or an MP4 over HTTP) would otherwise arrive all at once.
    path = tmp_path / "clip.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=10, options={"g": "10", "bf": "0"})
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        for n in range(40):
            image = np.full((HEIGHT, WIDTH, 3), (n * 6) % 255, dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = n
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    async with relay_running() as relay:
        viewer = BrowserViewer()
        await viewer.watch(relay, camera_id=1, url=str(path))
        first = await viewer.frames_wait(1)
        await asyncio.sleep(1.5)
        arrived = [t for t, _, _ in viewer.frames if t > first + 0.3]
        await viewer.close()
    gaps = sorted(b - a for a, b in itertools.pairwise(arrived))
    print(f"{len(arrived)} pictures, median gap {gaps[len(gaps) // 2] * 1000:.0f} ms (10 fps file)")
    assert 0.07 < gaps[len(gaps) // 2] < 0.13
    assert {(w, h) for _, w, h in viewer.frames} == {(WIDTH, HEIGHT)}


@run_async()
async def test_three_viewers_share_one_connection_to_the_camera(simulator: CameraSimulator) -> None:
    forwarder = RtspForwarder(target_port=simulator.port)
    await forwarder.start()
    viewers = [BrowserViewer() for _ in range(3)]
    try:
        async with relay_running() as relay:
            await asyncio.gather(*(v.watch(relay, camera_id=1, url=forwarder.url(simulator.url(1))) for v in viewers))
            await asyncio.gather(*(v.frames_wait(5) for v in viewers))
            assert relay.viewer_count(1) == 3
            assert (forwarder.connections, forwarder.open) == (1, 1)
    finally:
        for viewer in viewers:
            await viewer.close()
        await forwarder.close()


@run_async()
async def test_a_late_joiner_sees_a_picture_at_once(own_simulator: CameraSimulator) -> None:
    # Keyframes come every 5 s here, so a viewer who had to wait for the next one would wait seconds.
    async with relay_running() as relay:
        first = BrowserViewer()
        await first.watch(relay, camera_id=1, url=own_simulator.url(1))
        await first.frames_wait(15)  # well into the GOP
        late = BrowserViewer()
        asked = time.monotonic()
        await late.watch(relay, camera_id=1, url=own_simulator.url(1))
        first_picture = await late.frames_wait(1) - asked
        print(f"late joiner's first picture after {first_picture * 1000:.0f} ms")
        assert first_picture < 2.0
        # The cached GOP was squeezed into an instant; live pictures follow at the camera's pace.
        started = time.monotonic()
        await late.frames_wait(10, after=started)
        for viewer in (first, late):
            await viewer.close()


@run_async()
async def test_closing_a_camera_ends_its_viewers_within_a_second_and_says_why(simulator: CameraSimulator) -> None:
    reason = "The owner stopped sharing this camera."
    async with relay_running() as relay:
        watching = [BrowserViewer(), BrowserViewer()]
        other = BrowserViewer()
        for viewer in watching:
            await viewer.watch(relay, camera_id=1, url=simulator.url(1))
        await other.watch(relay, camera_id=2, url=simulator.url(2))
        await asyncio.gather(*(v.frames_wait(3) for v in [*watching, other]))

        started = time.monotonic()
        assert await relay.close_camera(1, reason=reason) == 2
        elapsed = time.monotonic() - started
        print(f"close_camera took {elapsed * 1000:.0f} ms")
        assert elapsed < 1.0
        for viewer in watching:
            assert await viewer.message_wait("ended", timeout_s=1) == {"state": "ended", "reason": reason}
            report = await viewer.ended_wait(timeout_s=0)
            assert report.reason == reason
            assert report.bytes_sent > 0
            assert report.camera_id == 1
            assert report.started_at < report.ended_at
        assert relay.viewer_count(1) == 0
        assert relay.source_state(1) is None
        # The other camera's viewer goes on.
        await other.frames_wait(3, after=time.monotonic())
        assert relay.viewer_count(2) == 1
        await asyncio.sleep(0.3)
        assert [len(v.reports) for v in watching] == [1, 1]
        for viewer in [*watching, other]:
            await viewer.close()


@run_async()
async def test_viewers_stay_through_a_camera_restart_and_are_told(own_simulator: CameraSimulator) -> None:
    async with relay_running(reconnect_backoff_max_s=1.0) as relay:
        viewer = BrowserViewer()
        await viewer.watch(relay, camera_id=1, url=own_simulator.url(1))
        await viewer.frames_wait(3)
        await viewer.message_wait(LIVE)

        await asyncio.to_thread(own_simulator.stop)
        await viewer.message_wait(RECONNECTING)
        assert relay.source_state(1) == RECONNECTING
        await asyncio.sleep(1.0)
        await asyncio.to_thread(own_simulator.start)
        restarted = time.monotonic()

        await viewer.frames_wait(3, after=restarted, timeout_s=10)
        assert [m["state"] for m in viewer.messages] == [LIVE, RECONNECTING, LIVE]
        assert relay.source_state(1) == LIVE
        assert relay.viewer_count(1) == 1
        assert viewer.reports == []
        await viewer.close()


@run_async()
async def test_a_viewer_of_a_camera_that_is_down_waits_for_it_and_is_told(own_simulator: CameraSimulator) -> None:
    own_simulator.stop()
    async with relay_running(reconnect_backoff_max_s=1.0) as relay:
        viewer = BrowserViewer()
        await viewer.watch(relay, camera_id=1, url=own_simulator.url(1))
        assert await viewer.message_wait(RECONNECTING) == {"state": "reconnecting"}
        assert relay.source_state(1) == RECONNECTING
        await asyncio.to_thread(own_simulator.start)
        await viewer.frames_wait(3)
        assert [m["state"] for m in viewer.messages] == [RECONNECTING, LIVE]
        await viewer.close()


@run_async()
async def test_a_new_camera_address_moves_the_source_and_its_viewers_follow(simulator: CameraSimulator) -> None:
    forwarder = RtspForwarder(target_port=simulator.port)
    await forwarder.start()
    try:
        async with relay_running() as relay:
            first, second = BrowserViewer(), BrowserViewer()
            await first.watch(relay, camera_id=1, url=forwarder.url(simulator.url(1)))
            await first.frames_wait(2)
            # The owner saved new details for the camera: the next viewer brings the new URL.
            await second.watch(relay, camera_id=1, url=simulator.url(1))
            await asyncio.gather(*(v.frames_wait(5, after=time.monotonic()) for v in (first, second)))
            assert (forwarder.connections, forwarder.open) == (1, 0)
            assert first.reports == []
            for viewer in (first, second):
                await viewer.close()
    finally:
        await forwarder.close()


@run_async()
async def test_a_new_camera_address_is_tried_at_once_while_the_old_one_is_down(simulator: CameraSimulator) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    dead_url = f"rtsp://127.0.0.1:{closed.getsockname()[1]}/cam1"
    closed.close()
    async with relay_running(reconnect_backoff_max_s=30.0) as relay:
        first = BrowserViewer()
        await first.watch(relay, camera_id=1, url=dead_url)
        await first.message_wait(RECONNECTING)
        await asyncio.sleep(2.0)  # the source is now waiting seconds before its next try
        second = BrowserViewer()
        asked = time.monotonic()
        await second.watch(relay, camera_id=1, url=simulator.url(1))
        await asyncio.gather(*(v.frames_wait(3, timeout_s=3) for v in (first, second)))
        print(f"pictures from the new address after {(time.monotonic() - asked) * 1000:.0f} ms")
        for viewer in (first, second):
            await viewer.close()


@run_async()
async def test_a_viewer_being_set_up_when_its_camera_is_closed_never_starts(simulator: CameraSimulator) -> None:
    async with relay_running() as relay:
        viewer = BrowserViewer()
        offer = await viewer.offer()
        opening = asyncio.ensure_future(relay.open_viewer(camera_id=1, source_url=simulator.url(1), offer_sdp=offer))
        await asyncio.sleep(0)  # it is waiting for the camera to answer
        assert await relay.close_camera(1, reason="Sharing was revoked.") == 0
        with pytest.raises(ViewerClosed):
            await opening
        assert relay.viewer_count() == 0
        assert relay.source_state(1) is None
        await viewer.close()


@run_async()
async def test_the_source_closes_a_grace_period_after_the_last_viewer_leaves(simulator: CameraSimulator) -> None:
    forwarder = RtspForwarder(target_port=simulator.port)
    await forwarder.start()
    url = forwarder.url(simulator.url(1))
    try:
        async with relay_running(grace_s=1.0) as relay:
            first = BrowserViewer()
            session = await first.watch(relay, camera_id=1, url=url)
            await first.frames_wait(2)
            assert await relay.close_viewer(session.session_id, reason="The monitor closed the tile.")
            assert (await first.ended_wait()).reason == "The monitor closed the tile."

            # Back within the grace period: the same connection serves the new viewer.
            await asyncio.sleep(0.5)
            assert relay.source_state(1) == LIVE
            second = BrowserViewer()
            session = await second.watch(relay, camera_id=1, url=url)
            await second.frames_wait(2)
            assert forwarder.connections == 1

            left = time.monotonic()
            await relay.close_viewer(session.session_id, reason="done")
            await asyncio.sleep(0.7)
            assert relay.source_state(1) == LIVE
            while relay.source_state(1) is not None and time.monotonic() - left < 3:
                await asyncio.sleep(0.05)
            closed_after = time.monotonic() - left
            print(f"source closed {closed_after * 1000:.0f} ms after the last viewer left (grace 1000 ms)")
            assert 1.0 <= closed_after < 2.0
            while forwarder.open and time.monotonic() - left < 5:
                await asyncio.sleep(0.05)
            assert forwarder.open == 0
            for viewer in (first, second):
                await viewer.close()
    finally:
        await forwarder.close()


@run_async()
async def test_a_viewer_who_leaves_is_reported_once(simulator: CameraSimulator) -> None:
    async with relay_running() as relay:
        viewer = BrowserViewer()
        await viewer.watch(relay, camera_id=1, url=simulator.url(1))
        await viewer.frames_wait(2)
        await viewer.close()
        report = await viewer.ended_wait(timeout_s=5)
        assert report.reason == REASON_VIEWER_LEFT
        assert report.bytes_sent > 0
        assert relay.viewer_count() == 0
        await asyncio.sleep(0.3)
        assert len(viewer.reports) == 1


@run_async()
async def test_closing_the_relay_ends_every_viewer_and_says_so(simulator: CameraSimulator) -> None:
    viewers = [BrowserViewer(), BrowserViewer()]
    async with relay_running() as relay:
        await viewers[0].watch(relay, camera_id=1, url=simulator.url(1))
        await viewers[1].watch(relay, camera_id=2, url=simulator.url(2))
        await asyncio.gather(*(v.frames_wait(2) for v in viewers))
    for viewer in viewers:
        assert [m for m in viewer.messages if m["state"] == "ended"] == [
            {"state": "ended", "reason": REASON_SHUTTING_DOWN}
        ]
        assert [r.reason for r in viewer.reports] == [REASON_SHUTTING_DOWN]
        await viewer.close()
    assert relay.source_state(1) is None and relay.source_state(2) is None


@pytest.mark.skipif(not codec_available(codec="hevc"), reason="this PyAV build cannot encode H.265 for the simulator")
@run_async()
async def test_an_h265_camera_cannot_be_relayed(own_simulator: CameraSimulator) -> None:
    async with relay_running() as relay:
        viewer = BrowserViewer()
        with pytest.raises(CodecNotRelayable) as raised:
            await viewer.watch(relay, camera_id=2, url=own_simulator.url(2))
        assert raised.value.codec == "hevc"
        assert "H.264" in str(raised.value)
        assert relay.viewer_count() == 0
        assert relay.source_state(2) is None
        await viewer.close()


@pytest.mark.parametrize(
    ("viewer_options", "message"),
    [
        ({"video": False}, "no video"),
        ({"video_codec": "VP8"}, "H.264"),
    ],
)
@run_async()
async def test_an_offer_without_h264_video_is_refused(
    simulator: CameraSimulator, viewer_options: dict[str, Any], message: str
) -> None:
    async with relay_running() as relay:
        viewer = BrowserViewer(**viewer_options)
        with pytest.raises(BadOffer, match=message):
            await viewer.watch(relay, camera_id=1, url=simulator.url(1))
        assert relay.source_state(1) is None  # refused before anyone called the camera
        await viewer.close()


@run_async()
async def test_an_offer_that_only_sends_or_is_not_sdp_is_refused(simulator: CameraSimulator) -> None:
    async with relay_running() as relay:
        with pytest.raises(BadOffer, match="not a valid SDP"):
            await relay.open_viewer(camera_id=1, source_url=simulator.url(1), offer_sdp="hello")
        sender = BrowserViewer(video=False)
        sender.pc.addTransceiver("video", direction="sendonly")
        with pytest.raises(BadOffer, match="receive video"):
            await relay.open_viewer(camera_id=1, source_url=simulator.url(1), offer_sdp=await sender.offer())
        await sender.close()


@run_async()
async def test_a_full_relay_refuses_another_viewer(simulator: CameraSimulator) -> None:
    async with relay_running(max_viewers=1) as relay:
        first, second = BrowserViewer(), BrowserViewer()
        await first.watch(relay, camera_id=1, url=simulator.url(1))
        with pytest.raises(RelayFull):
            await second.watch(relay, camera_id=2, url=simulator.url(2))
        assert relay.viewer_count() == 1
        await first.close()
        await second.close()


# Pass-through: the relay opens no codec. The client in this test decodes (like a browser) and the
# simulator encodes, so every codec context is attributed to whoever opened it by its call stack.


@dataclass
class CodecWatch:
    contexts: list[tuple[str, str, str]] = field(default_factory=list)  # (codec, mode, opened by)
    encoders: list[str] = field(default_factory=list)  # aiortc encoders the relay's senders got
    encoded: int = 0  # frames aiortc encoded
    containers: list[Any] = field(default_factory=list)  # what the relay's source opened

    def violations(self) -> list[str]:
        found = [f"the relay opened {codec} ({mode})" for codec, mode, who in self.contexts if who == "relay"]
        if self.encoded:
            found.append(f"aiortc encoded {self.encoded} frames")
        found += [
            "the relay decoded the camera's stream"
            for container in self.containers
            if any(stream.codec_context.is_open for stream in container.streams.video)
        ]
        return found


@pytest.fixture
def codec_watch(monkeypatch: pytest.MonkeyPatch) -> CodecWatch:
    watch = CodecWatch()
    real_codec_context = av.CodecContext
    real_open = av.open
    real_get_encoder = aiortc.rtcrtpsender.get_encoder

    class WatchedCodecContext:
        @staticmethod
        def create(codec: Any, mode: str | None = None, *args: Any, **kwargs: Any) -> Any:
            stack = "".join(traceback.format_stack())
            who = "relay"
            if "devtools/simulator/" in stack:
                who = "simulator"
            elif "rtcrtpreceiver.py" in stack:  # the test's viewer decoding what it received
                who = "viewer"
            watch.contexts.append((str(codec), str(mode), who))
            return real_codec_context.create(codec, mode, *args, **kwargs)

    def watched_open(*args: Any, **kwargs: Any) -> Any:
        container = real_open(*args, **kwargs)
        watch.containers.append(container)
        return container

    def watched_get_encoder(codec: Any) -> Any:
        encoder = real_get_encoder(codec)
        watch.encoders.append(type(encoder).__name__)
        encode = encoder.encode

        def counted_encode(*args: Any, **kwargs: Any) -> Any:
            watch.encoded += 1
            return encode(*args, **kwargs)

        encoder.encode = counted_encode
        return encoder

    # aiortc's codecs and the simulator's encoder look these up on the av module when they run.
    monkeypatch.setattr(av, "CodecContext", WatchedCodecContext)
    monkeypatch.setattr(av, "open", watched_open)
    monkeypatch.setattr(aiortc.rtcrtpsender, "get_encoder", watched_get_encoder)
    return watch


@run_async()
async def test_the_relay_neither_decodes_nor_encodes(simulator: CameraSimulator, codec_watch: CodecWatch) -> None:
    async with relay_running() as relay:
        viewer = BrowserViewer()
        await viewer.watch(relay, camera_id=1, url=simulator.url(1))
        await viewer.frames_wait(10)
        # Checked while the camera connection is open: its codec context says whether anyone decoded.
        violations = codec_watch.violations()
        await viewer.close()
    assert violations == []
    assert len(codec_watch.containers) == 1
    # aiortc's sender never gets as far as an encoder or payloader: the relay sends the camera's payloads itself.
    assert codec_watch.encoders == []
    # The watch does see codecs being opened: the test viewer's own H.264 decoder is there.
    assert ("h264", "r", "viewer") in codec_watch.contexts


@run_async()
async def test_the_codec_watch_catches_a_relay_that_decodes_and_re_encodes(
    simulator: CameraSimulator, codec_watch: CodecWatch, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The mistake the previous test guards against: decode the camera's packets and hand aiortc frames.
    decoders: dict[int, Any] = {}

    async def decoding_recv(self: Any) -> Any:
        while True:
            unit, pts = await self._queue.get()
            packet = av.Packet(unit.data)
            packet.pts, packet.time_base = pts, Fraction(1, CLOCK_RATE)
            decoder = decoders.setdefault(id(self), av.CodecContext.create("h264", "r"))
            frames = decoder.decode(packet)
            if frames:
                return frames[0]

    monkeypatch.setattr(relay_module._ViewerTrack, "recv", decoding_recv)
    async with relay_running() as relay:
        viewer = BrowserViewer()
        await viewer.watch(relay, camera_id=1, url=simulator.url(1))
        await viewer.frames_wait(5)
        violations = codec_watch.violations()
        await viewer.close()
    assert "the relay opened h264 (r)" in violations
    assert "the relay opened libx264 (w)" in violations
    assert any(v.startswith("aiortc encoded") for v in violations)


@run_async()
async def test_the_codec_watch_catches_a_source_that_decodes(
    simulator: CameraSimulator, codec_watch: CodecWatch, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_from_packet = source_module.AccessUnits.from_packet

    def decoding_from_packet(self: Any, packet: av.Packet) -> Any:
        packet.decode()  # e.g. for a thumbnail or motion, on the hot path
        return real_from_packet(self, packet)

    monkeypatch.setattr(source_module.AccessUnits, "from_packet", decoding_from_packet)
    async with relay_running() as relay:
        viewer = BrowserViewer()
        await viewer.watch(relay, camera_id=1, url=simulator.url(1))
        await viewer.frames_wait(5)
        violations = codec_watch.violations()
        await viewer.close()
    assert violations == ["the relay decoded the camera's stream"]
