"""Moves completed segments from the local spool to storage, per camera in order and exactly once, through outages."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol

from cameras.media.recorder import (
    CONTENT_TYPE,
    PART_SUFFIX,
    SEGMENT_SUFFIX,
    SIDECAR_SUFFIX,
    SpooledSegment,
    spool_camera_dir,
    spool_segments,
)
from cameras.storage import StorageUnavailable, object_delete, object_put, segment_key

logger = logging.getLogger(__name__)


class Register(Protocol):
    """Records an uploaded segment under its object name; False when its camera no longer exists."""

    async def __call__(self, *, segment: SpooledSegment, key: str) -> bool: ...


# Past this much footage waiting in the spool, storage has been away for long (about 2 hours of one
# 4 Mbit/s camera); we say so loudly, and keep every byte: deleting footage is never ours to decide.
SPOOL_WARN_BYTES = 4 * 2**30
_SPOOL_CHECK_EVERY_S = 60.0


class Uploader:
    """Uploads each camera's spooled segments oldest first, registers them, then deletes them from the spool.

    Exactly once: a segment's object name comes from its camera and start time, an upload replaces what is
    under that name, and `register` is idempotent on the name. So a crash between upload and register, or
    between register and deleting the spool files, only makes the next attempt (in this process or the next,
    which finds the files still in the spool) repeat a step whose result is already there.

    While storage is unavailable a camera's oldest segment is retried with capped backoff and nothing after
    it goes first; other cameras wait on their own oldest.
    """

    def __init__(
        self,
        *,
        spool_dir: Path,
        register: Register,
        concurrency: int = 2,
        backoff_first_s: float = 1.0,
        backoff_max_s: float = 30.0,
        spool_warn_bytes: int = SPOOL_WARN_BYTES,
    ) -> None:
        self.spool_dir = spool_dir
        self.uploaded = 0
        self._register = register
        # Uploads run on threads of their own, `concurrency` at most: the S3 storage keeps a boto3 client per
        # thread (tens of MB each), so sharing asyncio's default executor would grow one on each of its threads.
        self._uploads = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="segment-upload")
        self._backoff_first_s = backoff_first_s
        self._backoff_max_s = backoff_max_s
        self._spool_warn_bytes = spool_warn_bytes
        self._spool_checked_at = 0.0
        self._drains: dict[int, asyncio.Task[None]] = {}
        # Set by segment_spooled while a drain may be between listing the spool and finishing: it looks again.
        self._dirty: set[int] = set()
        self._idle = asyncio.Event()
        self._idle.set()
        self._closed = False

    async def start(self) -> None:
        """Picks up what a previous process left in the spool."""
        cameras, leftovers = await asyncio.to_thread(self._spool_scan)
        if leftovers:
            # A crash mid-segment: the file may be readable up to its last fragment, but it has no hash and
            # no end time, so it is not uploaded. It stays for someone to look at.
            logger.warning(
                "recording spool: %d incomplete files from an earlier run left in place, e.g. %s",
                len(leftovers),
                leftovers[0],
            )
        for camera_id in cameras:
            self._drain_start(camera_id)
        await self._spool_check()

    def segment_spooled(self, segment: SpooledSegment) -> None:
        """A recorder finished a segment (called on the event loop)."""
        self._drain_start(segment.camera_id)
        # Counting the spool walks every file in it; once a minute is often enough to notice it growing.
        if time.monotonic() - self._spool_checked_at > _SPOOL_CHECK_EVERY_S:
            task = asyncio.ensure_future(self._spool_check())
            task.add_done_callback(_log_failure)

    def pending_cameras(self) -> set[int]:
        return {camera_id for camera_id, task in self._drains.items() if not task.done()}

    async def idle(self, *, timeout_s: float) -> bool:
        """Whether every spooled segment known so far was delivered within timeout_s."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout=timeout_s)
        except TimeoutError:
            return False
        return True

    async def close(self, *, timeout_s: float = 3.0) -> None:
        """Lets deliveries under way finish for up to timeout_s, then stops; what is left stays spooled."""
        self._closed = True
        await self.idle(timeout_s=timeout_s)
        tasks = list(self._drains.values())
        for task in tasks:
            task.cancel()
        # A drain that failed was logged when it ended.
        await asyncio.gather(*tasks, return_exceptions=True)
        # An upload under way finishes on its thread; the next process finds its files still spooled.
        self._uploads.shutdown(wait=False, cancel_futures=True)

    def _drain_start(self, camera_id: int) -> None:
        if self._closed:
            return
        self._dirty.add(camera_id)
        task = self._drains.get(camera_id)
        if task is None or task.done():
            self._idle.clear()
            task = asyncio.ensure_future(self._drain(camera_id))
            task.add_done_callback(self._drain_done)
            self._drains[camera_id] = task

    def _drain_done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            logger.error("recording upload stopped", exc_info=task.exception())
        if all(t.done() for t in self._drains.values()):
            self._idle.set()

    async def _drain(self, camera_id: int) -> None:
        while camera_id in self._dirty:
            self._dirty.discard(camera_id)
            segments = await asyncio.to_thread(spool_segments, spool_dir=self.spool_dir, camera_id=camera_id)
            for segment in segments:
                await self._deliver_until_done(segment)

    async def _deliver_until_done(self, segment: SpooledSegment) -> None:
        backoff = self._backoff_first_s
        failures = 0
        while True:
            try:
                await self._deliver(segment)
                if failures:
                    logger.warning(
                        "camera %s: segment %s stored after %d failed attempts",
                        segment.camera_id,
                        segment.path.name,
                        failures,
                    )
                return
            except StorageUnavailable as exc:
                failures += 1
                # Once loudly, then quietly: an outage would otherwise log every few seconds per camera.
                log = logger.warning if failures == 1 else logger.info
                log(
                    "camera %s: storage unavailable (%s); segment %s stays spooled, retrying in %.1f s",
                    segment.camera_id,
                    exc,
                    segment.path.name,
                    backoff,
                )
            except Exception:  # the database, a full disk, a bug: never skip ahead of this segment
                failures += 1
                logger.exception(
                    "camera %s: could not deliver segment %s; retrying in %.1f s",
                    segment.camera_id,
                    segment.path.name,
                    backoff,
                )
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self._backoff_max_s)

    async def _deliver(self, segment: SpooledSegment) -> None:
        key = segment_key(camera_id=segment.camera_id, started_at=segment.started_at)
        if not await asyncio.to_thread(segment.path.exists):
            # Deleted after it was registered, and the process ended before its sidecar went too.
            await asyncio.to_thread(_unlink, segment.sidecar)
            return
        await self._storage(
            functools.partial(object_put, name=key, path=segment.path, sha256=segment.sha256, content_type=CONTENT_TYPE)
        )
        if not await self._register(segment=segment, key=key):
            logger.warning(
                "camera %s was removed; its segment %s is deleted from storage and the spool",
                segment.camera_id,
                key,
            )
            await self._storage(functools.partial(object_delete, name=key))
        # The video first, then the sidecar that says it is complete: a crash in between leaves a sidecar
        # without its video, which the check above recognises as already delivered.
        await asyncio.to_thread(_unlink, segment.path)
        await asyncio.to_thread(_unlink, segment.sidecar)
        self.uploaded += 1

    async def _storage(self, call: Callable[[], object]) -> None:
        await asyncio.get_running_loop().run_in_executor(self._uploads, call)

    def _spool_scan(self) -> tuple[list[int], list[Path]]:
        cameras: list[int] = []
        leftovers: list[Path] = []
        if not self.spool_dir.is_dir():
            return cameras, leftovers
        for folder in sorted(self.spool_dir.iterdir()):
            if not (folder.is_dir() and folder.name.isdigit()):
                continue
            camera_id = int(folder.name)
            names = {p.name for p in folder.iterdir()}
            if any(n.endswith(SIDECAR_SUFFIX) for n in names):
                cameras.append(camera_id)
            for name in sorted(names):
                unfinished = name.endswith(PART_SUFFIX)
                unmarked = name.endswith(SEGMENT_SUFFIX) and name[: -len(SEGMENT_SUFFIX)] + SIDECAR_SUFFIX not in names
                if unfinished or unmarked:
                    leftovers.append(folder / name)
        return cameras, leftovers

    async def _spool_check(self) -> None:
        self._spool_checked_at = time.monotonic()
        size = await asyncio.to_thread(_tree_size, self.spool_dir)
        if size > self._spool_warn_bytes:
            logger.error(
                "recording spool %s holds %.1f GB waiting for storage (warning above %.1f GB); nothing is"
                " deleted, so the disk will fill if storage stays away",
                self.spool_dir,
                size / 1e9,
                self._spool_warn_bytes / 1e9,
            )


def spool_size(*, spool_dir: Path, camera_id: int | None = None) -> int:
    """Bytes in the spool, for one camera or all."""
    folder = spool_dir if camera_id is None else spool_camera_dir(spool_dir=spool_dir, camera_id=camera_id)
    return _tree_size(folder)


def _tree_size(folder: Path) -> int:
    total = 0
    if not folder.is_dir():
        return 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            with contextlib.suppress(FileNotFoundError):  # delivered while we counted
                total += os.stat(os.path.join(root, name)).st_size
    return total


def _unlink(path: Path) -> None:
    path.unlink(missing_ok=True)


def _log_failure(task: asyncio.Future[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("recording spool check failed", exc_info=task.exception())
