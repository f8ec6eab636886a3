"""Celery tasks for tips: scrub each attachment (late acks; retried while storage is down)."""

from __future__ import annotations

from celery import shared_task

from cameras.storage import StorageUnavailable
from tips import attachments


# Late acks (settings) deliver an attachment again when a worker dies mid-scrub; attachment_process skips
# finished ones and writes the scrubbed file under a name fixed by the raw one, so a repeat is harmless.
@shared_task(
    name="tips.tasks.attachment_process_task",
    ignore_result=True,
    acks_late=True,
    autoretry_for=(StorageUnavailable,),
    retry_backoff=10,
    retry_backoff_max=600,
    max_retries=12,
)
def attachment_process_task(attachment_id: int) -> None:
    attachments.attachment_process(attachment_id=attachment_id)


# For the beat schedule: retries what outages left failed once a task's own retries ran out.
@shared_task(name="tips.tasks.attachments_retry_task", ignore_result=True)
def attachments_retry_task() -> None:
    attachments.attachments_retry()
