"""A real Celery worker killed in the middle of a segment's analysis: the redelivered task raises no alert twice."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest
from celery import Celery
from django.utils import timezone

from alerts.models import Alert, CameraAnalytics, Rule
from cameras.models import Camera
from tests.alerts.scenes import SIZE, Crossing, scene_frames, segment_write
from tests.cameras.recorded import segment_store
from tests.celery_worker import BROKER, needs_redis, pool_process
from tests.s3 import S3Endpoint

pytestmark = [
    needs_redis,
    pytest.mark.timeout(180),
]

SECONDS = 30.0
CROSSINGS = [
    Crossing(start_s=1.0, duration_s=4.0),
    Crossing(start_s=11.0, duration_s=4.0),
    Crossing(start_s=21.0, duration_s=4.0),
]


def test_a_worker_killed_mid_analysis_raises_each_alert_once_on_redelivery(
    transactional_db: None,
    worker,
    alice_camera: Camera,
    s3_storage: S3Endpoint,
    tmp_path: Path,
) -> None:
    process, queue = worker
    Rule.objects.create(
        camera=alice_camera, name="Sidewalk", kind="zone", zone=[[0, 0.5], [1, 0.5], [1, 1], [0, 1]], cooldown_s=0
    )
    width, height = SIZE
    path = segment_write(
        path=tmp_path / "three.mp4",
        frames=scene_frames(width=width, height=height, fps=15, seconds=SECONDS, crossings=CROSSINGS),
        fps=15,
    )
    segment = segment_store(
        camera=alice_camera, path=path, started_at=timezone.now() - timedelta(minutes=2), seconds=SECONDS
    )
    pool = pool_process(process)
    sender = Celery(broker=BROKER, set_as_current=False)
    sender.send_task("alerts.tasks.segment_analyse_task", args=[segment.pk], queue=queue, task_id="analyse-1")

    deadline = time.monotonic() + 60
    while not Alert.objects.filter(camera=alice_camera).exists():
        assert time.monotonic() < deadline, (tmp_path / "worker.log").read_text()
        time.sleep(0.02)
    pool.kill()
    analytics = CameraAnalytics.objects.get(camera=alice_camera)
    assert analytics.last_segment_end is None, "the worker finished before it could be killed"
    killed_with = Alert.objects.filter(camera=alice_camera).count()
    assert killed_with < len(CROSSINGS)

    deadline = time.monotonic() + 120
    while CameraAnalytics.objects.get(camera=alice_camera).last_segment_end is None:
        assert time.monotonic() < deadline, (tmp_path / "worker.log").read_text()
        time.sleep(0.2)

    alerts = Alert.objects.filter(camera=alice_camera, kind="zone")
    assert alerts.count() == len(CROSSINGS)
    assert len({a.track_id for a in alerts}) == len(CROSSINGS)
