"""A loopback RTSP server that serves synthetic H.264/H.265 street-camera streams for tests and demos."""

from devtools.simulator.server import CameraSimulator

__all__ = ["CameraSimulator"]
