"""A real Celery worker for the tests that kill one: its own process, queue and Redis database, against the
test's database and S3 bucket."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from django.conf import settings
from django.db import connection

from tests.s3 import ACCESS_KEY, REGION, SECRET_KEY, S3Endpoint

ROOT = Path(__file__).resolve().parents[1]
# A Redis database of its own, so that no other test's queue or the CI run's own broker meets these messages.
BROKER = "redis://127.0.0.1:6379/13"


def redis_answers() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=0.5).close()
    except OSError:
        return False
    return True


def _database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def worker(s3_storage: S3Endpoint, tmp_path: Path) -> Iterator[tuple[psutil.Process, str]]:
    """`celery worker` with one pool process, on a queue of its own, against this test's database and bucket."""
    queue = f"export-test-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "LANTERN_DATABASE_URL": _database_url(),
        "LANTERN_CELERY_BROKER_URL": BROKER,
        "LANTERN_CELERY_VISIBILITY_TIMEOUT_S": "5",
        "LANTERN_DATA_DIR": str(tmp_path / "worker"),
        # The test's own key: the worker signs manifests and reads stream credentials as the web side does.
        "LANTERN_SECRET_KEY": settings.SECRET_KEY,
        "LANTERN_S3_BUCKET": s3_storage.bucket,
        "LANTERN_S3_ENDPOINT_URL": s3_storage.url,
        "LANTERN_S3_REGION": REGION,
        "LANTERN_S3_ACCESS_KEY_ID": ACCESS_KEY,
        "LANTERN_S3_SECRET_ACCESS_KEY": SECRET_KEY,
        "LANTERN_LOG_LEVEL": "WARNING",
    }
    env.pop("LANTERN_REDIS_URL", None)
    log = (tmp_path / "worker.log").open("w")
    command = [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", queue, "-c", "1", "-P", "prefork"]
    process = subprocess.Popen(
        [*command, "--without-gossip", "--without-mingle"], cwd=ROOT, env=env, stdout=log, stderr=log
    )
    try:
        yield psutil.Process(process.pid), queue
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


needs_redis = pytest.mark.skipif(not redis_answers(), reason="needs Redis on 127.0.0.1:6379 (CI has it)")


def pool_process(worker: psutil.Process, *, timeout_s: float = 30) -> psutil.Process:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        children = worker.children()
        if children:
            return children[0]
        time.sleep(0.1)
    raise AssertionError("the worker started no pool process")
