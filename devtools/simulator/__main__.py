"""Runs the camera simulator in the foreground: python -m devtools.simulator --cameras 4 --port 8554."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from types import FrameType

from devtools.simulator.encoder import ENCODERS, codec_available
from devtools.simulator.server import CameraSimulator


def size_parse(text: str) -> tuple[int, int]:
    width, sep, height = text.lower().partition("x")
    if not sep or not width.isdigit() or not height.isdigit():
        raise argparse.ArgumentTypeError(f"size must look like 640x360, not {text!r}")
    return int(width), int(height)


def bitrate_parse(text: str) -> int:
    """Bits per second from `1M`, `800k` or `1500000`."""
    multipliers = {"k": 1_000, "m": 1_000_000}
    scale = multipliers.get(text[-1:].lower(), 1)
    number = text[:-1] if scale != 1 else text
    try:
        return int(float(number) * scale)
    except ValueError:
        raise argparse.ArgumentTypeError(f"bitrate must look like 1M, 800k or 1500000, not {text!r}") from None


def arguments_parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m devtools.simulator", description=__doc__)
    parser.add_argument("--cameras", type=int, default=4, help="how many streams, served as /cam1 ... /camN")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8554, help="RTSP port (0 picks a free one)")
    parser.add_argument("--size", type=size_parse, default=(640, 360), help="frame size, e.g. 640x360 or 1920x1080")
    parser.add_argument("--fps", type=int, default=15)
    parser.add_argument("--gop", type=float, default=1.0, help="seconds between keyframes (1-2 is camera-like)")
    parser.add_argument("--bitrate", type=bitrate_parse, default=1_000_000, help="per stream, e.g. 1M or 4M")
    parser.add_argument("--username", help="require this user (Digest or Basic auth)")
    parser.add_argument("--password", help="and this password")
    parser.add_argument(
        "--hevc",
        type=int,
        action="append",
        default=[],
        metavar="N",
        help="serve camera N as H.265 instead of H.264 (repeatable)",
    )
    parser.add_argument(
        "--walker",
        type=int,
        action="append",
        default=[],
        metavar="N",
        help="a pedestrian crosses camera N's view every 12 s, for the analytics to find (repeatable)",
    )
    parser.add_argument("--verbose", action="store_true", help="log connections and encoder starts/stops")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = arguments_parse(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(asctime)s %(message)s")
    if args.hevc and not codec_available(codec="hevc"):
        print(f"this PyAV build has no {ENCODERS['hevc']} encoder; --hevc is unavailable", file=sys.stderr)
        return 2
    width, height = args.size
    try:
        simulator = CameraSimulator(
            cameras=args.cameras,
            width=width,
            height=height,
            fps=args.fps,
            gop_s=args.gop,
            bitrate=args.bitrate,
            host=args.host,
            port=args.port,
            username=args.username,
            password=args.password,
            codecs={n: "hevc" for n in args.hevc},
            walkers=set(args.walker),
        )
        simulator.start()
    except (ValueError, OSError) as exc:
        print(f"cannot start the simulator: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    print(f"Serving {args.cameras} simulated cameras ({width}x{height} @ {args.fps} fps); Ctrl-C stops.", flush=True)
    for url in simulator.urls():
        print(url, flush=True)
    # A timeout keeps the main thread waking up, so signals are handled promptly.
    while not stop.wait(timeout=1.0):
        if not simulator.running:
            print("the simulator stopped unexpectedly", file=sys.stderr)
            return 1
    simulator.stop()
    print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
