"""A WHEP client made of aiortc, for tests: POST an offer, play the answer, count frames, read the status channel."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from email.message import Message

from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

from cameras.media.ice import host_addresses_only


@dataclass
class Watch:
    status: int
    location: str = ""
    final_url: str = ""
    redirected_from: str = ""
    error: dict = field(default_factory=dict)
    frames: int = 0
    size: tuple[int, int] | None = None
    messages: list[dict] = field(default_factory=list)
    first_frame_s: float | None = None
    pc: RTCPeerConnection | None = None
    started: float = 0.0
    tasks: list = field(default_factory=list)

    def ended_reason(self) -> str | None:
        return next((m.get("reason") for m in self.messages if m.get("state") == "ended"), None)


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, Message, bytes, str]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=20) as response:  # follows 307 with the body (urllib does)
            return response.status, response.headers, response.read(), response.url
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read(), url


def delete(url: str, token: str) -> int:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"}, method="DELETE")
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


async def watch(endpoint: str, token: str) -> Watch:
    """Start watching; frames are counted in the background until `stop(watch)`."""
    pc = RTCPeerConnection()
    result = Watch(status=0, pc=pc, started=time.monotonic())
    pc.addTransceiver("video", direction="recvonly")
    channel = pc.createDataChannel("lantern")

    @channel.on("message")
    def on_message(message: str) -> None:
        result.messages.append(json.loads(message))

    @pc.on("track")
    def on_track(track) -> None:
        async def count() -> None:
            while True:
                try:
                    frame = await track.recv()
                except MediaStreamError:
                    return
                result.frames += 1
                result.size = (frame.width, frame.height)
                if result.first_frame_s is None:
                    result.first_frame_s = time.monotonic() - result.started

        result.tasks.append(asyncio.ensure_future(count()))

    with host_addresses_only(["127.0.0.1"]):
        await pc.setLocalDescription(await pc.createOffer())
    request_headers = {"Content-Type": "application/sdp", "Authorization": f"Bearer {token}"}
    offer = pc.localDescription.sdp.encode()
    status, headers, body, final_url = await asyncio.to_thread(_post, endpoint, offer, request_headers)
    if status in (307, 308):
        # WHEP redirects to the relay that owns the camera; the offer goes there unchanged.
        result.redirected_from = endpoint
        target = urllib.parse.urljoin(endpoint, headers["Location"])
        status, headers, body, final_url = await asyncio.to_thread(_post, target, offer, request_headers)
    result.status, result.final_url = status, final_url
    if status != 201:
        result.error = json.loads(body or b"{}")
        await pc.close()
        return result
    result.location = urllib.parse.urljoin(final_url, headers["Location"])
    await pc.setRemoteDescription(RTCSessionDescription(sdp=body.decode(), type="answer"))
    return result


async def wait_for(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.05)
    return predicate()


def poll(predicate, timeout: float = 5.0) -> bool:
    """The synchronous wait, for checks that read the database from the test thread."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


async def stop(result: Watch) -> None:
    if result.pc is not None:
        await result.pc.close()
