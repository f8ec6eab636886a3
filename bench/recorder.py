"""Recorder CPU and memory per recorded 1080p ~4 Mbit/s camera, to local files and to S3; the last line printed is JSON.

The simulated camera runs in this process (its x264 encoding is not the recorder's cost), the recorder in
bench/_recorder_host.py (relay sources, recorders, uploader, as the live runtime runs them), and the S3
server (moto) in a third process. At each step the recorder host records 1, 4, 8 cameras; psutil measures
its CPU time and RSS over a window after a warm-up. Each recorded "camera" is its own RTSP session with
its own source, demuxer, recorder and segments; they all read the simulator's one encoded stream, because
this 2-core machine cannot encode eight 1080p streams and leave room for what is measured.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._loopback import sockets_off_loopback
from bench._recorder_host import RecorderProcess
from bench._sampling import machine_description, measure
from devtools.simulator import CameraSimulator
from devtools.simulator.__main__ import bitrate_parse

OTHER_LOAD_WARN_PCT = 20.0  # % of a core used by processes outside the benchmark; above it we say so
GOAL_PCT = 2.0


@dataclass(frozen=True)
class Step:
    mode: str  # "local", "s3" or "read only"
    cameras: int
    cpu_pct: float
    rss_mb: float
    rss_max_mb: float
    camera_cpu_pct: float
    s3_cpu_pct: float
    other_cpu_pct: float
    segments: int
    recorded_mbps: float  # per camera: bytes stored over seconds of video recorded
    segment_s_mean: float
    dropped: int
    spool_mb: float


@dataclass(frozen=True)
class Fit:
    cpu_per_camera: float
    cpu_base: float
    rss_per_camera: float
    rss_base: float
    cpu_r2: float


def fit(steps: list[Step]) -> Fit:
    if len(steps) == 1:  # no line through one point: the average is all there is
        only = steps[0]
        return Fit(only.cpu_pct / only.cameras, 0.0, only.rss_mb / only.cameras, 0.0, 1.0)
    x = np.array([s.cameras for s in steps], dtype=float)
    cpu = np.array([s.cpu_pct for s in steps])
    rss = np.array([s.rss_mb for s in steps])
    cpu_slope, cpu_base = np.polyfit(x, cpu, 1)
    rss_slope, rss_base = np.polyfit(x, rss, 1)
    residual = cpu - (cpu_slope * x + cpu_base)
    spread = float(((cpu - cpu.mean()) ** 2).sum())
    r2 = 1 - float((residual**2).sum()) / spread if spread else 1.0
    return Fit(float(cpu_slope), float(cpu_base), float(rss_slope), float(rss_base), r2)


class MotoProcess:
    """moto's S3 server on 127.0.0.1 in a process of its own, with one bucket."""

    def __init__(self, *, log: Path) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = log.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{self.url}/moto-api/", timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.stop()
                    raise RuntimeError(f"moto did not start; see {log}") from None
                time.sleep(0.2)
        self.bucket = "lantern-bench"
        request = urllib.request.Request(f"{self.url}/{self.bucket}", method="PUT")
        urllib.request.urlopen(request, timeout=5).close()

    @property
    def pid(self) -> int:
        return self.process.pid

    def objects(self) -> int:
        with urllib.request.urlopen(f"{self.url}/{self.bucket}?list-type=2&max-keys=1000", timeout=10) as response:
            return response.read().count(b"<Key>")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._log.close()


def steps_run(
    *,
    mode: str,
    host: RecorderProcess,
    urls: list[str],
    steps: list[int],
    warmup_s: float,
    sample_s: float,
    s3_pid: int | None,
    stray: list[str],
) -> list[Step]:
    results = []
    for wanted in steps:
        cameras = {str(n): urls[n - 1] for n in range(1, wanted + 1)}
        host.request(op="read" if mode == "read only" else "record", cameras=cameras)
        time.sleep(warmup_s)
        before = host.request(op="status")
        groups = {"recorder": [host.pid], "camera": [os.getpid()]}
        if s3_pid is not None:
            groups["s3"] = [s3_pid]
        window = measure(groups, seconds=sample_s)
        after = host.request(op="status")
        off, _ = sockets_off_loopback(host.pid)
        stray.extend(e for e in off if e not in stray)
        usage = window.usage
        s3_cpu = usage["s3"].cpu_pct if "s3" in usage else 0.0
        ours = usage["recorder"].cpu_pct + usage["camera"].cpu_pct + s3_cpu
        recorded_s = after["seconds"] - before["seconds"]
        segments = after["segments"] - before["segments"]
        step = Step(
            mode=mode,
            cameras=wanted,
            cpu_pct=usage["recorder"].cpu_pct,
            rss_mb=usage["recorder"].rss_mb,
            rss_max_mb=usage["recorder"].rss_max_mb,
            camera_cpu_pct=usage["camera"].cpu_pct,
            s3_cpu_pct=s3_cpu,
            other_cpu_pct=max(0.0, window.machine_busy_pct * (os.cpu_count() or 1) - ours - window.softirq_pct),
            segments=segments,
            recorded_mbps=8 * (after["bytes"] - before["bytes"]) / recorded_s / 1e6 if recorded_s else 0.0,
            segment_s_mean=recorded_s / segments if segments else 0.0,
            dropped=after["dropped"],
            spool_mb=after["spool_bytes"] / 2**20,
        )
        results.append(step)
        per_camera = step.cpu_pct / wanted
        print(
            f"{mode:>9} {wanted:>2} | {step.cpu_pct:6.2f} ({per_camera:5.2f} per camera) | {step.rss_mb:6.1f}"
            f" ({step.rss_max_mb:.1f}) | {step.segments:3d} segments of {step.segment_s_mean:5.2f} s"
            f" | {step.recorded_mbps:5.2f} Mbit/s per camera"
            f" | spool {step.spool_mb:5.1f} MB | dropped {step.dropped}"
            f" | camera {step.camera_cpu_pct:5.1f} | s3 {step.s3_cpu_pct:5.1f} | other {step.other_cpu_pct:5.1f}",
            flush=True,
        )
        if step.other_cpu_pct > OTHER_LOAD_WARN_PCT:
            print(
                f"{'':>12}WARNING: processes outside this benchmark used {step.other_cpu_pct:.0f} % of a core"
                " during this step; its figures are less reliable"
            )
    host.request(op="record", cameras={})
    return results


def fit_print(label: str, steps: list[Step]) -> Fit:
    line = fit(steps)
    print(
        f"{label}: {line.cpu_per_camera:.2f} % of a core per added camera (base {line.cpu_base:.2f} %,"
        f" R² {line.cpu_r2:.3f}); {line.rss_per_camera:.2f} MB RSS per added camera (base {line.rss_base:.0f} MB)"
    )
    return line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", default="1,4,8", help="camera counts, ascending")
    parser.add_argument("--fps", type=int, default=15)
    parser.add_argument("--bitrate", type=bitrate_parse, default=4_000_000)
    parser.add_argument("--segment", type=float, default=10.0, help="segment length the recorder aims for, s")
    parser.add_argument("--warmup", type=float, default=15.0, help="seconds after starting the recorders")
    parser.add_argument("--sample", type=float, default=60.0, help="seconds measured at each step")
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop", help="the recorder's event loop")
    parser.add_argument("--modes", default="local,s3,read", help="local files, S3, and the sources alone")
    parser.add_argument(
        "--malloc-arena-max",
        type=int,
        default=0,
        help="MALLOC_ARENA_MAX for the recorder (glibc keeps a heap per thread up to 8 per core otherwise)",
    )
    args = parser.parse_args(argv)
    steps = sorted({int(n) for n in args.steps.split(",")})
    modes = args.modes.split(",")

    workdir = Path(tempfile.mkdtemp(prefix="lantern-recorder-"))
    print(
        f"Simulated cameras, 1920x1080 @ {args.fps} fps, {args.bitrate / 1e6:g} Mbit/s H.264 (GOP 1 s), recorded into"
        f" {args.segment:g} s segments by {', '.join(map(str, steps))} recorders (one RTSP session each)."
    )
    arenas = f"MALLOC_ARENA_MAX={args.malloc_arena_max}" if args.malloc_arena_max else "glibc's default heaps"
    print(f"Machine: {machine_description()}; Python {platform.python_version()}; recorder loop {args.loop}, {arenas}.")
    print(f"Warm-up {args.warmup:g} s, then {args.sample:g} s measured per step; logs and spools in {workdir}")
    print(
        "     mode  N | recorder CPU % of a core | RSS MB (max) | segments in the window | recorded"
        " | spool at the end | pictures dropped | camera (simulator) CPU % | S3 server CPU % | other load CPU %"
    )

    sim = CameraSimulator(cameras=1, width=1920, height=1080, fps=args.fps, bitrate=args.bitrate, idle_stop_s=30)
    sim.start()
    urls = [sim.url(1)] * max(steps)
    stray: list[str] = []
    by_mode: dict[str, list[Step]] = {}
    s3_objects = 0
    try:
        for mode in modes:
            moto = MotoProcess(log=workdir / "moto.log") if mode == "s3" else None
            host = RecorderProcess(
                data_dir=workdir / mode,
                segment_s=args.segment,
                loop=args.loop,
                log=workdir / f"recorder-{mode}.log",
                s3_endpoint=moto.url if moto else "",
                s3_bucket=moto.bucket if moto else "",
                env={"MALLOC_ARENA_MAX": str(args.malloc_arena_max)} if args.malloc_arena_max else None,
            )
            try:
                label = "read only" if mode == "read" else mode
                by_mode[label] = steps_run(
                    mode=label,
                    host=host,
                    urls=urls,
                    steps=steps,
                    warmup_s=args.warmup,
                    sample_s=args.sample,
                    s3_pid=moto.pid if moto else None,
                    stray=stray,
                )
            finally:
                host.stop()
                # The footage itself (~250 MB in local mode) is of no further use; the logs stay.
                shutil.rmtree(workdir / mode / "media", ignore_errors=True)
                if moto is not None:
                    s3_objects = moto.objects()
                    moto.stop()
    finally:
        sim.stop()

    print()
    summary: dict[str, object] = {
        "recorder_size": "1920x1080",
        "recorder_fps": args.fps,
        "recorder_camera_mbps": args.bitrate / 1e6,
        "recorder_segment_s": args.segment,
        "recorder_loop": args.loop,
        "recorder_sample_s": args.sample,
        "recorder_malloc_arena_max": args.malloc_arena_max or None,
        "cameras": steps,
    }
    fits = {mode: fit_print(mode, found) for mode, found in by_mode.items()}
    headline = fits.get("s3") or fits.get("local")
    if headline is not None:
        verdict = "met" if headline.cpu_per_camera <= GOAL_PCT else "NOT met"
        print(
            f"Recording one more camera costs {headline.cpu_per_camera:.2f} % of a core"
            f" (goal ≤ {GOAL_PCT:g} %: {verdict})."
        )
        summary["cpu_pct_per_camera"] = round(headline.cpu_per_camera, 3)
        summary["rss_mb_per_camera"] = round(headline.rss_per_camera, 2)
    for mode, line in fits.items():
        key = mode.replace(" ", "_")
        summary[f"cpu_pct_per_camera_{key}"] = round(line.cpu_per_camera, 3)
        summary[f"rss_mb_per_camera_{key}"] = round(line.rss_per_camera, 2)
        summary[f"cpu_base_pct_{key}"] = round(line.cpu_base, 2)
        summary[f"rss_base_mb_{key}"] = round(line.rss_base, 1)
        summary[f"cpu_fit_r2_{key}"] = round(line.cpu_r2, 4)
    if "read only" in fits and headline is not None:
        summary["cpu_pct_per_camera_recording_only"] = round(
            headline.cpu_per_camera - fits["read only"].cpu_per_camera, 3
        )
    for mode, found in by_mode.items():
        key = mode.replace(" ", "_")
        for step in found:
            summary[f"{key}_cpu_pct_{step.cameras}c"] = round(step.cpu_pct, 2)
            summary[f"{key}_rss_mb_{step.cameras}c"] = round(step.rss_mb, 1)
            if mode != "read only":
                summary[f"{key}_segments_{step.cameras}c"] = step.segments
                summary[f"{key}_segment_s_mean_{step.cameras}c"] = round(step.segment_s_mean, 2)
                summary[f"{key}_recorded_mbps_per_camera_{step.cameras}c"] = round(step.recorded_mbps, 3)
    all_steps = [s for found in by_mode.values() for s in found]
    summary["dropped_pictures"] = sum(s.dropped for s in all_steps)
    summary["camera_cpu_pct_max"] = round(max(s.camera_cpu_pct for s in all_steps), 1)
    summary["other_load_cpu_pct_max"] = round(max(s.other_cpu_pct for s in all_steps), 1)
    summary["s3_objects"] = s3_objects
    summary["sockets_off_loopback"] = len(stray)
    print("Sockets on a non-loopback address: " + ("none" if not stray else "; ".join(stray)))
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
