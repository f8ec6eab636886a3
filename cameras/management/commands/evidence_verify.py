"""`manage.py evidence_verify <request id>`: recomputes every hash of an exported request and checks its signature."""

from __future__ import annotations

import contextlib
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from cameras.manifest import manifest_signature_valid, signing_public_key_pem
from cameras.models import EvidenceItem, EvidenceRequest, Segment
from cameras.services import evidence_verified_record
from cameras.storage import StorageUnavailable, object_exists, object_open, stream_sha256
from community.models import User

OK = "OK"
MISMATCH = "MISMATCH"
MISSING = "MISSING"


@dataclass(frozen=True)
class Check:
    status: str  # OK, MISMATCH or MISSING
    what: str
    detail: str
    fails: bool

    def line(self) -> str:
        return f"{self.status:<9} {self.what}: {self.detail}"


class Command(BaseCommand):
    help = (
        "Check an exported evidence request: the manifest's hash and signature, and the SHA-256 of every "
        "exported file and of every source segment still in storage. Exits non-zero when anything fails."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("request_id", type=int, help="The evidence request's number.")
        parser.add_argument("--by", metavar="EMAIL", help="Who is verifying, for the chain of custody.")

    def handle(self, *args: Any, **options: Any) -> None:
        request = EvidenceRequest.objects.filter(pk=options["request_id"]).first()
        if request is None:
            raise CommandError(f"There is no evidence request {options['request_id']}.")
        if not request.manifest_key:
            raise CommandError(f"Evidence request {request.pk} has not been exported ({request.get_state_display()}).")
        by = None
        if options["by"]:
            by = User.objects.filter(email__iexact=options["by"]).first()
            if by is None:
                raise CommandError(f"There is no user {options['by']}.")

        exported = f"{request.exported_at:%Y-%m-%d %H:%M:%S %Z}" if request.exported_at else "at an unknown time"
        self.stdout.write(f"Evidence request {request.pk}, case {request.case_number}, exported {exported}")
        try:
            checks = evidence_checks(request=request)
        except StorageUnavailable as error:
            # Not a verdict: nothing is known about the evidence, so nothing goes in its chain of custody.
            raise CommandError(f"The store cannot be reached, so nothing was verified; try again: {error}") from error
        for check in checks:
            self.stdout.write(check.line())

        failed = [check for check in checks if check.fails]
        passed = sum(1 for check in checks if check.status == OK)
        gone = len(checks) - len(failed) - passed
        note = f"; {gone} source segment(s) no longer in storage" if gone else ""
        if failed:
            verdict = f"FAILED: {len(failed)} of {len(checks)} checks failed{note}."
        elif gone:
            verdict = f"VERIFIED: {passed} checks passed{note}."
        else:
            verdict = f"VERIFIED: all {passed} checks passed."
        self.stdout.write(verdict)
        evidence_verified_record(
            request=request, by=by, ok=not failed, details="\n".join([verdict, *(c.line() for c in failed)])
        )
        if failed:
            raise CommandError(f"Evidence request {request.pk} failed verification.")


def evidence_checks(*, request: EvidenceRequest) -> list[Check]:
    """Every check of an exported request, in the order they are printed; reads storage, writes nothing."""
    checks, manifest = _manifest_checks(request=request)
    items = {item.key: item for item in request.items.all()}
    entries: dict[str, dict[str, Any]] = {}
    if manifest is not None:
        entries = {entry.get("key", ""): entry for entry in manifest.get("items", []) if isinstance(entry, dict)}
    for key in sorted(items.keys() | entries.keys()):
        item, entry = items.get(key), entries.get(key)
        checks.append(_item_check(key=key, item=item, entry=entry, manifest_read=manifest is not None))
        # The signed manifest's list of sources is the one to trust; the database's is the fallback.
        sources = entry.get("sources", []) if entry is not None else (item.sources if item is not None else [])
        checks += [_source_check(source=source) for source in sources if isinstance(source, dict)]
    return checks


def _manifest_checks(*, request: EvidenceRequest) -> tuple[list[Check], dict[str, Any] | None]:
    what = f"manifest {request.manifest_key}"
    if not object_exists(name=request.manifest_key):
        return [Check(MISSING, what, "not in storage", fails=True)], None
    with contextlib.closing(object_open(name=request.manifest_key)) as stream:
        data = stream.read()  # a manifest is kilobytes, a few MB for a long window of many cameras
    checks = []
    digest = hashlib.sha256(data).hexdigest()
    if digest == request.manifest_sha256:
        checks.append(Check(OK, what, f"sha256 {digest} as recorded", fails=False))
    else:
        detail = f"sha256 in storage {digest}, recorded at export {request.manifest_sha256}"
        checks.append(Check(MISMATCH, what, detail, fails=True))

    try:
        manifest = json.loads(data)
    except ValueError:
        manifest = None
    if not isinstance(manifest, dict):
        manifest = None
    key_digest = hashlib.sha256(signing_public_key_pem().encode()).hexdigest()
    named_key = manifest.get("signing_key_sha256") if manifest is not None else None
    if manifest_signature_valid(data=data, signature=request.manifest_signature):
        checks.append(Check(OK, "manifest signature", f"valid Ed25519 signature, key sha256 {key_digest}", fails=False))
    elif named_key and named_key != key_digest:
        detail = f"signed with key sha256 {named_key}, which is not this server's key ({key_digest})"
        checks.append(Check(MISMATCH, "manifest signature", detail, fails=True))
    else:
        detail = "the signature recorded at export does not match the manifest in storage"
        checks.append(Check(MISMATCH, "manifest signature", detail, fails=True))

    if manifest is None:
        checks.append(Check(MISMATCH, what, "is not a JSON object; items checked against the database", fails=True))
        return checks, None
    named = manifest.get("request", {}) if isinstance(manifest.get("request"), dict) else {}
    if named.get("id") == request.pk and named.get("case_number") == request.case_number:
        checks.append(Check(OK, what, f"names request {request.pk}, case {request.case_number}", fails=False))
    else:
        detail = f"names request {named.get('id')}, case {named.get('case_number')}: another request's manifest"
        checks.append(Check(MISMATCH, what, detail, fails=True))
    return checks, manifest


def _item_check(*, key: str, item: EvidenceItem | None, entry: dict[str, Any] | None, manifest_read: bool) -> Check:
    what = f"file {key}"
    if item is None:
        return Check(MISMATCH, what, "in the manifest but not in the database", fails=True)
    if entry is None and manifest_read:
        return Check(MISMATCH, what, "in the database but not in the manifest", fails=True)
    if entry is not None and (entry.get("sha256"), entry.get("size_bytes")) != (item.sha256, item.size_bytes):
        detail = (
            f"the manifest says sha256 {entry.get('sha256')}, {entry.get('size_bytes')} bytes; "
            f"the database says sha256 {item.sha256}, {item.size_bytes} bytes"
        )
        return Check(MISMATCH, what, detail, fails=True)
    if not object_exists(name=key):
        return Check(MISSING, what, "not in storage", fails=True)
    with contextlib.closing(object_open(name=key)) as stream:
        digest, size = stream_sha256(stream=stream)
    if (digest, size) != (item.sha256, item.size_bytes):
        detail = f"sha256 in storage {digest} ({size} bytes), exported {item.sha256} ({item.size_bytes} bytes)"
        return Check(MISMATCH, what, detail + _locked_original(item=item), fails=True)
    agreed = "the manifest and the database" if entry is not None else "the database"
    return Check(OK, what, f"sha256 {digest}, {size} bytes, as in {agreed}", fails=False)


def _locked_original(*, item: EvidenceItem) -> str:
    """On a versioned (Object Lock) bucket a change is a new version on top; say whether the export's own
    version, which the lock keeps, is still there and intact."""
    if not item.version_id:
        return ""
    try:
        with contextlib.closing(object_open(name=item.key, version_id=item.version_id)) as stream:
            digest, _ = stream_sha256(stream=stream)
    except Exception:
        return f"; the exported version {item.version_id} cannot be read"
    if digest == item.sha256:
        return f"; a newer version was written over it, the exported version {item.version_id} is intact"
    return f"; the exported version {item.version_id} differs too (sha256 {digest})"


def _source_check(*, source: dict[str, Any]) -> Check:
    key = str(source.get("key", ""))
    expected = source.get("sha256")
    what = f"source {key}"
    if not object_exists(name=key):
        if Segment.objects.filter(key=key).exists():
            detail = "gone from storage though the database still lists it (retention stopped half way?)"
        else:
            detail = "deleted by retention"
        # The exported file holds the segment's pictures and the manifest its hash; the segment itself was
        # only ever kept for the agreement's retention, so its absence is reported but is not a failure.
        return Check(MISSING, what, detail, fails=False)
    with contextlib.closing(object_open(name=key)) as stream:
        digest, _ = stream_sha256(stream=stream)
    if digest != expected:
        return Check(MISMATCH, what, f"sha256 in storage {digest}, at export {expected}", fails=True)
    recorded = Segment.objects.filter(key=key).values_list("sha256", flat=True).first()
    if recorded is not None and recorded != expected:
        return Check(MISMATCH, what, f"the database now says sha256 {recorded}, at export {expected}", fails=True)
    return Check(OK, what, f"sha256 {digest} as at export", fails=False)
