"""Simulators on loopback shared by the RTSP server tests: an open one and one that wants a password."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devtools.simulator import CameraSimulator
from devtools.simulator.encoder import codec_available

USERNAME = "alice"
# Characters that must be percent-encoded in a URL, to prove url() and the auth path cope with them.
PASSWORD = "s3cret:p@ss/word"
HEVC_CAMERA = 3


@pytest.fixture(scope="session")
def open_sim() -> Iterator[CameraSimulator]:
    """Cameras 1-2 are H.264; camera 3 is H.265 when this PyAV build can encode it."""
    codecs = {HEVC_CAMERA: "hevc"} if codec_available(codec="hevc") else {}
    with CameraSimulator(cameras=3, width=320, height=180, fps=15, gop_s=1.0, bitrate=300_000, codecs=codecs) as sim:
        yield sim


@pytest.fixture(scope="session")
def locked_sim() -> Iterator[CameraSimulator]:
    with CameraSimulator(
        cameras=1, width=320, height=180, fps=15, gop_s=1.0, bitrate=300_000, username=USERNAME, password=PASSWORD
    ) as sim:
        yield sim
