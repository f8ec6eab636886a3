"""Runs the embedded demo's processes as `./dev run` does; its tests start the very same layout.

The layout: the bundled Redis on a unix socket (channel layer, cache and Celery broker for every process),
the camera simulator, one Celery worker with beat that consumes every queue (most urgent first, see
CELERY_TASK_QUEUES), and the ASGI server, which also records and relays. Celery is never eager here: events
cross processes through Redis exactly as in a deployment.

    python -m devtools.demo            # what `./dev run` runs: migrate, demo data, then everything above
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from types import FrameType
from typing import IO

from devtools.embedded_redis import EmbeddedRedis

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def demo_environment(
    *, data_dir: Path, redis: EmbeddedRedis, base: Mapping[str, str] | None = None, **overrides: str
) -> dict[str, str]:
    """The environment every demo process gets: one data folder and the embedded Redis."""
    environment = dict(os.environ if base is None else base)
    environment.pop("LANTERN_CELERY_BROKER_URL", None)  # derived from the Redis URL by config/settings.py
    environment.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "LANTERN_DATA_DIR": str(data_dir),
            "LANTERN_REDIS_URL": redis.url,
            "PYTHONUNBUFFERED": "1",
        }
    )
    # The demo's cameras are the simulator on 127.0.0.1, an address real deployments refuse by default.
    environment.setdefault("LANTERN_STREAM_ALLOW_PRIVATE", "1")
    environment.update(overrides)
    return environment


class DemoProcesses:
    """The demo's long-running processes; `stop()` ends them, newest first, and then Redis."""

    def __init__(self, *, data_dir: Path, port: int = 8000, simulator_port: int | None = 8554, cameras: int = 4):
        self.data_dir = data_dir
        self.port = port
        self.simulator_port = simulator_port
        self.cameras = cameras
        self.redis = EmbeddedRedis(folder=data_dir / "redis")
        self.processes: list[tuple[str, subprocess.Popen[bytes], IO[bytes]]] = []
        self.environment: dict[str, str] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start_redis(self, *, base: Mapping[str, str] | None = None, **overrides: str) -> dict[str, str]:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.redis.start()
        self.environment = demo_environment(data_dir=self.data_dir, redis=self.redis, base=base, **overrides)
        return self.environment

    def _spawn(self, name: str, command: list[str]) -> subprocess.Popen[bytes]:
        log = (self.data_dir / f"{name}.log").open("ab")
        process = subprocess.Popen(command, cwd=ROOT, env=self.environment, stdout=log, stderr=subprocess.STDOUT)
        self.processes.append((name, process, log))
        return process

    def start_simulator(self, *, walkers: tuple[int, ...] = (1, 2)) -> None:
        command = [PYTHON, "-m", "devtools.simulator", "--cameras", str(self.cameras)]
        command += ["--port", str(self.simulator_port), "--size", "640x360", "--fps", "15"]
        for walker in walkers:
            command += ["--walker", str(walker)]
        self._spawn("simulator", command)

    def start_worker(self) -> None:
        # No -Q: the worker consumes every queue of CELERY_TASK_QUEUES, in their order. Beat runs inside it
        # (-B): the demo has exactly one worker, so exactly one beat.
        schedule = self.data_dir / "celerybeat-schedule"
        command = [PYTHON, "-m", "celery", "-A", "config", "worker", "-B", "-l", "info", "--concurrency", "2"]
        self._spawn("worker", [*command, "-s", str(schedule)])

    def start_web(self) -> None:
        command = [PYTHON, "-m", "uvicorn", "config.asgi:application", "--host", "127.0.0.1", "--port", str(self.port)]
        self._spawn("web", [*command, "--log-level", "warning"])

    def manage(self, *args: str) -> None:
        subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=self.environment, check=True)

    def wait_for_web(self, *, timeout_s: float = 60.0) -> None:
        import urllib.request

        deadline = time.monotonic() + timeout_s
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/account/login/", timeout=5):  # noqa: S310 (http on loopback)
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the web process did not answer on {self.url}") from None
                self.check_running()
                time.sleep(0.3)

    def check_running(self) -> None:
        for name, process, _ in self.processes:
            if process.poll() is not None:
                raise RuntimeError(f"the demo's {name} stopped (exit {process.returncode}); see {name}.log")

    def wait_any(self) -> str:
        """Blocks until one process ends; returns its name."""
        while True:
            for name, process, _ in self.processes:
                if process.poll() is not None:
                    return name
            time.sleep(0.5)

    def stop(self) -> None:
        for _, process, _ in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for _, process, log in reversed(self.processes):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            log.close()
        self.processes.clear()
        self.redis.stop()


def say(text: str) -> None:
    print(f"\033[1m==> {text}\033[0m", flush=True)


def main() -> int:
    data_dir = Path(os.environ.get("LANTERN_DATA_DIR") or ROOT / "var")
    demo = DemoProcesses(data_dir=data_dir)

    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        say(f"Starting the embedded Redis on {demo.redis.socket}")
        demo.start_redis()
        say("Preparing the database and demo data")
        demo.manage("migrate", "--noinput", "-v0")
        demo.manage("demo_data", "--simulator", f"rtsp://127.0.0.1:{demo.simulator_port}")
        say(f"Starting {demo.cameras} simulated cameras on rtsp://127.0.0.1:{demo.simulator_port}/cam1..")
        demo.start_simulator()
        say("Starting a Celery worker with beat")
        demo.start_worker()
        time.sleep(2)
        demo.manage("demo_data", "--probe")
        demo.manage("demo_data", "--print-logins")
        demo.start_web()
        demo.wait_for_web()
        say(f"Lantern is running on {demo.url} (Ctrl-C stops everything; logs in {data_dir})")
        name = demo.wait_any()
        say(f"The {name} process stopped; see {data_dir / (name + '.log')}. Stopping the rest.")
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        demo.stop()


if __name__ == "__main__":
    sys.exit(main())
