"""Relay CPU and memory per viewer for one 1080p camera at 1-50 viewers, against Janus; the last line printed is JSON.

The simulator (this process), the relay (bench/_relay_host.py), Janus and the viewers (bench/_viewers.py,
counting RTP without decoding) each run in their own processes; psutil measures the relay's and Janus's
CPU time and RSS over a window after a warm-up at each step. When it can, the run re-executes itself in
a private network namespace (bench/_netns.py) so that no packet can leave loopback.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# Run as `python bench/relay_fanout.py` from anywhere: the project root holds `cameras` and `bench`.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._janus import janus_installed, janus_with_camera
from bench._loopback import sockets_off_loopback
from bench._netns import ICE_INTERFACE, ice_interface_present, network_isolation
from bench._relay_host import RelayProcess
from bench._sampling import machine_description, measure
from bench._viewers import SAMPLE_EVERY, Target, ViewerPool
from devtools.simulator import CameraSimulator
from devtools.simulator.__main__ import bitrate_parse

# Another program busy on a 2-core machine skews what we measure; above this (% of a core) we say so.
OTHER_LOAD_WARN_PCT = 20.0


@dataclass(frozen=True)
class Step:
    viewers: int
    cpu_pct: float
    rss_mb: float
    rss_max_mb: float
    viewer_mbps_mean: float
    viewer_mbps_min: float
    viewer_pps_mean: float
    workers_cpu_pct: float
    camera_cpu_pct: float  # this process: the simulator's encoder, mostly
    softirq_pct: float  # the kernel delivering packets on loopback, charged to no process
    other_cpu_pct: float  # everything else on the machine, in % of a core
    machine_busy_pct: float
    sampled_ok: int
    sampled_bad: int
    stalled: int  # viewers that received nothing during the window


@dataclass(frozen=True)
class Fit:
    cpu_per_viewer: float
    cpu_base: float
    rss_per_viewer: float
    rss_base: float
    cpu_r2: float


def fit(steps: list[Step]) -> Fit:
    x = np.array([s.viewers for s in steps], dtype=float)
    cpu = np.array([s.cpu_pct for s in steps])
    rss = np.array([s.rss_mb for s in steps])
    cpu_slope, cpu_base = np.polyfit(x, cpu, 1)
    rss_slope, rss_base = np.polyfit(x, rss, 1)
    residual = cpu - (cpu_slope * x + cpu_base)
    spread = float(((cpu - cpu.mean()) ** 2).sum())
    r2 = 1 - float((residual**2).sum()) / spread if spread else 1.0
    return Fit(float(cpu_slope), float(cpu_base), float(rss_slope), float(rss_base), r2)


def steps_run(
    *,
    label: str,
    server_pid: int,
    pool: ViewerPool,
    target: Target,
    steps: list[int],
    warmup_s: float,
    sample_s: float,
    stray: list[str],
    wildcards: list[str],
) -> list[Step]:
    results = []
    print(
        f"\n{label}: viewers | server CPU % of a core | RSS MB (max) | Mbit/s per viewer mean (min) | packets/s per"
        " viewer | viewer processes CPU % | camera CPU % | kernel softirq % | other load CPU % | machine busy %"
    )
    for wanted in steps:
        errors = pool.open(target=target, count=wanted - pool.viewers())
        if errors:
            raise RuntimeError(f"{label}: {len(errors)} viewers failed to open, e.g. {errors[0]}")
        time.sleep(warmup_s)
        before, t0 = pool.counts(), time.monotonic()
        window = measure({"server": [server_pid], "viewers": pool.pids, "camera": [os.getpid()]}, seconds=sample_s)
        after, t1 = pool.counts(), time.monotonic()
        elapsed = t1 - t0
        mbps = [8 * (a["octets"] - b["octets"]) / elapsed / 1e6 for a, b in zip(after, before, strict=True)]
        pps = [(a["packets"] - b["packets"]) / elapsed for a, b in zip(after, before, strict=True)]
        ok = sum(a["sampled_ok"] - b["sampled_ok"] for a, b in zip(after, before, strict=True))
        bad = sum(a["sampled_bad"] - b["sampled_bad"] for a, b in zip(after, before, strict=True))
        if wanted == steps[-1]:
            # At full load every process that sends or receives has its sockets open: none may be off loopback.
            for pid in [server_pid, *pool.pids, os.getpid()]:
                off, wildcard = sockets_off_loopback(pid)
                stray.extend(e for e in off if e not in stray)
                wildcards.extend(e for e in wildcard if e not in wildcards)
        server, viewers, camera = window.usage["server"], window.usage["viewers"], window.usage["camera"]
        ours = server.cpu_pct + viewers.cpu_pct + camera.cpu_pct
        step = Step(
            viewers=len(mbps),
            cpu_pct=server.cpu_pct,
            rss_mb=server.rss_mb,
            rss_max_mb=server.rss_max_mb,
            viewer_mbps_mean=float(np.mean(mbps)),
            viewer_mbps_min=float(np.min(mbps)),
            viewer_pps_mean=float(np.mean(pps)),
            workers_cpu_pct=viewers.cpu_pct,
            camera_cpu_pct=camera.cpu_pct,
            softirq_pct=window.softirq_pct,
            other_cpu_pct=max(0.0, window.machine_busy_pct * (os.cpu_count() or 1) - ours - window.softirq_pct),
            machine_busy_pct=window.machine_busy_pct,
            sampled_ok=ok,
            sampled_bad=bad,
            stalled=sum(1 for p in pps if p == 0),
        )
        results.append(step)
        print(
            f"{label:>8} {step.viewers:>3} | {step.cpu_pct:6.1f} | {step.rss_mb:6.1f} ({step.rss_max_mb:.1f})"
            f" | {step.viewer_mbps_mean:5.2f} ({step.viewer_mbps_min:.2f}) | {step.viewer_pps_mean:5.0f}"
            f" | {step.workers_cpu_pct:6.1f} | {step.camera_cpu_pct:5.1f} | {step.softirq_pct:5.1f}"
            f" | {step.other_cpu_pct:5.1f}"
            f" | {step.machine_busy_pct:5.1f}"
            f"   [decrypted 1 in {SAMPLE_EVERY}: {ok} H.264 ok, {bad} bad; {step.stalled} viewers got nothing]",
            flush=True,
        )
        if step.other_cpu_pct > OTHER_LOAD_WARN_PCT:
            print(
                f"{'':>12}WARNING: processes outside this benchmark used {step.other_cpu_pct:.0f} % of a core"
                " during this step; its figures are less reliable"
            )
    pool.close_all()
    return results


def fit_print(label: str, steps: list[Step]) -> Fit:
    line = fit(steps)
    print(
        f"{label}: {line.cpu_per_viewer:.2f} % of a core per added viewer (base {line.cpu_base:.1f} %,"
        f" R² {line.cpu_r2:.3f}); {line.rss_per_viewer:.2f} MB RSS per added viewer (base {line.rss_base:.0f} MB)"
    )
    return line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", default="1,10,25,50", help="viewer counts, ascending")
    parser.add_argument("--workers", type=int, default=5, help="viewer processes")
    parser.add_argument("--fps", type=int, default=15)
    parser.add_argument("--bitrate", type=bitrate_parse, default=4_000_000)
    parser.add_argument("--warmup", type=float, default=6.0, help="seconds after opening viewers")
    parser.add_argument("--sample", type=float, default=15.0, help="seconds measured at each step")
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop", help="the relay's event loop")
    parser.add_argument("--no-janus", action="store_true")
    parser.add_argument(
        "--janus-source",
        choices=("auto", "rtsp", "rtp"),
        default="auto",
        help="how Janus gets the camera: its RTSP mountpoint (auto falls back to RTP when that gets no video)",
    )
    args = parser.parse_args(argv)
    steps = sorted({int(n) for n in args.steps.split(",")})

    want_janus = not args.no_janus and janus_installed()  # before the namespace: apt-get needs the network
    isolation = network_isolation()
    janus_note = ""
    if not args.no_janus and not want_janus:
        janus_note = "Janus is not installed and could not be installed (apt-get install janus); skipped."
    elif want_janus and not ice_interface_present():
        # Outside a private namespace Janus would gather candidates on every non-loopback interface.
        want_janus = False
        janus_note = "Janus cannot be limited to loopback outside a private network namespace (needs root); skipped."

    workdir = Path(tempfile.mkdtemp(prefix="lantern-fanout-"))
    print(
        f"One simulated camera, 1920x1080 @ {args.fps} fps, {args.bitrate / 1e6:g} Mbit/s H.264 (GOP 1 s), relayed to"
        f" {', '.join(map(str, steps))} aiortc viewers in {args.workers} processes that count SRTP without decoding."
    )
    print(
        f"Machine: {machine_description()}; Python {platform.python_version()}; network: {isolation}"
        f" ({'a private namespace with only loopback' if isolation == 'private' else 'the host, loopback only'})."
    )
    print(
        f"Relay on {args.loop}; warm-up {args.warmup:g} s, then {args.sample:g} s measured per step; logs in {workdir}"
    )

    stray: list[str] = []
    wildcards: list[str] = []
    sim = CameraSimulator(cameras=1, width=1920, height=1080, fps=args.fps, bitrate=args.bitrate, idle_stop_s=30)
    sim.start()
    pool = ViewerPool(workers=args.workers)
    janus_steps: list[Step] = []
    janus_source = ""
    try:
        relay = RelayProcess(loop=args.loop, log=workdir / "relay.log")
        try:
            target = Target(kind="lantern", address=relay.address, source_url=sim.url(1))
            lantern_steps = steps_run(
                label="Lantern",
                server_pid=relay.pid,
                pool=pool,
                target=target,
                steps=steps,
                warmup_s=args.warmup,
                sample_s=args.sample,
                stray=stray,
                wildcards=wildcards,
            )
        finally:
            relay.stop()
        ended, dropped = relay.drops()
        print(f"Relay log: {ended} viewers ended, their queues dropped {dropped} access units in all.")
        if want_janus:
            janus, forwarder, how = janus_with_camera(
                folder=workdir / "janus", interface=ICE_INTERFACE, rtsp_url=sim.url(1), source=args.janus_source
            )
            try:
                janus_source = "rtsp" if forwarder is None else "rtp-forwarder"
                janus_note = f"Janus {janus_version()} streaming plugin, {how}"
                print(janus_note)
                janus_steps = steps_run(
                    label="Janus",
                    server_pid=janus.process.pid,
                    pool=pool,
                    target=Target(kind="janus", address=janus.url),
                    steps=steps,
                    warmup_s=args.warmup,
                    sample_s=args.sample,
                    stray=stray,
                    wildcards=wildcards,
                )
            finally:
                janus.stop()
                if forwarder is not None:
                    forwarder.stop()
    finally:
        pool.stop()
        sim.stop()

    print()
    lantern = fit_print("Lantern", lantern_steps)
    summary: dict[str, object] = {
        "fanout_size": "1920x1080",
        "fanout_fps": args.fps,
        "fanout_camera_mbps": args.bitrate / 1e6,
        "fanout_network": isolation,
        "fanout_relay_loop": args.loop,
        "cpu_per_viewer_pct": round(lantern.cpu_per_viewer, 3),
        "rss_per_viewer_mb": round(lantern.rss_per_viewer, 3),
        "cpu_base_pct": round(lantern.cpu_base, 2),
        "rss_base_mb": round(lantern.rss_base, 1),
        "cpu_fit_r2": round(lantern.cpu_r2, 4),
    }
    for step in lantern_steps:
        summary[f"relay_cpu_pct_{step.viewers}v"] = round(step.cpu_pct, 1)
        summary[f"relay_rss_mb_{step.viewers}v"] = round(step.rss_mb, 1)
        summary[f"viewer_mbps_{step.viewers}v"] = round(step.viewer_mbps_mean, 3)
        summary[f"viewer_mbps_min_{step.viewers}v"] = round(step.viewer_mbps_min, 3)
        summary[f"viewer_pps_{step.viewers}v"] = round(step.viewer_pps_mean, 1)
        summary[f"machine_busy_pct_{step.viewers}v"] = round(step.machine_busy_pct, 1)
        summary[f"other_load_cpu_pct_{step.viewers}v"] = round(step.other_cpu_pct, 1)
    if janus_steps:
        januses = fit_print("Janus", janus_steps)
        ratio = lantern.cpu_per_viewer / januses.cpu_per_viewer if januses.cpu_per_viewer > 0 else float("nan")
        # Lantern drops the camera's filler NAL units; Janus forwards every packet, so it sends more bits.
        lantern_mbps = float(np.mean([s.viewer_mbps_mean for s in lantern_steps]))
        janus_mbps = float(np.mean([s.viewer_mbps_mean for s in janus_steps]))
        per_mbit = (lantern.cpu_per_viewer / lantern_mbps) / (januses.cpu_per_viewer / janus_mbps)
        print(
            f"Lantern's CPU per viewer is {ratio:.1f}x Janus's; per Mbit/s delivered {per_mbit:.1f}x"
            f" (Lantern sends {lantern_mbps:.2f} Mbit/s per viewer without the camera's filler, Janus {janus_mbps:.2f})"
        )
        summary.update(
            {
                "cpu_per_viewer_vs_janus": round(ratio, 2),
                "cpu_per_viewer_mbit_vs_janus": round(per_mbit, 2),
                "janus_cpu_per_viewer_pct": round(januses.cpu_per_viewer, 3),
                "janus_rss_per_viewer_mb": round(januses.rss_per_viewer, 3),
                "janus_source": janus_source,
            }
        )
        for step in janus_steps:
            summary[f"janus_cpu_pct_{step.viewers}v"] = round(step.cpu_pct, 1)
            summary[f"janus_rss_mb_{step.viewers}v"] = round(step.rss_mb, 1)
            summary[f"janus_viewer_mbps_{step.viewers}v"] = round(step.viewer_mbps_mean, 3)
            summary[f"janus_viewer_pps_{step.viewers}v"] = round(step.viewer_pps_mean, 1)
    else:
        print(janus_note)
        summary["cpu_per_viewer_vs_janus"] = None
        summary["janus_skipped"] = janus_note
    print("Sockets on a non-loopback address at full load: " + ("none" if not stray else "; ".join(stray)))
    if wildcards:
        print(f"Sockets on the wildcard address ({isolation} network): " + "; ".join(wildcards))
    summary["other_load_cpu_pct_max"] = round(max(s.other_cpu_pct for s in lantern_steps + janus_steps), 1)
    summary["relay_queue_drops"] = dropped
    summary["sockets_off_loopback"] = len(stray)
    summary["sockets_on_wildcard"] = len(wildcards)
    print(json.dumps(summary))
    return 0


def janus_version() -> str:
    try:
        out = subprocess.run(["janus", "--help"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    first = out.splitlines()[0] if out else ""
    return first.split("(")[-1].rstrip(")") if "(" in first else "?"


if __name__ == "__main__":
    sys.exit(main())
