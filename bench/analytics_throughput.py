"""Analytics throughput: seconds of 1080p video analysed per CPU-second, for a mostly still and a busy street, with
and without the motion gate, per detector backend; detector milliseconds per frame. The last line printed is JSON."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

# Run as `python bench/analytics_throughput.py` from anywhere: the project root holds the packages.
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from alerts.analysis import CameraAnalysisState, Detection, OpenCVHogDetector, segment_analyse  # noqa: E402
from alerts.analysis.frames import frames_sample  # noqa: E402
from alerts.analysis.objects import Box  # noqa: E402
from alerts.analysis.tracking import ByteTrack, Tracker  # noqa: E402
from bench._sampling import machine_description  # noqa: E402
from tests.alerts.scenes import Crossing, Vehicle, scene_frames, segment_write  # noqa: E402

WIDTH, HEIGHT, SOURCE_FPS, BITRATE = 1920, 1080, 15, 4_000_000
ANALYSIS_FPS = 5.0
SEGMENT_S = 10
CORES_PER_WORKER = 2


class NoDetector:
    """Finds nothing: what decoding, the motion gate and tamper checks cost on their own."""

    backend = "none"
    classes = ("person",)

    def detect(self, *, image: np.ndarray, regions: Sequence[Box] = ()) -> list[Detection]:
        return []

    def tracker_new(self, *, fps: float) -> Tracker:
        return ByteTrack(fps=fps)


def scenes_write(*, folder: Path, segments: int) -> dict[str, list[Path]]:
    """The two streets as consecutive 10 s segments (the first one warms the background model up, not measured).
    Mostly still: sensor noise, one person crossing for 4 s in every 40 s. Busy: people crossing all the time in
    both directions (a new one every 1.5 s, each for 6 s) and a vehicle every 3 s."""
    seconds = SEGMENT_S * segments
    still = [Crossing(start_s=t + 15.0, duration_s=4.0) for t in range(0, seconds, 40)]
    busy = [
        Crossing(
            start_s=i * 1.5 - 4.0,
            duration_s=6.0,
            height=0.3 + 0.05 * (i % 4),
            feet=0.8 + 0.04 * (i % 4),
            right_to_left=bool(i % 2),
        )
        for i in range(int(seconds / 1.5) + 4)
    ]
    vehicles = [Vehicle(start_s=float(t), duration_s=2.5, lane=0.7 + 0.05 * (t % 3)) for t in range(0, seconds, 3)]
    plans = {"static": {"crossings": still}, "busy": {"crossings": busy, "vehicles": vehicles}}
    written: dict[str, list[Path]] = {}
    for name, plan in plans.items():
        frames = iter(scene_frames(width=WIDTH, height=HEIGHT, fps=SOURCE_FPS, seconds=seconds, **plan))
        written[name] = []
        for index in range(segments):
            chunk = (next(frames) for _ in range(SEGMENT_S * SOURCE_FPS))
            path = folder / f"{name}-{index}.mp4"
            segment_write(path=path, frames=chunk, fps=SOURCE_FPS, bit_rate=BITRATE)
            written[name].append(path)
    return written


def run_measure(*, segments: list[Path], detector: Any, gate: bool) -> dict[str, float]:
    """Analyse the segments in order with one camera's state; the first only warms up. Process CPU time (every
    thread, so a detector's thread pool counts in full)."""
    state = CameraAnalysisState.new(fps=ANALYSIS_FPS)
    segment_analyse(source=segments[0], fps=ANALYSIS_FPS, ignore_masks=[], detector=detector, state=state, gate=gate)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    frames = calls = detections = 0
    detector_cpu = 0.0
    for path in segments[1:]:
        analysis = segment_analyse(
            source=path, fps=ANALYSIS_FPS, ignore_masks=[], detector=detector, state=state, gate=gate
        )
        frames += len(analysis.frames)
        calls += analysis.detector_calls
        detections += len(analysis.detections)
        detector_cpu += analysis.detector_seconds
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    video_s = SEGMENT_S * (len(segments) - 1)
    return {
        "video_s": video_s,
        "cpu_s": round(cpu, 3),
        "wall_s": round(wall, 3),
        "video_s_per_cpu_s": round(video_s / cpu, 2),
        "frames": frames,
        "detector_calls": calls,
        "detector_cpu_s": round(detector_cpu, 3),
        "detections": detections,
    }


def detector_ms(*, detector: Any, path: Path, frames: int) -> dict[str, float]:
    """Milliseconds (CPU of the process, and wall) per full 1080p frame, after one call to warm up."""
    samples = frames_sample(source=path, fps=ANALYSIS_FPS)
    pictures = [sample.bgr() for _, sample in zip(range(frames + 1), samples, strict=False)]
    detector.detect(image=pictures[0])
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for picture in pictures[1:]:
        detector.detect(image=picture)
    count = len(pictures) - 1
    return {
        "cpu_ms": round((time.process_time() - cpu0) / count * 1000, 1),
        "wall_ms": round((time.perf_counter() - wall0) / count * 1000, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--segments", type=int, default=4, help="10 s segments per scene, the first for warm-up")
    parser.add_argument("--yolo-model", default="yolo11n.yaml", help="YAML (random weights) or a weights file")
    parser.add_argument("--skip-yolo", action="store_true")
    args = parser.parse_args()
    results: dict[str, Any] = {
        "machine": machine_description(),
        "size": f"{WIDTH}x{HEIGHT}",
        "source_fps": SOURCE_FPS,
        "source_mbps": BITRATE / 1e6,
        "analysis_fps": ANALYSIS_FPS,
        "segment_s": SEGMENT_S,
    }
    print(f"Machine: {results['machine']}; {WIDTH}x{HEIGHT} H.264 at {SOURCE_FPS} fps, {BITRATE / 1e6:g} Mbit/s,")
    print(f"a keyframe a second, {SEGMENT_S} s segments analysed at {ANALYSIS_FPS:g} fps.")
    with tempfile.TemporaryDirectory(prefix="lantern-analytics-") as folder:
        started = time.perf_counter()
        scenes = scenes_write(folder=Path(folder), segments=args.segments)
        print(f"Footage written in {time.perf_counter() - started:.0f} s (not measured).")
        backends: dict[str, Any] = {"none": NoDetector(), "opencv": OpenCVHogDetector()}
        if not args.skip_yolo:
            os.environ.setdefault("YOLO_OFFLINE", "1")
            try:
                from alerts.analysis import YoloDetector

                if args.yolo_model.endswith((".yaml", ".yml")):
                    backends["yolo"] = YoloDetector(model=args.yolo_model, device="cpu")
                else:
                    backends["yolo"] = YoloDetector(weights=args.yolo_model, device="cpu")
            except Exception as error:  # the bench still reports the rest
                print(f"yolo backend not measured: {error}")
        print()
        print(
            "| backend | scene | motion gate | video s per CPU s | CPU s | frames | detector calls | detector CPU s |"
        )
        print("| --- | --- | --- | --- | --- | --- | --- | --- |")
        for backend, detector in backends.items():
            for scene in ("static", "busy"):
                for gate in (True, False) if backend != "none" else (True,):
                    run = run_measure(segments=scenes[scene], detector=detector, gate=gate)
                    key = f"{backend}_{scene}_{'gated' if gate else 'ungated'}"
                    results.update({f"{key}_{name}": value for name, value in run.items()})
                    print(
                        f"| {backend} | {scene} | {'on' if gate else 'off'} | {run['video_s_per_cpu_s']} | "
                        f"{run['cpu_s']} | {run['frames']} | {run['detector_calls']} | {run['detector_cpu_s']} |"
                    )
        print()
        for backend in ("opencv", "yolo"):
            if backend in backends:
                timing = detector_ms(detector=backends[backend], path=scenes["busy"][1], frames=10)
                results[f"detector_ms_cpu_{backend}"] = timing["cpu_ms"]
                results[f"detector_ms_wall_{backend}"] = timing["wall_ms"]
                print(
                    f"{backend} detector on a full 1080p frame: {timing['cpu_ms']} CPU ms, {timing['wall_ms']} ms wall"
                )
    gpu = _gpu_name()
    results["gpu"] = gpu
    if gpu is None:
        print("No GPU on this machine: detector times on a GPU not measured.")
    static = results["opencv_static_gated_video_s_per_cpu_s"]
    results["static_cameras_per_worker_opencv"] = round(static * CORES_PER_WORKER, 1)
    print(
        f"One {CORES_PER_WORKER}-core worker keeps up with {results['static_cameras_per_worker_opencv']} mostly still "
        f"1080p cameras at {ANALYSIS_FPS:g} fps with the opencv backend (goal: 16 or more)."
    )
    print(json.dumps(results))


def _gpu_name() -> str | None:
    try:
        import torch
    except ImportError:
        return None
    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None


if __name__ == "__main__":
    main()
