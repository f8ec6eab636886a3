"""Delay the relay adds to a 1080p camera's frames, and a late joiner's time to first frame; the last line is JSON.

Every frame's capture time is burned into it by the simulator and read back after decoding
(bench/_clock.py), so delay is measured glass-to-decoder on one clock: directly from RTSP with PyAV (the
baseline), and through the relay over WebRTC. The relay's added delay is the difference of the two.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import psutil

# Run as `python bench/relay_latency.py` from anywhere: the project root holds `cameras` and `bench`.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._clock import reader_checked
from bench._latency_clients import (
    LIVE_AGE_S,
    camera_rtp_frames,
    direct_frames,
    relay_frames,
    relay_joins,
    run_in_process,
)
from bench._netns import network_isolation
from bench._relay_host import RelayProcess
from bench._sampling import machine_description
from bench._viewers import Target, ViewerPool
from devtools.simulator import CameraSimulator
from devtools.simulator.__main__ import bitrate_parse

ADDED_DELAY_GOAL_MS = 150
FIRST_FRAME_GOAL_MS = 500
BUSY_WARN_PCT = 60.0


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q)) if values else float("nan")


def busy_since(before: Any) -> float:
    """How busy the whole machine was (% of all cores) since the psutil.cpu_times() `before`."""
    after = psutil.cpu_times()
    idle = (after.idle + after.iowait) - (before.idle + before.iowait)
    total = sum(after) - sum(before)
    return 100 * (1 - idle / total) if total else 0.0


def measured(function: Any, **kwargs: Any) -> tuple[Any, float]:
    """run_in_process(function, **kwargs), and how busy the machine was meanwhile."""
    before = psutil.cpu_times()
    result = run_in_process(function, **kwargs)
    return result, busy_since(before)


def busy_note(busy: float) -> str:
    # The camera, the relay and one decoding client use about a third of this 2-core machine.
    warn = "  WARNING: other load on the machine; less reliable" if busy > BUSY_WARN_PCT else ""
    return f"machine {busy:.0f} % busy{warn}"


def delays_summarize(*, label: str, run: tuple[dict[str, Any], float], fps: int) -> dict[str, float]:
    frames, busy = run
    captured = np.array(frames["captured"])
    decoded = (np.array(frames["decoded"]) - captured) * 1000
    arrived = (np.array(frames["arrived"]) - captured) * 1000
    # The reading is right if consecutive frames are whole frame intervals apart (a misread digit is not).
    steps = np.diff(captured) * fps
    misread = int(np.sum(np.abs(steps - np.round(steps)) > 0.03) + np.sum(steps <= 0)) if len(steps) else 0
    row = {
        "frames": len(decoded),
        "p50": percentile(list(decoded), 50),
        "p95": percentile(list(decoded), 95),
        "max": float(decoded.max()) if len(decoded) else float("nan"),
        "arrived_p50": percentile(list(arrived), 50),
        "decode_p50": percentile(list(decoded - arrived), 50),
        "unreadable": frames["unreadable"],
        "misread": misread,
        "skipped": int(np.sum(np.round(steps) - 1)) if len(steps) else 0,
    }
    print(
        f"{label:<38} p50 {row['p50']:6.1f}  p95 {row['p95']:6.1f}  max {row['max']:6.1f} ms"
        f"   (picture complete at p50 {row['arrived_p50']:.1f} ms, decode p50 {row['decode_p50']:.1f} ms;"
        f" {row['frames']} frames, {row['skipped']} skipped, {row['unreadable']} unreadable,"
        f" {row['misread']} out of step, worst digit margin {frames['margin']:.2f}; {busy_note(busy)})",
        flush=True,
    )
    return row


def joins_summarize(run: tuple[list[dict[str, Any]], float]) -> dict[str, float]:
    joins, busy = run

    def column(key: str) -> list[float]:
        return [j[key] for j in joins if j[key] is not None]

    first = column("first_frame_ms")
    row = {
        "joins": len(joins),
        "failed": len(joins) - len(first),
        "p50": percentile(first, 50),
        "p95": percentile(first, 95),
        "max": max(first) if first else float("nan"),
        "live_p50": percentile(column("live_frame_ms"), 50),
        "live_p95": percentile(column("live_frame_ms"), 95),
        "age_p50": percentile(column("first_frame_age_ms"), 50),
    }
    print(
        f"{'first decoded frame after the offer':<38} p50 {row['p50']:6.1f}  p95 {row['p95']:6.1f}"
        f"  max {row['max']:6.1f} ms   ({row['joins']} joins, {row['failed']} without a frame; {busy_note(busy)})"
    )

    def median(key: str) -> float:
        return percentile(column(key), 50)

    print(
        f"{'  of which (p50):':<38} offer made {median('offer_ms'):.1f} ms before sending;"
        f" answer {median('answer_ms'):.1f} (relay's open_viewer {median('server_open_ms'):.1f});"
        f" connected {median('connected_ms'):.1f}; first RTP {median('first_packet_ms'):.1f};"
        f" first frame {row['p50']:.1f} ms"
    )
    print(
        f"{'  the first frame is the GOP so far:':<38} it shows a picture {row['age_p50']:.0f} ms old (p50); a live one"
        f" (< {LIVE_AGE_S * 1000:.0f} ms old) is decoded at p50 {row['live_p50']:.1f}, p95 {row['live_p95']:.1f} ms"
    )
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fps", type=int, default=15)
    parser.add_argument("--bitrate", type=bitrate_parse, default=4_000_000)
    parser.add_argument("--warmup", type=float, default=4.0, help="seconds of each stream not measured")
    parser.add_argument("--sample", type=float, default=20.0, help="seconds of each stream measured")
    parser.add_argument("--joins", type=int, default=20)
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop", help="the relay's event loop")
    args = parser.parse_args(argv)

    isolation = network_isolation()
    workdir = Path(tempfile.mkdtemp(prefix="lantern-latency-"))
    print(
        f"One simulated camera, 1920x1080 @ {args.fps} fps, {args.bitrate / 1e6:g} Mbit/s H.264 (GOP 1 s); each client"
        " decodes every frame (FFmpeg, one thread) and reads the capture time burned into it."
    )
    print(
        f"Machine: {machine_description()}; Python {platform.python_version()}; network: {isolation};"
        f" relay on {args.loop}; {args.warmup:g} s warm-up, {args.sample:g} s measured per client; logs in {workdir}"
    )
    reader_checked(width=1920, height=1080, fps=args.fps, bitrate=args.bitrate)
    print("Clock reader: read back exactly the burned-in time of 12 rendered, x264-encoded, decoded frames.")
    print("\nmilliseconds from capture to decoded frame")

    sim = CameraSimulator(cameras=1, width=1920, height=1080, fps=args.fps, bitrate=args.bitrate, idle_stop_s=60)
    sim.start()
    pool = ViewerPool(workers=1)
    try:
        camera = delays_summarize(
            label="camera's RTP, marker bit (no demuxer)",
            run=measured(camera_rtp_frames, url=sim.url(1), warmup_s=args.warmup, sample_s=args.sample),
            fps=args.fps,
        )
        direct = delays_summarize(
            label="direct RTSP (PyAV), baseline",
            run=measured(direct_frames, url=sim.url(1), warmup_s=args.warmup, sample_s=args.sample),
            fps=args.fps,
        )
        relay = RelayProcess(loop=args.loop, log=workdir / "relay.log")
        try:
            target = Target(kind="lantern", address=relay.address, source_url=sim.url(1))
            # Another viewer keeps the relay's camera connection open, as on a busy wall.
            errors = pool.open(target=target, count=1)
            if errors:
                raise RuntimeError(f"the relay's first viewer failed: {errors[0]}")
            marker = delays_summarize(
                label="through the relay (marker-bit client)",
                run=measured(
                    relay_frames, mode="marker", target=target.__dict__, warmup_s=args.warmup, sample_s=args.sample
                ),
                fps=args.fps,
            )
            stock = delays_summarize(
                label="through the relay (aiortc's receiver)",
                run=measured(
                    relay_frames, mode="aiortc", target=target.__dict__, warmup_s=args.warmup, sample_s=args.sample
                ),
                fps=args.fps,
            )
            print("\nlate joiner, milliseconds from sending the offer (the camera already streaming to a viewer)")
            joins = joins_summarize(
                measured(relay_joins, target=target.__dict__, joins=args.joins, warmup_joins=2, timeout_s=10.0)
            )
            pool.close_all()
        finally:
            relay.stop()
    finally:
        pool.stop()
        sim.stop()

    added_p50 = marker["p50"] - direct["p50"]
    added_p95 = marker["p95"] - direct["p95"]
    print(
        f"\nadded by the relay: p50 {added_p50:.1f} ms, p95 {added_p95:.1f} ms (goal p95 <= {ADDED_DELAY_GOAL_MS} ms:"
        f" {'met' if added_p95 <= ADDED_DELAY_GOAL_MS else 'NOT met'});"
        f" aiortc's own receiver adds {stock['p50'] - marker['p50']:.1f} ms more at p50 (its jitter buffer)"
    )
    print(
        f"FFmpeg's RTSP demuxer holds each picture until the next one starts: direct PyAV is"
        f" {direct['p50'] - camera['p50']:.1f} ms behind the camera's own RTP at p50"
        f" (one frame is {1000 / args.fps:.1f} ms);"
        f" the relay reads the camera with it, so against the camera's RTP it adds"
        f" p50 {marker['p50'] - camera['p50']:.1f}, p95 {marker['p95'] - camera['p95']:.1f} ms"
    )
    print(
        f"first frame for a late joiner: p50 {joins['p50']:.1f} ms, p95 {joins['p95']:.1f} ms"
        f" (goal p95 <= {FIRST_FRAME_GOAL_MS} ms: {'met' if joins['p95'] <= FIRST_FRAME_GOAL_MS else 'NOT met'})"
    )
    summary = {
        "latency_size": "1920x1080",
        "latency_fps": args.fps,
        "latency_camera_mbps": args.bitrate / 1e6,
        "latency_network": isolation,
        "latency_relay_loop": args.loop,
        "added_delay_p50_ms": round(added_p50, 1),
        "added_delay_p95_ms": round(added_p95, 1),
        "added_delay_vs_camera_rtp_p50_ms": round(marker["p50"] - camera["p50"], 1),
        "added_delay_vs_camera_rtp_p95_ms": round(marker["p95"] - camera["p95"], 1),
        "camera_rtp_delay_p50_ms": round(camera["p50"], 1),
        "camera_rtp_delay_p95_ms": round(camera["p95"], 1),
        "direct_delay_p50_ms": round(direct["p50"], 1),
        "direct_delay_p95_ms": round(direct["p95"], 1),
        "relay_delay_p50_ms": round(marker["p50"], 1),
        "relay_delay_p95_ms": round(marker["p95"], 1),
        "relay_delay_aiortc_receiver_p50_ms": round(stock["p50"], 1),
        "relay_delay_aiortc_receiver_p95_ms": round(stock["p95"], 1),
        "first_frame_p50_ms": round(joins["p50"], 1),
        "first_frame_p95_ms": round(joins["p95"], 1),
        "first_frame_max_ms": round(joins["max"], 1),
        "live_frame_p50_ms": round(joins["live_p50"], 1),
        "live_frame_p95_ms": round(joins["live_p95"], 1),
        "first_frame_age_p50_ms": round(joins["age_p50"], 1),
        "joins": joins["joins"],
        "joins_without_frame": joins["failed"],
        "frames_misread": sum(row["misread"] for row in (camera, direct, marker, stock)),
        "frames_unreadable": sum(row["unreadable"] for row in (camera, direct, marker, stock)),
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
