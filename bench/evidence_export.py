"""Times the evidence export (segments_concat) of one hour and of ten minutes of 4 Mbit/s 1080p H.264, with
its peak memory; from local files and from an S3 server on loopback. The last line printed is JSON."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path
from typing import Any, cast

import av
import cv2
import numpy as np

# Run as `python bench/evidence_export.py` from anywhere: the project root holds the `cameras` package.
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._sampling import machine_description  # noqa: E402
from devtools.simulator.__main__ import bitrate_parse, size_parse  # noqa: E402
from devtools.simulator.encoder import EncoderSettings, encoder_open  # noqa: E402
from devtools.simulator.scene import StreetScene  # noqa: E402

CLOCK = 90_000
# As the recorder writes them: fragmented, each file with its own moov, timestamps from 0.
MOVFLAGS = "frag_keyframe+empty_moov+default_base_moof"
CHILD = ROOT / "bench" / "_export_child.py"


def access_units_encode(*, width: int, height: int, fps: int, bitrate: int, seconds: int) -> list[tuple[bytes, bool]]:
    """`seconds` of the simulator's street scene as its cameras send it: Annex B, CBR, a keyframe a second."""
    settings = EncoderSettings(codec="h264", width=width, height=height, fps=fps, gop_s=1.0, bitrate=bitrate)
    codec = encoder_open(settings=settings)
    scene = StreetScene(index=0, name="Bench camera", width=width, height=height)
    wall0 = time.time()
    units: list[tuple[bytes, bool]] = []
    for index in range(fps * seconds):
        yuv = cast(np.ndarray, cv2.cvtColor(scene.render(at=wall0 + index / fps), cv2.COLOR_BGR2YUV_I420))
        frame = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
        frame.pts = index
        units += [(bytes(p), p.is_keyframe) for p in codec.encode(frame)]
    units += [(bytes(p), p.is_keyframe) for p in codec.encode(None)]
    return units


def segment_write(*, path: Path, units: list[tuple[bytes, bool]], width: int, height: int, fps: int) -> None:
    """One fragmented MP4 segment, remuxed from Annex B the way the recorder does (no codec context)."""
    step = CLOCK // fps
    with av.open(str(path), "w", format="mp4", options={"movflags": MOVFLAGS}) as container:
        stream = container.add_mux_stream("h264", width=width, height=height)
        stream.time_base = Fraction(1, CLOCK)
        for index, (data, keyframe) in enumerate(units):
            packet = av.Packet(data)
            packet.stream = stream
            packet.time_base = Fraction(1, CLOCK)
            packet.pts = packet.dts = index * step
            packet.duration = step
            packet.is_keyframe = keyframe
            container.mux(packet)


def child_run(*, arguments: list[str], out: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, str(CHILD), "--out", str(out), *arguments], capture_output=True, text=True, check=False
    )
    out.unlink(missing_ok=True)
    if done.returncode != 0:
        raise RuntimeError(f"export child failed:\n{done.stderr}")
    return cast(dict[str, Any], json.loads(done.stdout.strip().splitlines()[-1]))


def runs_summarize(*, label: str, runs: list[dict[str, Any]]) -> dict[str, float]:
    seconds = statistics.median(run["seconds"] for run in runs)
    media_s = runs[0]["duration_s"]
    row = {
        "seconds": seconds,
        "speed_x_realtime": media_s / seconds,
        "peak_rss_mb": max(run["peak_rss_mb"] for run in runs),
        "rss_growth_mb": max(run["peak_rss_mb"] - run["rss_before_mb"] for run in runs),
        "hash_seconds": statistics.median(run["hash_seconds"] for run in runs),
        "output_mb": runs[0]["size_bytes"] / 2**20,
        "media_s": media_s,
        "packets": runs[0]["packets"],
    }
    print(
        f"{label:<34} {media_s / 60:>5.0f} min  {seconds:6.2f} s (median of {len(runs)}, "
        f"{min(r['seconds'] for r in runs):.2f}-{max(r['seconds'] for r in runs):.2f})  "
        f"{row['speed_x_realtime']:6.0f}x real time  peak RSS {row['peak_rss_mb']:5.1f} MB "
        f"(+{row['rss_growth_mb']:.1f} MB during the export)  output {row['output_mb']:.0f} MB"
    )
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=int, default=60)
    parser.add_argument("--short-minutes", type=int, default=10)
    parser.add_argument("--size", type=size_parse, default=(1920, 1080))
    parser.add_argument("--fps", type=int, default=15)
    parser.add_argument("--bitrate", type=bitrate_parse, default=4_000_000)
    parser.add_argument("--segment-s", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-s3", action="store_true", help="Skip the export from the loopback S3 server.")
    parser.add_argument("--no-classic", action="store_true", help="Skip the classic-MP4 comparison.")
    parser.add_argument("--workdir", type=Path, default=None, help="Where the segments go (needs ~2x the hour).")
    args = parser.parse_args(argv)
    width, height = args.size
    count = args.minutes * 60 // args.segment_s
    short_count = args.short_minutes * 60 // args.segment_s

    print(f"Machine: {machine_description()}, Python {sys.version.split()[0]}, PyAV {av.__version__}")
    print("Load average before starting: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    started = time.perf_counter()
    units = access_units_encode(width=width, height=height, fps=args.fps, bitrate=args.bitrate, seconds=args.segment_s)
    mbps = sum(len(data) for data, _ in units) * 8 / args.segment_s / 1e6
    print(
        f"Encoded one {args.segment_s} s segment of the simulator's street scene once: {width}x{height}, "
        f"{args.fps} fps, GOP 1 s, {mbps:.2f} Mbit/s CBR, in {time.perf_counter() - started:.1f} s."
    )
    with tempfile.TemporaryDirectory(prefix="lantern-bench-export-", dir=args.workdir) as scratch:
        folder = Path(scratch)
        started = time.perf_counter()
        paths = []
        for index in range(count):
            path = folder / f"segment-{index:05d}.mp4"
            segment_write(path=path, units=units, width=width, height=height, fps=args.fps)
            paths.append(path)
        total_mb = sum(p.stat().st_size for p in paths) / 2**20
        print(
            f"Wrote {count} segment files ({args.minutes} min, {total_mb:.0f} MB) by repeating its packets, "
            f"without encoding {args.minutes} minutes, in {time.perf_counter() - started:.1f} s. Every export "
            f"below reads them from the page cache (just written) and runs in a process of its own."
        )
        out = folder / "export.mp4"
        long_label = f"{args.minutes} min from local files"
        short_label = f"{args.short_minutes} min from local files"
        rows = {}
        for label, chosen in ((short_label, paths[:short_count]), (long_label, paths)):
            arguments = ["--segments", *map(str, chosen)]
            runs = [child_run(arguments=arguments, out=out) for _ in range(args.repeats)]
            rows[label] = runs_summarize(label=label, runs=runs)
        if not args.no_classic:
            runs = [child_run(arguments=["--classic", "--segments", *map(str, paths)], out=out)]
            rows["classic"] = runs_summarize(label=f"{args.minutes} min, classic MP4 (not used)", runs=runs)
        if not args.no_s3:
            rows["s3"] = s3_export_timed(paths=paths[:short_count], out=out, label=f"{args.short_minutes} min from S3")

    long, short = rows[long_label], rows[short_label]
    print(
        f"Memory: peak RSS {short['peak_rss_mb']:.1f} MB for {args.short_minutes} min, "
        f"{long['peak_rss_mb']:.1f} MB for {args.minutes} min: "
        + ("flat." if long["peak_rss_mb"] - short["peak_rss_mb"] < 5 else "NOT FLAT.")
    )
    summary: dict[str, Any] = {
        "export_size": f"{width}x{height}",
        "export_fps": args.fps,
        "export_mbps": round(mbps, 2),
        "export_segment_s": args.segment_s,
        "segments": count,
        "media_minutes": args.minutes,
        "seconds": round(long["seconds"], 2),
        "speed_x_realtime": round(long["speed_x_realtime"], 1),
        "peak_rss_mb": round(long["peak_rss_mb"], 1),
        "rss_growth_mb": round(long["rss_growth_mb"], 1),
        "hash_seconds": round(long["hash_seconds"], 2),
        "output_mb": round(long["output_mb"], 1),
        "packets": long["packets"],
        "seconds_10min": round(short["seconds"], 2),
        "speed_x_realtime_10min": round(short["speed_x_realtime"], 1),
        "peak_rss_mb_10min": round(short["peak_rss_mb"], 1),
        "rss_growth_mb_10min": round(short["rss_growth_mb"], 1),
    }
    if "classic" in rows:
        summary["peak_rss_mb_classic"] = round(rows["classic"]["peak_rss_mb"], 1)
        summary["seconds_classic"] = round(rows["classic"]["seconds"], 2)
    if "s3" in rows:
        summary["seconds_10min_s3"] = round(rows["s3"]["seconds"], 2)
        summary["speed_x_realtime_10min_s3"] = round(rows["s3"]["speed_x_realtime"], 1)
        summary["peak_rss_mb_10min_s3"] = round(rows["s3"]["peak_rss_mb"], 1)
    if args.short_minutes != 10:
        summary = {key.replace("_10min", f"_{args.short_minutes}min"): value for key, value in summary.items()}
    print(json.dumps(summary))
    return 0


def s3_export_timed(*, paths: list[Path], out: Path, label: str) -> dict[str, float]:
    """The same export with every segment fetched from moto's S3 server on loopback, as a streaming body."""
    from tests.s3 import s3_server

    with s3_server(object_lock=False) as endpoint:
        client = endpoint.client()
        keys = []
        for index, path in enumerate(paths):
            key = f"segments/camera-1/{index:05d}.mp4"
            client.upload_file(str(path), endpoint.bucket, key)
            keys.append(key)
        arguments = ["--s3-url", endpoint.url, "--s3-bucket", endpoint.bucket, "--s3-keys", *keys]
        runs = [child_run(arguments=arguments, out=out)]
    return runs_summarize(label=label, runs=runs)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
