"""Times probe_stream against simulated cameras, one and four at a time; the last line printed is JSON."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

# Run as `python bench/probe.py` from anywhere: the project root holds the `cameras` package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cameras.media.probe import ONLINE, ProbeResult, probe_stream
from devtools.simulator import CameraSimulator
from devtools.simulator.__main__ import bitrate_parse, size_parse


def probes_timed(*, urls: list[str], threads: int, timeout_s: float) -> tuple[list[ProbeResult], float]:
    """Each URL's probe result and the wall time for all of them."""
    started = time.monotonic()
    if threads == 1:
        results = [probe_stream(url=url, timeout_s=timeout_s) for url in urls]
    else:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            results = list(pool.map(lambda url: probe_stream(url=url, timeout_s=timeout_s), urls))
    return results, time.monotonic() - started


def figures(*, label: str, results: list[ProbeResult], wall_s: float) -> dict[str, float]:
    seconds = np.array([r.elapsed_s for r in results])
    row = {
        "mean": float(seconds.mean()),
        "p50": float(np.percentile(seconds, 50)),
        "p95": float(np.percentile(seconds, 95)),
        "max": float(seconds.max()),
        "wall": wall_s,
        "per_minute": len(results) * 60 / wall_s,
    }
    failed = [r for r in results if r.health != ONLINE]
    print(
        f"{label:<28} mean {row['mean']:.3f}  p50 {row['p50']:.3f}  p95 {row['p95']:.3f}  max {row['max']:.3f}"
        f"   total {wall_s:.2f} s  ({row['per_minute']:.0f} cameras/min)"
        + (f"   {len(failed)} NOT ONLINE: {failed[0].message}" if failed else "")
    )
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cameras", type=int, default=8)
    parser.add_argument("--size", type=size_parse, default=(1280, 720))
    parser.add_argument("--fps", type=int, default=15)
    parser.add_argument("--bitrate", type=bitrate_parse, default=2_000_000)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--timeout", type=float, default=10.0)
    args = parser.parse_args(argv)
    width, height = args.size
    print(
        f"probe_stream against {args.cameras} simulated cameras, {width}x{height} @ {args.fps} fps, "
        f"{args.bitrate / 1e6:g} Mbit/s, H.264, GOP 1 s, RTSP over TCP on 127.0.0.1; {os.cpu_count()} CPUs"
    )
    print("seconds per camera (cold = the camera starts encoding when probed, like a camera's first viewer;")
    print("warm = already streaming, so the simulator replays the current GOP at once)")
    # A long idle stop keeps encoders running from the cold pass into the warm one.
    sim = CameraSimulator(
        cameras=args.cameras, width=width, height=height, fps=args.fps, bitrate=args.bitrate, idle_stop_s=120
    )
    rows = {}
    sim.start()
    try:
        urls = sim.urls()
        for threads in (1, args.threads):
            name = "sequential" if threads == 1 else f"{threads} threads"
            # A restart stops every encoder, so the first pass at each concurrency starts cold.
            sim.stop()
            sim.start()
            for state in ("cold", "warm"):
                results, wall_s = probes_timed(urls=urls, threads=threads, timeout_s=args.timeout)
                rows[f"{name}, {state}"] = figures(label=f"{name}, {state}", results=results, wall_s=wall_s)
    finally:
        sim.stop()
    cold, pooled = rows["sequential, cold"], rows[f"{args.threads} threads, cold"]
    summary = {
        "probe_cameras": args.cameras,
        "probe_size": f"{width}x{height}",
        "probe_s_per_camera_mean": round(cold["mean"], 3),
        "probe_s_per_camera_p50": round(cold["p50"], 3),
        "probe_s_per_camera_p95": round(cold["p95"], 3),
        "probe_s_per_camera_max": round(cold["max"], 3),
        "probe_wall_s_sequential": round(cold["wall"], 3),
        "probe_cameras_per_minute_sequential": round(cold["per_minute"], 1),
        f"probe_s_per_camera_p50_{args.threads}_threads": round(pooled["p50"], 3),
        f"probe_s_per_camera_p95_{args.threads}_threads": round(pooled["p95"], 3),
        f"probe_wall_s_{args.threads}_threads": round(pooled["wall"], 3),
        f"probe_cameras_per_minute_{args.threads}_threads": round(pooled["per_minute"], 1),
        "probe_s_per_camera_p50_warm": round(rows["sequential, warm"]["p50"], 3),
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
