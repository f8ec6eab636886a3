"""Tip submissions under load: text only and with a 2 MB photo, at 50 and 100 a second for 60 s; last line JSON.

The ASGI server (uvicorn, 2 workers, the deployment's settings: PostgreSQL, Redis for the cache and broker) runs in
its own processes; the load comes from another process, open loop: each request leaves at its scheduled time whether
or not earlier ones have been answered, so a slow server shows as latency, not as a lower rate. Each submission is
the real form, sent as a browser sends it after one GET of the form (our Origin and Host with its port, no cookie:
the tip routes keep none), with a fresh once-only submission token, on its own connection. The server runs as
deployed (DEBUG off, collected static) and is warmed first (--warmup seconds at 50/s, not counted). The submission
rate limit is raised for the run (every request comes from one address here). Attachments are stored raw and queued
for the worker, as in production; no worker runs, so scrubbing is not in the figures. Needs PostgreSQL and Redis on
loopback.
Goal: no errors and p99 under 200 ms for text tips at 100/s.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DATABASE = "lantern_tips_bench"
REDIS_DB = 12
GOAL_P99_MS = 200.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = (len(ordered) - 1) * q / 100
    low, high = int(rank), min(int(rank) + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def photo_2mb() -> bytes:
    """A noisy JPEG of about 2 MB, as a phone photo is (noise does not compress)."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 255, (1000, 1200, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="JPEG", quality=80)
    return out.getvalue()


# ---------------------------------------------------------------- the load generator (its own process)


def _multipart(fields: dict[str, str], *, photo: bytes | None) -> tuple[bytes, str]:
    boundary = "lantern-bench-boundary"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    if photo is not None:
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="attachments"; filename="photo.jpg"\r\n'
            "Content-Type: image/jpeg\r\n\r\n"
        )
        parts.append(head.encode() + photo + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


_SUBMISSION_STAND_IN = b"S" * 24  # as long as secrets.token_urlsafe(18)


async def _exchange(host: str, port: int, request: list[bytes]) -> tuple[int, bytes, bytes]:
    """One request on its own connection (each tipster is another phone), read to the server's close."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.writelines(request)
        await writer.drain()
        response = await reader.read(-1)
    finally:
        writer.close()
    head, _, body = response.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), head, body


async def _generate(*, host: str, port: int, rate: float, duration_s: float, photo: bool) -> dict[str, Any]:
    # A raw HTTP/1.1 client with the requests encoded once: the generator shares this machine's two cores with
    # the server, and an HTTP library's per-request work (httpx: most of a core at 100/s) would be measured as
    # the server's latency.
    status, _, _ = await _exchange(
        host, port, [f"GET /tips/ HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n".encode()]
    )
    # As a phone's browser after loading the form: no cookie (the tip routes keep none), our own Origin.
    assert status == 200, "the form did not load"
    fields = {
        "category": "theft",
        "description": "A man took a bike from the rack outside the library and rode north.",
        "occurred_text": "this morning",
        "place_text": "Woodward Ave",
        # Each tipster's form has its own once-only token (drawn when the page is shown); a stand-in of the
        # same length is swapped for a fresh one on every request.
        "submission": _SUBMISSION_STAND_IN.decode(),
    }
    payload, content_type = _multipart(fields, photo=photo_2mb() if photo else None)
    request = (
        f"POST /tips/ HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n"
        f"Origin: http://{host}:{port}\r\nSec-Fetch-Site: same-origin\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(payload)}\r\n\r\n"
    ).encode() + payload
    before_token, after_token = request.split(_SUBMISSION_STAND_IN)
    latencies: list[float] = []
    statuses: dict[str, int] = {}

    async def one(at: float) -> None:
        await asyncio.sleep(max(0.0, at - time.perf_counter()))
        started = time.perf_counter()
        try:
            parts = [before_token, secrets.token_urlsafe(18).encode(), after_token]
            code, _, reply = await asyncio.wait_for(_exchange(host, port, parts), timeout=30)
            ok = code == 201 and b"tip-codename" in reply
            key = str(code) if ok else f"{code} (not a receipt)"
        except (OSError, TimeoutError, ValueError, IndexError) as error:
            key = type(error).__name__
        latencies.append((time.perf_counter() - started) * 1000)
        statuses[key] = statuses.get(key, 0) + 1

    begin = time.perf_counter() + 0.5
    count = int(rate * duration_s)
    cpu_before = time.process_time()
    await asyncio.gather(*(one(begin + i / rate) for i in range(count)))
    elapsed = time.perf_counter() - begin
    generator_cpu = (time.process_time() - cpu_before) / elapsed
    errors = sum(n for status, n in statuses.items() if status != "201")
    return {
        "sent": count,
        "achieved_rps": round(count / elapsed, 1),
        "p50_ms": round(percentile(latencies, 50), 1),
        "p95_ms": round(percentile(latencies, 95), 1),
        "p99_ms": round(percentile(latencies, 99), 1),
        "errors": errors,
        "statuses": statuses,
        "generator_cpu_pct": round(generator_cpu * 100, 1),
    }


# ---------------------------------------------------------------- the run


def _tree_cpu_s(pid: int) -> float:
    """CPU seconds used so far by a process and its children (uvicorn's workers)."""
    import psutil

    root = psutil.Process(pid)
    total = 0.0
    for process in [root, *root.children(recursive=True)]:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _server_env(data_dir: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "LANTERN_DATA_DIR": str(data_dir),
        "LANTERN_DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DATABASE}",
        "LANTERN_REDIS_URL": f"redis://127.0.0.1:6379/{REDIS_DB}",
        "LANTERN_TIP_RATE_PER_HOUR": "100000000",
        # As deployed: a pool per process, so that a burst waits for connections rather than exhausting them.
        "LANTERN_DB_POOL_MAX_SIZE": "20",
        "LANTERN_RECORDING": "0",
        "LANTERN_ANALYTICS": "0",
        "LANTERN_LOG_LEVEL": "WARNING",
        # Deployed settings (DEBUG off: no query log, no debug pages), over plain HTTP on loopback.
        "LANTERN_DEBUG": "0",
        "LANTERN_SECRET_KEY": "bench-" + "x" * 50,
        "LANTERN_ALLOWED_HOSTS": "127.0.0.1",
        "LANTERN_SSL_REDIRECT": "0",
    }
    env.pop("LANTERN_S3_BUCKET", None)
    return env


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--rates", default="50,100")
    parser.add_argument("--warmup", type=float, default=10.0, help="seconds of text tips at 50/s first, not counted")
    parser.add_argument("--generate", help=argparse.SUPPRESS)  # internal: run as the load generator
    args = parser.parse_args()
    if args.generate:
        spec = json.loads(args.generate)
        import uvloop  # the server's own event loop (uvicorn[standard]): the cheaper one

        print(json.dumps(uvloop.run(_generate(**spec))))
        return 0

    from bench._sampling import machine_description

    data_dir = Path(tempfile.mkdtemp(prefix="lantern-tips-bench-"))
    env = _server_env(data_dir)
    subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", f"DROP DATABASE IF EXISTS {DATABASE}"], check=True
    )
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", f"CREATE DATABASE {DATABASE}"], check=True)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
    port = _free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "config.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "2",
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        cwd=ROOT,
        env=env,
    )
    results: dict[str, Any] = {}
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.2)
        time.sleep(2)
        print(f"Machine: {machine_description()}; server: uvicorn, 2 workers, PostgreSQL, Redis")
        print(f"{args.duration:g} s per step, open loop")
        print(
            f"{'kind':>7} {'rate':>5} | {'achieved':>8} | {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} | "
            "server CPU, load CPU (% of a core) | errors"
        )
        steps = [("warm-up", 50.0, args.warmup)] if args.warmup > 0 else []
        steps += [(kind, float(r), args.duration) for kind in ("text", "photo") for r in args.rates.split(",")]
        for kind, rate, duration in steps:
            spec = {"host": "127.0.0.1", "port": port, "rate": rate, "duration_s": duration, "photo": kind == "photo"}
            server_cpu_before, started = _tree_cpu_s(server.pid), time.monotonic()
            out = subprocess.run(
                [sys.executable, __file__, "--generate", json.dumps(spec)], capture_output=True, text=True, cwd=ROOT
            )
            server_cpu = (_tree_cpu_s(server.pid) - server_cpu_before) / (time.monotonic() - started)
            if out.returncode != 0:
                print(out.stderr[-2000:], file=sys.stderr)
                raise SystemExit("the load generator failed")
            step = json.loads(out.stdout.strip().splitlines()[-1])
            step["server_cpu_pct"] = round(server_cpu * 100, 1)  # of one core; the machine has two
            if kind != "warm-up":  # the server's first requests (connections, templates, catalogs) are not counted
                results[f"{kind}_{int(rate)}rps"] = step
            print(
                f"{kind:>7} {int(rate):>5} | {step['achieved_rps']:>6.1f}/s | {step['p50_ms']:>7.1f} "
                f"{step['p95_ms']:>7.1f} {step['p99_ms']:>7.1f} | {step['server_cpu_pct']:>5.0f} % "
                f"{step['generator_cpu_pct']:>5.0f} % | {step['errors']} {step['statuses']}"
            )
            time.sleep(3)
    finally:
        server.terminate()
        server.wait(timeout=20)
        subprocess.run(["redis-cli", "-n", str(REDIS_DB), "FLUSHDB"], capture_output=True)
    text100 = results.get("text_100rps", {})
    met = text100.get("errors", 1) == 0 and text100.get("p99_ms", 1e9) < GOAL_P99_MS
    verdict = "met" if met else "NOT met"
    print(
        f"Text tips at 100/s: p99 {text100.get('p99_ms')} ms, {text100.get('errors')} errors "
        f"(goal: none and < {GOAL_P99_MS:.0f} ms: {verdict})"
    )
    summary: dict[str, Any] = {
        "text_100rps_p99_ms": text100.get("p99_ms"),
        "errors": sum(step["errors"] for step in results.values()),
        **{
            f"{name}_{key}": step[key]
            for name, step in results.items()
            for key in ("p50_ms", "p95_ms", "p99_ms", "errors", "achieved_rps", "server_cpu_pct")
        },
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
