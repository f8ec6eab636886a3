"""Real H.264 to record (encoded once), an S3 server on loopback that a test may take down, and a spool per test."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from moto.server import ThreadedMotoServer

from cameras.media.recorder import SpooledSegment
from cameras.media.source import CLOCK_RATE, START_CODE, AccessUnit
from devtools.simulator.encoder import EncoderSettings, encoder_open, split_annexb
from tests.s3 import S3Endpoint, s3_server

FPS = 10
TICKS = CLOCK_RATE // FPS  # one picture's duration


@dataclass(frozen=True)
class Picture:
    data: bytes  # Annex B, SPS/PPS in front of every keyframe, as CameraSource delivers it
    keyframe: bool


def pictures_encoded(*, count: int, gop: int, width: int = 320, height: int = 180, seed: int = 0) -> list[Picture]:
    """`count` pictures of real H.264 with a keyframe every `gop` pictures, as a camera would send them."""
    settings = EncoderSettings(codec="h264", width=width, height=height, fps=FPS, gop_s=gop / FPS, bitrate=300_000)
    ctx = encoder_open(settings=settings)
    rng = np.random.default_rng(seed)
    out: list[Picture] = []
    for index in range(count):
        yuv = rng.integers(0, 255, (height * 3 // 2, width), dtype=np.uint8)
        frame = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
        frame.pts = index
        frame.time_base = Fraction(1, FPS)
        if index % gop == 0:
            frame.pict_type = av.video.frame.PictureType.I
        for packet in ctx.encode(frame):
            nals = split_annexb(bytes(packet))
            out.append(Picture(data=b"".join(START_CODE + nal for nal in nals), keyframe=packet.is_keyframe))
    return out


@pytest.fixture(scope="session")
def pictures() -> list[Picture]:
    """Six seconds at 10 fps, a keyframe every second."""
    return pictures_encoded(count=60, gop=10)


def units_from(
    pictures: list[Picture], *, start_pts: int = 0, epoch: int = 1, received: float | None = None
) -> list[AccessUnit]:
    """The pictures as one connection delivers them: 10 fps on the camera's clock, arriving in real time."""
    first = time.monotonic() if received is None else received
    return [
        AccessUnit(
            data=p.data,
            pts=start_pts + i * TICKS,
            keyframe=p.keyframe,
            epoch=epoch,
            received=first + i * TICKS / CLOCK_RATE,
        )
        for i, p in enumerate(pictures)
    ]


class Collected:
    """An on_segment callback that keeps what it is given."""

    def __init__(self) -> None:
        self.segments: list[SpooledSegment] = []

    def __call__(self, segment: SpooledSegment) -> None:
        self.segments.append(segment)


@pytest.fixture
def spool(tmp_path: Path) -> Path:
    return tmp_path / "spool"


@pytest.fixture(scope="session")
def s3_service() -> Iterator[S3Endpoint]:
    with s3_server() as endpoint:
        yield endpoint


@pytest.fixture
def s3_storage(settings, s3_service: S3Endpoint) -> S3Endpoint:
    """Django's default storage on a fresh bucket of the loopback S3 server, for one test."""
    endpoint = s3_service.with_new_bucket(object_lock=False)
    # A new dict: assigning fires setting_changed, which makes Django forget its cached default_storage.
    settings.STORAGES = {**settings.STORAGES, "default": endpoint.storage_setting()}
    return endpoint


class RestartableS3:
    """A moto server of its own that a test can stop and start again on the same port.

    moto keeps buckets and objects in module state, not in the server thread, so a restarted server serves
    what the stopped one held: an outage, not a data loss.
    """

    def __init__(self) -> None:
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        host, self.port = self._server.get_host_and_port()
        self.endpoint = S3Endpoint(url=f"http://{host}:{self.port}", bucket="").with_new_bucket(object_lock=False)
        self.running = True

    def stop(self) -> None:
        self._server.stop()
        self.running = False
        with pytest.raises(OSError):  # refused: the port is really closed
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()

    def start(self) -> None:
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()
        self.running = True

    def close(self) -> None:
        if self.running:
            # Only this test's bucket goes: other servers in this process share moto's state.
            client = self.endpoint.client()
            for item in client.list_objects_v2(Bucket=self.endpoint.bucket).get("Contents", []):
                client.delete_object(Bucket=self.endpoint.bucket, Key=item["Key"])
            client.delete_bucket(Bucket=self.endpoint.bucket)
            self._server.stop()


@pytest.fixture
def restartable_s3(settings) -> Iterator[RestartableS3]:
    werkzeug_log = logging.getLogger("werkzeug")
    level = werkzeug_log.level
    werkzeug_log.setLevel(logging.WARNING)
    s3 = RestartableS3()
    settings.STORAGES = {**settings.STORAGES, "default": s3.endpoint.storage_setting()}
    yield s3
    s3.close()
    werkzeug_log.setLevel(level)
