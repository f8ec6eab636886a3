"""Measures processes' CPU (from their CPU-time counters) and RSS (sampled) over a window, with psutil."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass

import psutil


@dataclass(frozen=True)
class Usage:
    cpu_pct: float  # of one core, averaged over the window
    rss_mb: float  # mean of the samples
    rss_max_mb: float


@dataclass(frozen=True)
class Window:
    seconds: float
    usage: dict[str, Usage]
    machine_busy_pct: float  # of all cores together: 100 means every core busy
    softirq_pct: float  # kernel interrupt work (loopback packet delivery), in % of one core; no process is charged


def _cpu_seconds(processes: list[psutil.Process]) -> float:
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system + times.children_user + times.children_system
    return total


def _rss(processes: list[psutil.Process]) -> float:
    total = 0
    for process in processes:
        try:
            total += process.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total / 2**20


def measure(groups: dict[str, list[int]], *, seconds: float, interval_s: float = 0.5) -> Window:
    """CPU and RSS of each named group of processes over the next `seconds`."""
    processes = {name: [psutil.Process(pid) for pid in pids] for name, pids in groups.items()}
    machine_before = psutil.cpu_times()
    cpu_before = {name: _cpu_seconds(procs) for name, procs in processes.items()}
    started = time.monotonic()
    samples: dict[str, list[float]] = {name: [] for name in groups}
    while True:
        for name, procs in processes.items():
            samples[name].append(_rss(procs))
        remaining = started + seconds - time.monotonic()
        if remaining <= 0:
            break
        time.sleep(min(interval_s, remaining))
    elapsed = time.monotonic() - started
    cpu_after = {name: _cpu_seconds(procs) for name, procs in processes.items()}
    machine_after = psutil.cpu_times()
    idle = (machine_after.idle + machine_after.iowait) - (machine_before.idle + machine_before.iowait)
    total = sum(machine_after) - sum(machine_before)
    usage = {
        name: Usage(
            cpu_pct=100 * (cpu_after[name] - cpu_before[name]) / elapsed,
            rss_mb=sum(samples[name]) / len(samples[name]),
            rss_max_mb=max(samples[name]),
        )
        for name in groups
    }
    interrupts = (machine_after.softirq + machine_after.irq) - (machine_before.softirq + machine_before.irq)
    return Window(
        seconds=elapsed,
        usage=usage,
        machine_busy_pct=100 * (1 - idle / total) if total else 0.0,
        softirq_pct=100 * interrupts / elapsed,
    )


def machine_description() -> str:
    cpu = "unknown CPU"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = psutil.virtual_memory().total / 2**30
    return f"{psutil.cpu_count()} vCPU {cpu}, {memory:.0f} GiB"
