"""Services for tip attachments: accept the tipster's files after the tip is saved, scrub them in a worker."""

from __future__ import annotations

import logging
import shutil
import tempfile
import uuid
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import F, Max, Q
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from cameras.storage import StorageUnavailable, file_sha256, object_delete, object_open, object_put
from tips.models import Tip, TipAttachment, TipMessage
from tips.scrub import IMAGE_FORMATS, VIDEO_FORMATS, Refused, ScrubResult, image_scrub, kind_of, sniff, video_scrub

logger = logging.getLogger(__name__)

_RAW_PREFIX = "tips/raw/"
_HEAD_BYTES = 32


def _max_attachments() -> int:
    return int(getattr(settings, "TIP_MAX_ATTACHMENTS", 5))


def _max_bytes(*, kind: str) -> int:
    if kind == TipAttachment.Kind.VIDEO:
        return int(getattr(settings, "TIP_MAX_VIDEO_MB", 200)) * 1024 * 1024
    return int(getattr(settings, "TIP_MAX_IMAGE_MB", 15)) * 1024 * 1024


def spool_dir() -> Path:
    """Where raw uploads wait on the web host's disk while storage is down (see attachments_spool_flush)."""
    configured = getattr(settings, "TIP_SPOOL_DIR", None)
    return Path(configured) if configured else Path(settings.DATA_DIR) / "tips-spool"


def _spool_path(*, raw_key: str) -> Path:
    return spool_dir() / raw_key.removeprefix(_RAW_PREFIX)


def attachments_accept(
    *, tip: Tip, files: Sequence[UploadedFile], message: TipMessage | None = None
) -> list[TipAttachment]:
    """Called once the tip (or follow-up) is saved: each file becomes an attachment, refused at once when its
    first bytes, size or count rule it out, otherwise kept raw under a random name and queued for scrubbing.

    Storage being down loses nothing: the raw upload is kept in a local spool and sent on later.
    """
    start = (TipAttachment.objects.filter(tip=tip).aggregate(last=Max("position"))["last"] or 0) + 1
    accepted: list[TipAttachment] = []
    stored_one = False
    with translation.override(tip.language):
        for offset, upload in enumerate(files):
            attachment = TipAttachment(tip=tip, message=message, position=start + offset)
            refusal = _refusal_at_the_door(upload=upload, index=offset)
            if refusal:
                attachment.state = TipAttachment.State.REFUSED
                attachment.refusal = refusal
                attachment.kind = _kind_or_blank(upload=upload)
                attachment.save()
                accepted.append(attachment)
                continue
            attachment.kind = _kind_or_blank(upload=upload)
            attachment.raw_key = f"{_RAW_PREFIX}{uuid.uuid4().hex}"
            attachment.size_bytes = upload.size or 0
            stored_one = _raw_keep(upload=upload, raw_key=attachment.raw_key) or stored_one
            attachment.save()
            _queue(attachment_id=attachment.pk)
            accepted.append(attachment)
    if stored_one:
        # Storage answers again: send on what an earlier outage left in the spool.
        transaction.on_commit(attachments_spool_flush, robust=True)
    return accepted


def _head(*, upload: UploadedFile) -> bytes:
    upload.seek(0)
    head = upload.read(_HEAD_BYTES)
    upload.seek(0)
    return head


def _kind_or_blank(*, upload: UploadedFile) -> str:
    fmt = sniff(head=_head(upload=upload))
    return kind_of(fmt=fmt) if fmt else ""


def _refusal_at_the_door(*, upload: UploadedFile, index: int) -> str:
    if index >= _max_attachments():
        return str(
            _("Only %(count)d files can be sent at once; this one was not kept.") % {"count": _max_attachments()}
        )
    if not upload.size:
        return str(_("This file is empty."))
    fmt = sniff(head=_head(upload=upload))
    if fmt not in IMAGE_FORMATS | VIDEO_FORMATS:
        return str(_("Only photos (JPEG, PNG, WebP, HEIC) and videos (MP4, MOV) can be sent; this file is neither."))
    assert fmt is not None
    kind = kind_of(fmt=fmt)
    limit = _max_bytes(kind=kind)
    if upload.size > limit:
        what = _("video") if kind == TipAttachment.Kind.VIDEO else _("photo")
        return str(_("This %(what)s is larger than %(mb)d MB.") % {"what": what, "mb": limit // (1024 * 1024)})
    return ""


def _raw_keep(*, upload: UploadedFile, raw_key: str) -> bool:
    """Store the raw upload; True when storage took it, False when it went to the spool instead."""
    with tempfile.TemporaryDirectory(prefix="tip-upload-") as tmp:
        path = Path(tmp) / "raw"
        upload.seek(0)
        with path.open("wb") as out:
            for chunk in upload.chunks():
                out.write(chunk)
        try:
            object_put(name=raw_key, path=path, sha256=file_sha256(path=path), content_type="application/octet-stream")
            return True
        except StorageUnavailable:
            logger.warning("storage unavailable; tip attachment %s spooled locally", raw_key)
            target = _spool_path(raw_key=raw_key)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(path), target)
            return False


def _queue(*, attachment_id: int) -> None:
    from tips.tasks import attachment_process_task

    # robust: a broker that is down (or an eager task that keeps failing) must not undo the saved tip;
    # attachments_retry picks such attachments up again.
    transaction.on_commit(lambda: attachment_process_task.delay(attachment_id), robust=True)


def attachment_process(*, attachment_id: int) -> TipAttachment:
    """Scrub one raw upload into the attachment's file; refusal and storage outages are both recorded.

    Safe to run twice (a redelivered task): the scrubbed name comes from the raw one, so a repeat replaces it.
    """
    attachment = TipAttachment.objects.select_related("tip").get(pk=attachment_id)
    if attachment.state in (TipAttachment.State.READY, TipAttachment.State.REFUSED) or not attachment.raw_key:
        return attachment
    try:
        with translation.override(attachment.tip.language), tempfile.TemporaryDirectory(prefix="tip-scrub-") as tmp:
            raw = _raw_fetch(raw_key=attachment.raw_key, into=Path(tmp) / "raw")
            try:
                result = _scrub(source=raw, target=Path(tmp) / "scrubbed")
            except Refused as refused:
                attachment.state = TipAttachment.State.REFUSED
                attachment.refusal = refused.message[:300]
                attachment.save(update_fields=["state", "refusal"])
                _raw_discard(attachment=attachment)
                return attachment
            scrubbed = Path(tmp) / "scrubbed"
            name = f"tips/{attachment.raw_key.removeprefix(_RAW_PREFIX)}.{result.extension}"
            sha256 = file_sha256(path=scrubbed)
            object_put(name=name, path=scrubbed, sha256=sha256, content_type=result.content_type)
            attachment.file.name = name
            attachment.kind = result.kind
            attachment.content_type = result.content_type
            attachment.size_bytes = scrubbed.stat().st_size
            attachment.sha256 = sha256
            attachment.state = TipAttachment.State.READY
            attachment.refusal = ""
            attachment.save(update_fields=["file", "kind", "content_type", "size_bytes", "sha256", "state", "refusal"])
    except StorageUnavailable:
        # Only a row still waiting: a redelivered copy of this task may have finished it meanwhile (and taken the
        # raw upload with it, which is what made this one fail).
        TipAttachment.objects.filter(
            pk=attachment.pk, state__in=[TipAttachment.State.PENDING, TipAttachment.State.FAILED]
        ).update(attempts=F("attempts") + 1, state=TipAttachment.State.FAILED)
        raise
    _raw_discard(attachment=attachment)
    return attachment


def _scrub(*, source: Path, target: Path) -> ScrubResult:
    with source.open("rb") as f:
        fmt = sniff(head=f.read(_HEAD_BYTES))
    if fmt in VIDEO_FORMATS:
        return video_scrub(source=source, target=target)
    if fmt in IMAGE_FORMATS:
        return image_scrub(source=source, target=target)
    raise Refused(
        str(_("Only photos (JPEG, PNG, WebP, HEIC) and videos (MP4, MOV) can be sent; this file is neither."))
    )


def _raw_fetch(*, raw_key: str, into: Path) -> Path:
    spooled = _spool_path(raw_key=raw_key)
    if spooled.exists():
        return spooled
    try:
        with object_open(name=raw_key) as stream, into.open("wb") as out:
            shutil.copyfileobj(stream, out, 1024 * 1024)
    except StorageUnavailable:
        raise
    except Exception as error:
        # Missing here means the web host's spool still holds it (storage was down when it came in) and
        # attachments_spool_flush has not sent it yet; a broken download is an outage too. Both: try later.
        raise StorageUnavailable(f"raw upload {raw_key} not readable yet: {error}") from error
    return into


def _raw_discard(*, attachment: TipAttachment) -> None:
    """The raw upload still carries the metadata: it goes once processed (from the spool and from storage)."""
    _spool_path(raw_key=attachment.raw_key).unlink(missing_ok=True)
    try:
        object_delete(name=attachment.raw_key)
    except StorageUnavailable:
        # Keep raw_key so attachments_retry can delete it later; the scrubbed file is already safe.
        logger.warning("could not delete raw tip upload %s; will retry", attachment.raw_key)
        return
    TipAttachment.objects.filter(pk=attachment.pk).update(raw_key="")
    attachment.raw_key = ""


def attachments_spool_flush() -> int:
    """Send raw uploads spooled during an outage on to storage and queue their scrubbing; returns how many.

    It runs on the host that holds the spool (the web process, after its next successful upload, and
    attachments_retry where the worker shares the data folder); where storage is still down it stops.
    """
    directory = spool_dir()
    if not directory.is_dir():
        return 0
    sent = 0
    for path in sorted(directory.iterdir()):
        raw_key = f"{_RAW_PREFIX}{path.name}"
        attachment = TipAttachment.objects.filter(raw_key=raw_key).first()
        if attachment is None or attachment.state in (TipAttachment.State.READY, TipAttachment.State.REFUSED):
            path.unlink(missing_ok=True)  # nothing waits for it (tip deleted, or already processed)
            continue
        try:
            object_put(name=raw_key, path=path, sha256=file_sha256(path=path), content_type="application/octet-stream")
        except StorageUnavailable:
            return sent
        path.unlink(missing_ok=True)
        TipAttachment.objects.filter(pk=attachment.pk).update(queued_at=timezone.now())
        _queue(attachment_id=attachment.pk)
        sent += 1
    return sent


def attachments_retry() -> int:
    """Queue again the attachments storage outages left failed and those whose task message was lost (pending for
    longer than TIP_ATTACHMENT_PENDING_RETRY_S), give up on those queued again too often, and delete raw uploads
    left behind; returns how many were queued (for a periodic task)."""
    attachments_spool_flush()
    now = timezone.now()
    stale = now - timedelta(seconds=int(settings.TIP_ATTACHMENT_PENDING_RETRY_S))
    waiting = TipAttachment.objects.filter(
        Q(state=TipAttachment.State.FAILED) | Q(state=TipAttachment.State.PENDING, queued_at__lt=stale)
    ).select_related("tip")
    queued = 0
    for attachment in waiting:
        if attachment.requeues >= int(settings.TIP_ATTACHMENT_MAX_REQUEUES):
            _give_up(attachment=attachment)
            continue
        # Only a row still waiting as we saw it: a worker may have finished it since the query.
        claimed = TipAttachment.objects.filter(pk=attachment.pk, state=attachment.state, requeues=attachment.requeues)
        if claimed.update(requeues=F("requeues") + 1, queued_at=now):
            _queue(attachment_id=attachment.pk)
            queued += 1
    for attachment in TipAttachment.objects.filter(
        state__in=[TipAttachment.State.READY, TipAttachment.State.REFUSED]
    ).exclude(raw_key=""):
        _raw_discard(attachment=attachment)
    return queued


def _give_up(*, attachment: TipAttachment) -> None:
    """An attachment that no worker could finish after many tries: its raw upload (which still carries the
    metadata) goes, and the tipster reads on their thread that the file was not kept and may be sent again."""
    with translation.override(attachment.tip.language):
        refusal = str(_("This file could not be processed and was not kept. Please send it again."))
    given_up = TipAttachment.objects.filter(
        pk=attachment.pk, state__in=[TipAttachment.State.PENDING, TipAttachment.State.FAILED]
    ).update(state=TipAttachment.State.REFUSED, refusal=refusal[:300])
    if not given_up:
        return  # finished meanwhile
    logger.warning("gave up on tip attachment %s after %s tries", attachment.pk, attachment.requeues)
    if attachment.raw_key:
        _raw_discard(attachment=attachment)  # kept for the loop above to retry if storage is down
