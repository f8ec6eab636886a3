"""Runs the relay's sources, the recorders and the uploader alone in a process, driven by JSON lines on stdin.

bench/recorder.py starts it with RecorderProcess; it prints `READY` once Django is set up. Each request is
one JSON line on stdin and gets one JSON line back on stdout:
  {"op": "record", "cameras": {"1": "rtsp://..."}}  -> {"ok": true}   (exactly these cameras from now on)
  {"op": "read", "cameras": {...}}  -> {"ok": true}   (the sources only, each with a subscriber that does nothing)
  {"op": "status"} -> {"ok": true, "segments": 12, "bytes": ..., "seconds": ..., "dropped": 0, "spooled": 1, ...}
Closing stdin stops it, each recorder finishing its segment.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

RECORDER_HOST = Path(__file__).resolve()


def django_configure(*, data_dir: Path, s3_endpoint: str, s3_bucket: str) -> None:
    """The deployment's settings, from the environment as a deployment gives them: local files or S3."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    os.environ["LANTERN_DATA_DIR"] = str(data_dir)
    if s3_bucket:
        os.environ.update(
            {
                "LANTERN_S3_BUCKET": s3_bucket,
                "LANTERN_S3_ENDPOINT_URL": s3_endpoint,
                "LANTERN_S3_REGION": "us-east-1",
                "LANTERN_S3_ACCESS_KEY_ID": "testing",
                "LANTERN_S3_SECRET_ACCESS_KEY": "testing",
            }
        )
    import django

    django.setup()


class _Reader:
    """Reads a camera and does nothing with it: the cost of the source alone, for comparison."""

    def unit_push(self, unit: Any) -> None:
        pass

    def source_state_changed(self, state: str) -> None:
        pass


class RecorderHost:
    def __init__(self, *, spool: Path, segment_s: float) -> None:
        from cameras.media.recorder import Recordings
        from cameras.media.relay import Relay
        from cameras.media.uploader import Uploader

        self.relay = Relay(ice_host_addresses=["127.0.0.1"], grace_s=0.5)
        self.uploader = Uploader(spool_dir=spool, register=self.register)
        self.recordings = Recordings(
            relay=self.relay, spool_dir=spool, segment_s=segment_s, on_segment=self.uploader.segment_spooled
        )
        self.spool = spool
        self.readers: dict[int, Any] = {}
        self.segments = 0
        self.bytes = 0
        self.seconds = 0.0
        self.frames = 0
        self.durations: list[float] = []

    async def register(self, *, segment: Any, key: str) -> bool:
        # The database's part (one INSERT per segment) is left out; everything up to it is measured.
        self.segments += 1
        self.bytes += segment.size_bytes
        duration = (segment.ended_at - segment.started_at).total_seconds()
        self.seconds += duration
        self.frames += segment.frames
        self.durations.append(duration)
        return True

    async def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        from cameras.media.uploader import spool_size

        op = request.get("op")
        cameras = {int(k): v for k, v in request.get("cameras", {}).items()}
        if op == "record":
            await self.readers_set({})
            await self.recordings.reconcile(wanted=cameras)
            return {"ok": True}
        if op == "read":
            await self.recordings.reconcile(wanted={})
            await self.readers_set(cameras)
            return {"ok": True}
        if op == "status":
            dropped = sum(r.dropped for c in self.recordings.camera_ids() if (r := self.recordings.recorder(c)))
            return {
                "ok": True,
                "segments": self.segments,
                "bytes": self.bytes,
                "seconds": self.seconds,
                "frames": self.frames,
                "durations": self.durations[-50:],
                "dropped": dropped,
                "spool_bytes": await asyncio.to_thread(spool_size, spool_dir=self.spool),
                "pending_cameras": len(self.uploader.pending_cameras()),
            }
        return {"ok": False, "error": f"unknown op {op!r}"}

    async def readers_set(self, cameras: dict[int, str]) -> None:
        for camera_id in [c for c in self.readers if c not in cameras]:
            source, reader = self.readers.pop(camera_id)
            source.unsubscribe(reader)
            self.relay.source_release(source)
        for camera_id, url in cameras.items():
            if camera_id not in self.readers:
                source = self.relay.source_acquire(camera_id=camera_id, url=url)
                reader = _Reader()
                source.subscribe(reader)
                self.readers[camera_id] = (source, reader)

    async def close(self) -> None:
        await self.readers_set({})
        await self.recordings.close()
        await self.uploader.idle(timeout_s=15)
        await self.uploader.close(timeout_s=1)
        await self.relay.close()


async def main_async(*, spool: Path, segment_s: float) -> None:
    host = RecorderHost(spool=spool, segment_s=segment_s)
    await host.uploader.start()
    loop = asyncio.get_running_loop()
    stdin = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    print("READY", flush=True)
    while line := await stdin.readline():
        try:
            reply = await host.handle(json.loads(line))
        except Exception as exc:  # reported to the benchmark, which stops with it
            logging.getLogger(__name__).exception("request failed")
            reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        print(json.dumps(reply), flush=True)
    await host.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--segment", type=float, default=10.0)
    parser.add_argument("--s3-endpoint", default="")
    parser.add_argument("--s3-bucket", default="")
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop")
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args()
    logging.basicConfig(level=args.log_level, format="recorder %(asctime)s %(levelname)s %(name)s: %(message)s")
    django_configure(data_dir=args.data_dir, s3_endpoint=args.s3_endpoint, s3_bucket=args.s3_bucket)
    spool = args.data_dir / "spool"
    if args.loop == "uvloop":
        import uvloop

        uvloop.run(main_async(spool=spool, segment_s=args.segment))
    else:
        asyncio.run(main_async(spool=spool, segment_s=args.segment))
    return 0


if __name__ == "__main__":
    sys.exit(main())


class RecorderProcess:
    """bench/_recorder_host.py in a subprocess; its stdin staying open keeps it alive."""

    def __init__(
        self,
        *,
        data_dir: Path,
        segment_s: float,
        loop: str,
        log: Path,
        s3_endpoint: str = "",
        s3_bucket: str = "",
        env: dict[str, str] | None = None,
    ) -> None:
        import subprocess

        self._log = log.open("wb")
        command = [
            sys.executable,
            str(RECORDER_HOST),
            "--data-dir",
            str(data_dir),
            "--segment",
            str(segment_s),
            "--loop",
            loop,
        ]
        if s3_bucket:
            command += ["--s3-endpoint", s3_endpoint, "--s3-bucket", s3_bucket]
        environment = {**os.environ, **(env or {})}
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, env=environment
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline().decode().strip()
        if line != "READY":
            self.stop()
            raise RuntimeError(f"the recorder host did not start: {line!r}; see {log}")

    @property
    def pid(self) -> int:
        return self.process.pid

    def request(self, **request: Any) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps(request).encode() + b"\n")
        self.process.stdin.flush()
        reply = json.loads(self.process.stdout.readline())
        if not reply.get("ok"):
            raise RuntimeError(f"the recorder host refused {request.get('op')}: {reply.get('error')}")
        return reply  # type: ignore[no-any-return]

    def stop(self) -> None:
        import subprocess

        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._log.close()
