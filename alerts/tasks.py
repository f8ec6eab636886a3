"""Celery tasks for alerts: analyse each recorded segment (late acks; alerts are unique per track and rule)."""

from __future__ import annotations

from celery import shared_task

from alerts import services
from cameras.storage import StorageUnavailable


# Late acks and reject-on-worker-lost (settings) deliver the segment again when a worker dies mid-analysis;
# the analysis then runs again from the state saved before it, finds the same tracks, and alert_raise's
# unique key turns each repeated hit into the alert already raised.
@shared_task(
    name="alerts.tasks.segment_analyse_task",
    ignore_result=True,
    autoretry_for=(StorageUnavailable,),
    retry_backoff=10,
    max_retries=10,
)
def segment_analyse_task(segment_id: int) -> None:
    services.segment_analyse(segment_id=segment_id)
