"""Celery tasks for cameras: probes, retention of recorded segments, and evidence exports."""

from __future__ import annotations

import logging
from typing import Any

from celery import Task, shared_task

from cameras import selectors, services
from cameras.media.export import ExportError
from cameras.models import Camera
from cameras.storage import StorageUnavailable

logger = logging.getLogger(__name__)


@shared_task(name="cameras.tasks.camera_probe_task", ignore_result=True)
def camera_probe_task(camera_id: int) -> None:
    camera = Camera.objects.filter(pk=camera_id).select_related("business").first()
    if camera is None or camera.source != Camera.Source.PULL:
        return
    services.camera_probe(camera=camera)


@shared_task(name="cameras.tasks.cameras_probe_due", ignore_result=True)
def cameras_probe_due() -> int:
    camera_ids = list(selectors.cameras_due_for_probe().values_list("id", flat=True))
    for camera_id in camera_ids:
        camera_probe_task.delay(camera_id)
    return len(camera_ids)


@shared_task(
    name="cameras.tasks.camera_objects_delete_task",
    ignore_result=True,
    autoretry_for=(StorageUnavailable,),
    retry_backoff=30,
    max_retries=10,
)
def camera_objects_delete_task(camera_id: int, keys: list[str]) -> int:
    return services.camera_objects_delete(camera_id=camera_id, keys=keys)


@shared_task(
    name="cameras.tasks.segments_expire_task",
    ignore_result=True,
    autoretry_for=(StorageUnavailable,),
    retry_backoff=30,
    max_retries=10,
)
def segments_expire_task() -> int:
    return services.segments_expire()


# Late acks (settings) redeliver the message when a worker dies mid-export; the redelivered task keeps its
# id, which is the claim, so it takes the export back at once and goes on from the cameras already done.
@shared_task(name="cameras.tasks.evidence_export_task", bind=True, ignore_result=True, max_retries=8)
def evidence_export_task(self: Task[Any, Any], request_id: int) -> None:
    claim = self.request.id or f"eager-{request_id}"
    try:
        services.evidence_export(request_id=request_id, claim=claim)
    except StorageUnavailable as error:
        if self.request.retries >= (self.max_retries or 0):
            logger.error("evidence export of request %s gave up: storage unavailable: %s", request_id, error)
            services.evidence_export_failed(
                request_id=request_id, claim=claim, error="The storage could not be reached; try again later."
            )
            return
        raise self.retry(exc=error, countdown=min(600, 30 * 2**self.request.retries)) from error
    except ExportError as error:
        # Says which segment could not be read, in words meant for the people on the request's page.
        logger.exception("evidence export of request %s failed", request_id)
        services.evidence_export_failed(request_id=request_id, claim=claim, error=str(error))
    except Exception:
        # The text of an unexpected error may name paths and hosts; it stays in the log.
        logger.exception("evidence export of request %s failed", request_id)
        services.evidence_export_failed(
            request_id=request_id,
            claim=claim,
            error=f"The export failed unexpectedly (task {claim}); the operators have the details in the log.",
        )


@shared_task(name="cameras.tasks.evidence_exports_resume", ignore_result=True)
def evidence_exports_resume() -> int:
    """Queue exports approved but never started (a lost message) or whose worker's lease ran out."""
    request_ids = list(selectors.evidence_exports_stalled().values_list("id", flat=True))
    for request_id in request_ids:
        evidence_export_task.delay(request_id)
    return len(request_ids)


@shared_task(name="cameras.tasks.live_sessions_sweep_task", ignore_result=True)
def live_sessions_sweep_task() -> int:
    """Close live sessions whose relay stopped reporting them (it died, or lost them without a word)."""
    return services.live_sessions_sweep()
