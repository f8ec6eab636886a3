"""A real S3-compatible HTTP server on loopback for the storage tests: moto's server mode, one bucket per test."""

from __future__ import annotations

import logging
import os
import runpy
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from unittest import mock

import boto3
from moto.server import ThreadedMotoServer

ACCESS_KEY = "testing"
SECRET_KEY = "testing"
REGION = "us-east-1"
SETTINGS_FILE = Path(__file__).resolve().parent.parent / "config" / "settings.py"


@dataclass(frozen=True)
class S3Endpoint:
    url: str
    bucket: str

    def client(self) -> Any:
        """A boto3 client of its own, so that a test can look in the bucket without going through Django."""
        return boto3.client(
            "s3",
            endpoint_url=self.url,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name=REGION,
        )

    def with_new_bucket(self, *, object_lock: bool = True) -> S3Endpoint:
        """The same server with a bucket of its own, so tests sharing a server never see each other's files."""
        endpoint = replace(self, bucket=f"lantern-test-{uuid.uuid4().hex[:12]}")
        endpoint.client().create_bucket(Bucket=endpoint.bucket, ObjectLockEnabledForBucket=object_lock)
        return endpoint

    def storage_setting(self) -> dict[str, Any]:
        """STORAGES["default"] as config/settings.py builds it from LANTERN_S3_*, aimed at this bucket.

        The settings file itself is run, rather than its OPTIONS copied here, so that these tests
        exercise what a deployment gets.
        """
        env = {
            "LANTERN_S3_BUCKET": self.bucket,
            "LANTERN_S3_ENDPOINT_URL": self.url,
            "LANTERN_S3_REGION": REGION,
            "LANTERN_S3_ACCESS_KEY_ID": ACCESS_KEY,
            "LANTERN_S3_SECRET_ACCESS_KEY": SECRET_KEY,
            "LANTERN_S3_ADDRESSING_STYLE": "path",
        }
        with mock.patch.dict(os.environ, env):
            for name in ("LANTERN_S3_ACCESS_KEY_ID_FILE", "LANTERN_S3_SECRET_ACCESS_KEY_FILE"):
                os.environ.pop(name, None)
            loaded = runpy.run_path(str(SETTINGS_FILE))
        return loaded["STORAGES"]["default"]


@contextmanager
def s3_server(*, object_lock: bool = True) -> Iterator[S3Endpoint]:
    """Start moto on 127.0.0.1 at a free port with a fresh bucket; stop it and forget its state on exit."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    # werkzeug logs every request at INFO, which buries a failing test's own output.
    werkzeug_log = logging.getLogger("werkzeug")
    level = werkzeug_log.level
    werkzeug_log.setLevel(logging.WARNING)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    try:
        yield S3Endpoint(url=url, bucket="").with_new_bucket(object_lock=object_lock)
    finally:
        # moto keeps its buckets in module-level state that outlives the server thread; reset it so
        # the next server (or a mock_aws test in the same process) starts empty.
        reset = urllib.request.Request(f"{url}/moto-api/reset", method="POST")
        urllib.request.urlopen(reset, timeout=5).close()
        server.stop()
        werkzeug_log.setLevel(level)
