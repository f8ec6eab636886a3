"""Queues: probes, exports and tips never wait behind video analysis. A real Celery worker, started as the demo
starts it (no -Q: every queue, in the settings' order), finds a long analysis backlog already queued and takes the
probe, the export and the tip first. The analysis backlog itself is bounded per camera."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from celery import Celery
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from alerts.models import CameraAnalytics
from alerts.services import segment_analyse
from cameras.models import Camera, Segment
from tests.celery_worker import _database_url, needs_redis

ROOT = Path(__file__).resolve().parent.parent
# A Redis database of its own (tests/celery_worker.py uses 13), flushed before each test.
BROKER = "redis://127.0.0.1:6379/12"
BACKLOG = 30

pytestmark = pytest.mark.timeout(300)


def test_every_kind_of_work_has_a_queue_ahead_of_analysis():
    queues = list(settings.CELERY_TASK_QUEUES)
    routes = settings.CELERY_TASK_ROUTES

    assert queues[-1] == "analysis"
    assert {"probes", "exports", "tips", "alerts"} <= set(queues)
    assert routes["alerts.tasks.segment_analyse_task"]["queue"] == "analysis"
    assert routes["cameras.tasks.camera_probe_task"]["queue"] == "probes"
    assert routes["cameras.tasks.evidence_export_task"]["queue"] == "exports"
    assert routes["tips.tasks.attachment_process_task"]["queue"] == "tips"


def _producer() -> Celery:
    """Sends to the broker (never eagerly), routed by the settings, as the web process and beat do."""
    # Not the current app: later tests would send their tasks to this broker instead of running them eagerly.
    app = Celery("lantern-test-producer", set_as_current=False)
    app.config_from_object("django.conf:settings", namespace="CELERY")
    app.conf.broker_url = BROKER
    app.conf.task_always_eager = False
    return app


@pytest.fixture
def broker() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(BROKER)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture
def start_worker(transactional_db, tmp_path: Path) -> Iterator[Callable[[], Path]]:
    started: list[subprocess.Popen[bytes]] = []
    log_path = tmp_path / "worker.log"

    def start() -> Path:
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"}
        env.pop("LANTERN_REDIS_URL", None)
        env.update(
            LANTERN_DATABASE_URL=_database_url(),
            LANTERN_CELERY_BROKER_URL=BROKER,
            LANTERN_DATA_DIR=str(tmp_path / "worker"),
            LANTERN_LOG_LEVEL="INFO",
        )
        log = log_path.open("w")
        command = [sys.executable, "-m", "celery", "-A", "config", "worker", "-c", "1", "-P", "prefork", "-l", "info"]
        started.append(
            subprocess.Popen(
                [*command, "--without-gossip", "--without-mingle"], cwd=ROOT, env=env, stdout=log, stderr=log
            )
        )
        return log_path

    yield start
    for process in started:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def _finished_tasks(log: Path) -> list[str]:
    """Task names in the order the worker finished them, from its log."""
    return re.findall(r"Task (\S+)\[[0-9a-f-]+\] (?:succeeded|raised|retry)", log.read_text())


@needs_redis
def test_a_probe_an_export_and_a_tip_are_not_stuck_behind_a_long_analysis_backlog(
    broker, start_worker, alice_camera: Camera
):
    producer = _producer()
    for n in range(BACKLOG):
        producer.send_task("alerts.tasks.segment_analyse_task", args=[10_000_000 + n])
    producer.send_task("cameras.tasks.camera_probe_task", args=[alice_camera.pk])
    producer.send_task("cameras.tasks.evidence_export_task", args=[10_000_000])
    producer.send_task("tips.tasks.attachment_process_task", args=[10_000_000])
    assert broker.llen("analysis") == BACKLOG

    log = start_worker()

    urgent = {
        "cameras.tasks.camera_probe_task",
        "cameras.tasks.evidence_export_task",
        "tips.tasks.attachment_process_task",
    }
    deadline = time.monotonic() + 120
    while not urgent <= set(_finished_tasks(log)):
        assert time.monotonic() < deadline, log.read_text()[-4000:]
        time.sleep(0.2)
    finished = _finished_tasks(log)
    analysed_before = [name for name in finished[: max(finished.index(name) for name in urgent)] if name not in urgent]
    # One pool process: at most the one analysis it had in hand when the urgent work arrived.
    assert len(analysed_before) <= 1, finished


def _segments(camera: Camera, count: int) -> list[Segment]:
    start = timezone.now() - timedelta(minutes=10)
    return [
        Segment.objects.create(
            camera=camera,
            key=f"cameras/{camera.pk}/backlog-{n}.mp4",
            started_at=start + timedelta(seconds=10 * n),
            ended_at=start + timedelta(seconds=10 * (n + 1)),
            size_bytes=1,
            sha256="0" * 64,
        )
        for n in range(count)
    ]


def test_a_camera_far_behind_skips_its_oldest_segments_and_counts_them_on_its_page(
    settings, alice_camera: Camera, client_for, alice
):
    settings.ANALYTICS_ENABLED = True
    settings.ANALYTICS_MAX_BACKLOG_SEGMENTS = 3
    segments = _segments(alice_camera, 6)

    # The oldest two have more than three newer segments waiting: skipped without being read.
    assert segment_analyse(segment_id=segments[0].pk) == 0
    assert segment_analyse(segment_id=segments[1].pk) == 0
    analytics = CameraAnalytics.objects.get(camera=alice_camera)
    assert analytics.segments_skipped == 2
    assert analytics.segment_skipped_at is not None
    assert analytics.last_segment_end is None

    page = client_for(alice).get(reverse("cameras:camera_detail", args=[alice_camera.pk]))
    assert "2 recorded segments skipped because the analysis fell behind" in page.content.decode()


def test_a_camera_keeping_up_shows_nothing_skipped(alice_camera: Camera, client_for: Client, alice):
    page = client_for(alice).get(reverse("cameras:camera_detail", args=[alice_camera.pk]))

    assert page.status_code == 200
    assert "skipped because the analysis fell behind" not in page.content.decode()
