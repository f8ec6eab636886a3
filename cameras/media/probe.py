"""Opens a camera stream once, under a hard deadline, and reports its health, codec, size, rate and a snapshot."""

from __future__ import annotations

import errno
import io
import ipaddress
import logging
import queue
import socket
import threading
import time
import traceback
from dataclasses import dataclass, field, replace
from fractions import Fraction
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import av
import av.error
from PIL import Image

from cameras.media.addresses import StreamAddressRefused, StreamProxy, StreamTarget, stream_target

logger = logging.getLogger(__name__)

ONLINE = "online"
OFFLINE = "offline"
ERROR = "error"

SNAPSHOT_MAX_WIDTH = 1280
SNAPSHOT_QUALITY = 80
LIVE_CODEC = "h264"
# FFmpeg codec names as a shop owner would see them in the camera's own settings page.
_CODEC_LABELS = {
    "hevc": "H.265",
    "h264": "H.264",
    "mjpeg": "MJPEG",
    "mpeg4": "MPEG-4",
    "av1": "AV1",
    "vp8": "VP8",
    "vp9": "VP9",
}
# The worker thread gets this long past the deadline to hand back its own, more specific, answer.
_GRACE_S = 0.3
# FFmpeg's answer when our interrupt callback stops it varies by protocol (RTSP reports "invalid data");
# a failure this close to the deadline was the deadline.
_DEADLINE_SHARE = 0.9


@dataclass(frozen=True)
class ProbeResult:
    health: str  # ONLINE, OFFLINE or ERROR
    message: str  # for the camera's owner; empty when all is well
    codec: str | None = None  # FFmpeg's name: "h264", "hevc", "mjpeg", ...
    profile: str | None = None
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    snapshot_jpeg: bytes | None = field(default=None, repr=False)
    elapsed_s: float = 0.0


def probe_stream(*, url: str, timeout_s: float = 10.0) -> ProbeResult:
    """Connects to `url` (rtsp over TCP, rtsps, http(s) MJPEG/HLS/MP4, ...) and returns within about timeout_s."""
    started = time.monotonic()
    answers: queue.SimpleQueue[ProbeResult] = queue.SimpleQueue()
    # FFmpeg's own timeouts restart per step (open, stream analysis, each read), so only a thread we stop
    # waiting for gives a hard bound; a late worker finishes on its own timeouts and its answer is dropped.
    worker = threading.Thread(
        target=lambda: answers.put(_probe_safely(url=url, timeout_s=timeout_s, started=started)),
        name="stream-probe",
        daemon=True,
    )
    worker.start()
    try:
        result = answers.get(timeout=max(0.0, started + timeout_s + _GRACE_S - time.monotonic()))
    except queue.Empty:
        result = ProbeResult(health=OFFLINE, message=_did_not_answer(url=url, timeout_s=timeout_s))
    result = replace(result, elapsed_s=round(time.monotonic() - started, 3))
    if result.health != ONLINE:
        logger.info("probe of %s: %s: %s", url_without_credentials(url=url), result.health, result.message)
    return result


def url_without_credentials(*, url: str) -> str:
    """`url` with any user:password@ removed, safe to log or show."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def text_without_credentials(*, text: str, url: str) -> str:
    """`text` (e.g. an FFmpeg error that quotes the URL) with the URL's password and user info removed."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return text.replace(url, "<stream URL>")
    text = text.replace(url, url_without_credentials(url=url))
    if "@" in parts.netloc:
        userinfo = parts.netloc.rsplit("@", 1)[0]
        text = text.replace(userinfo + "@", "")
        password = userinfo.partition(":")[2]
        for secret in {password, unquote(password), quote(unquote(password), safe="")}:
            if secret:
                text = text.replace(secret, "***")
    return text


def _probe_safely(*, url: str, timeout_s: float, started: float) -> ProbeResult:
    try:
        return _probe(url=url, timeout_s=timeout_s, started=started)
    # A probe reports every failure as a result; one that escapes would kill the worker thread silently.
    except Exception as exc:
        reason = text_without_credentials(text=str(exc), url=url)
        # Not logger.exception: PyAV puts the URL, password included, in its exception messages.
        logger.error(
            "probe of %s failed unexpectedly: %s: %s\n%s",
            url_without_credentials(url=url),
            type(exc).__name__,
            reason,
            "".join(traceback.format_tb(exc.__traceback__)),
        )
        return ProbeResult(health=ERROR, message=f"The stream could not be checked ({reason}).")


def _probe(*, url: str, timeout_s: float, started: float) -> ProbeResult:
    scheme = urlsplit(url).scheme.lower() if "://" in url else ""
    if not scheme:
        return ProbeResult(health=ERROR, message="The camera address is not a stream URL such as rtsp://host/path.")
    # Half a second of analysis is plenty: size and profile come from the SDP/SPS, and we read on to a
    # keyframe anyway. FFmpeg's default (up to 5 s) would make every probe slow.
    options = {"analyzeduration": "500000"}
    if scheme in ("rtsp", "rtsps"):
        options |= {"rtsp_transport": "tcp", "allowed_media_types": "video"}
    # Checked at every probe, not only at enrolment: what a name resolves to can change.
    try:
        target = stream_target(url=url)
    except StreamAddressRefused as refused:
        return ProbeResult(health=ERROR, message=str(refused))
    try:
        container = av.open(target.url, options=options | target.options, timeout=(timeout_s, timeout_s))
    except Exception as exc:  # FFmpeg failures come as many exception types; each becomes a message
        return _proxied_failure(target=target) or _failure(exc=exc, url=url, timeout_s=timeout_s, started=started)
    try:
        result = _inspect(container=container, url=url, timeout_s=timeout_s, started=started)
        # An HLS playlist may name a refused address for a later segment: nothing it sent counts then.
        return _proxied_failure(target=target) or result
    finally:
        try:
            container.close()
        except Exception as exc:  # closing a stream that already failed may fail again
            logger.debug(
                "closing %s failed: %s",
                url_without_credentials(url=url),
                text_without_credentials(text=str(exc), url=url),
            )


def _inspect(*, container: av.container.InputContainer, url: str, timeout_s: float, started: float) -> ProbeResult:
    if not container.streams.video:
        return ProbeResult(health=ERROR, message="The stream has no video.")
    stream = container.streams.video[0]
    ctx = stream.codec_context
    codec = ctx.name
    profile = ctx.profile or None
    width, height = ctx.width or None, ctx.height or None
    fps = _rate(stream.average_rate) or _rate(stream.guessed_rate)
    snapshot = None
    timestamps: list[float] = []
    deadline = started + timeout_s
    # Frames before the first keyframe decode to grey smears, so the snapshot starts at a keyframe.
    decoding = False
    try:
        for packet in container.demux(stream):
            if packet.pts is not None and packet.time_base is not None:
                timestamps.append(float(packet.pts * packet.time_base))
            decoding = decoding or packet.is_keyframe
            if snapshot is None and decoding:
                for frame in packet.decode():
                    snapshot = _jpeg(frame=frame)
                    width, height = width or frame.width, height or frame.height
                    break
            if snapshot is not None and (fps is not None or len(timestamps) >= 5):
                break
            if time.monotonic() > deadline:
                break
    except Exception as exc:  # a stream that dies mid-read is reported like one that never opened
        if snapshot is None:
            return _failure(exc=exc, url=url, timeout_s=timeout_s, started=started)
    described = ProbeResult(
        health=ONLINE,
        message="",
        codec=codec,
        profile=profile,
        width=width,
        height=height,
        fps=fps or _rate_from(timestamps=timestamps),
        snapshot_jpeg=snapshot,
    )
    if snapshot is None:
        return replace(
            described,
            health=OFFLINE,
            message=f"The camera at {_where(url=url)} connected but sent no picture within {timeout_s:g} s.",
        )
    if codec != LIVE_CODEC:
        label = _CODEC_LABELS.get(codec, codec.upper())
        return replace(
            described, health=ERROR, message=f"{label} is not supported for live view; set the camera to H.264."
        )
    return described


def _proxied_failure(*, target: StreamTarget) -> ProbeResult | None:
    """What the address-checking proxy met on this probe's http(s) requests (a redirect or playlist hop
    included), when that, rather than FFmpeg's own error, is the answer."""
    if not target.proxy_token:
        return None
    event = StreamProxy.running().event(token=target.proxy_token)
    if event == "refused":
        # The same words as a refused first address, whatever the port: nothing to scan with.
        return ProbeResult(health=ERROR, message=StreamAddressRefused().args[0])
    if event == "unresolved":
        return ProbeResult(
            health=OFFLINE, message="The camera is unreachable: its host name could not be found. Check the address."
        )
    if event == "unreachable":
        return ProbeResult(
            health=OFFLINE,
            message="The camera is unreachable: the connection failed. Check that it is on and the address is right.",
        )
    return None


def _failure(*, exc: Exception, url: str, timeout_s: float, started: float) -> ProbeResult:
    where = _where(url=url)
    if isinstance(exc, av.error.HTTPUnauthorizedError):
        return ProbeResult(
            health=ERROR, message="The camera rejected the username or password; check the ones saved for it."
        )
    if isinstance(exc, av.error.HTTPForbiddenError):
        return ProbeResult(health=ERROR, message="The camera refused this account; check its permissions there.")
    if isinstance(exc, av.error.HTTPNotFoundError):
        return ProbeResult(
            health=ERROR, message="The camera has no stream at this address; check the path in the stream URL."
        )
    if isinstance(exc, av.error.HTTPClientError | av.error.HTTPServerError):
        return ProbeResult(health=ERROR, message=f"The camera at {where} refused the request ({exc.strerror}).")
    if time.monotonic() - started >= timeout_s * _DEADLINE_SHARE or isinstance(exc, av.error.ExitError):
        return ProbeResult(health=OFFLINE, message=_did_not_answer(url=url, timeout_s=timeout_s))
    code = getattr(exc, "errno", None)
    if code == errno.ECONNREFUSED:
        return ProbeResult(
            health=OFFLINE,
            message=(
                f"The camera at {where} is unreachable: the connection was refused. "
                "Check that it is switched on and that the address and port are right."
            ),
        )
    if code in (errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN):
        return ProbeResult(
            health=OFFLINE,
            message=f"The camera at {where} is unreachable: there is no network route to it. Check its address.",
        )
    if code == errno.ETIMEDOUT:
        return ProbeResult(health=OFFLINE, message=_did_not_answer(url=url, timeout_s=timeout_s))
    if code in (errno.ECONNRESET, errno.EPIPE, errno.ECONNABORTED):
        return ProbeResult(health=OFFLINE, message=f"The camera at {where} closed the connection before sending video.")
    host = urlsplit(url).hostname or ""
    if code == errno.EIO and host and not _is_ip(host) and not _resolves(host=host):
        # FFmpeg reports a failed DNS lookup only as an I/O error; looking the name up again tells them apart.
        return ProbeResult(
            health=OFFLINE,
            message=f"The camera at {where} is unreachable: the name {host} could not be found. Check the address.",
        )
    reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return ProbeResult(
        health=ERROR, message=f"The stream could not be read ({text_without_credentials(text=reason, url=url)})."
    )


def _did_not_answer(*, url: str, timeout_s: float) -> str:
    return f"The camera at {_where(url=url)} did not answer within {timeout_s:g} s."


def _where(*, url: str) -> str:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "this address"
    host = parts.hostname or "this address"
    host = f"[{host}]" if ":" in host else host
    return f"{host}:{port}" if port else host


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _resolves(*, host: str) -> bool:
    try:
        socket.getaddrinfo(host, None)
    except (socket.gaierror, UnicodeError):
        return False
    return True


def _rate(value: Fraction | None) -> float | None:
    if not value or value <= 0:
        return None
    return round(float(value), 3)


def _rate_from(*, timestamps: list[float]) -> float | None:
    ordered = sorted(set(timestamps))
    if len(ordered) < 2 or ordered[-1] <= ordered[0]:
        return None
    return round((len(ordered) - 1) / (ordered[-1] - ordered[0]), 3)


def _jpeg(*, frame: av.VideoFrame) -> bytes:
    image = frame.to_image()
    if image.width > SNAPSHOT_MAX_WIDTH:
        image = image.resize(
            (SNAPSHOT_MAX_WIDTH, max(1, round(image.height * SNAPSHOT_MAX_WIDTH / image.width))),
            Image.Resampling.BILINEAR,
        )
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=SNAPSHOT_QUALITY)
    return out.getvalue()
