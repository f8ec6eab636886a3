"""Celery tasks for cameras: probe one camera, and fan out probes to every camera that is due."""

from __future__ import annotations

from celery import shared_task

from cameras import selectors, services
from cameras.models import Camera


@shared_task(ignore_result=True)
def camera_probe_task(camera_id: int) -> None:
    camera = Camera.objects.filter(pk=camera_id).select_related("business").first()
    if camera is None or camera.source != Camera.Source.PULL:
        return
    services.camera_probe(camera=camera)


@shared_task(ignore_result=True)
def cameras_probe_due() -> int:
    camera_ids = list(selectors.cameras_due_for_probe().values_list("id", flat=True))
    for camera_id in camera_ids:
        camera_probe_task.delay(camera_id)
    return len(camera_ids)
