"""The camera registry: where each camera is, how to reach it, its terms and its last known health."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from community.models import Business, SharingAgreement, Site


class Camera(models.Model):
    class Source(models.TextChoices):
        PULL = "pull", "Stream URL (we connect to the camera)"
        PUSH = "push", "Push (the camera sends to us)"

    class Placement(models.TextChoices):
        OUTDOOR = "outdoor", "Outdoor"
        INDOOR = "indoor", "Indoor"

    class Health(models.TextChoices):
        UNKNOWN = "unknown", "Not checked yet"
        ONLINE = "online", "Online"
        OFFLINE = "offline", "Offline"
        ERROR = "error", "Needs attention"

    # Kept equal to site.business by the services; it makes per-business names unique and owner
    # queries cheap.
    business = models.ForeignKey(Business, on_delete=models.CASCADE, related_name="cameras")
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="cameras")
    name = models.CharField(max_length=100)
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.PULL)
    # The whole URL, credentials included, encrypted with Fernet (cameras/credentials.py).
    stream_url_encrypted = models.TextField(blank=True)
    # The same URL with the password replaced, safe to show back to the owner.
    stream_url_masked = models.CharField(max_length=500, blank=True)
    push_token_hash = models.CharField(max_length=64, blank=True, db_index=True)
    push_token_hint = models.CharField(max_length=8, blank=True)
    placement = models.CharField(max_length=8, choices=Placement.choices, default=Placement.OUTDOOR)
    views = models.CharField("what it views", max_length=200, blank=True)
    agreement = models.ForeignKey(
        SharingAgreement, null=True, blank=True, on_delete=models.SET_NULL, related_name="cameras"
    )

    health = models.CharField(max_length=8, choices=Health.choices, default=Health.UNKNOWN)
    health_message = models.CharField(max_length=255, blank=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    last_probe_at = models.DateTimeField(null=True, blank=True)
    codec = models.CharField(max_length=32, blank=True)
    profile = models.CharField(max_length=64, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    fps = models.FloatField(null=True, blank=True)
    snapshot = models.FileField(upload_to="snapshots/", blank=True)
    snapshot_at = models.DateTimeField(null=True, blank=True)
    # Live-on-alarm terms open live viewing until this time when the owner's system raises an alarm.
    alarm_until = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(Lower("name"), "business", name="camera_name_unique_per_business"),
        ]
        indexes = [models.Index(fields=["health"]), models.Index(fields=["last_probe_at"])]

    def __str__(self) -> str:
        return self.name

    @property
    def resolution(self) -> str:
        return f"{self.width}×{self.height}" if self.width and self.height else ""

    @property
    def relayable(self) -> bool:
        """Only H.264 is passed through to browsers; an unprobed camera is given the benefit of the doubt."""
        return self.codec in ("", "h264")


class LiveSession(models.Model):
    """One viewer watching one camera live through one relay, from start to end."""

    id = models.CharField(primary_key=True, max_length=64)
    camera = models.ForeignKey(Camera, on_delete=models.CASCADE, related_name="live_sessions")
    viewer = models.ForeignKey("community.User", on_delete=models.PROTECT, related_name="live_sessions")
    relay_id = models.CharField(max_length=64)
    started_at = models.DateTimeField(auto_now_add=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    # Set when the viewer's ICE and DTLS connected: a session that never connects watched nothing.
    connected_at = models.DateTimeField(null=True, blank=True)
    # The last time its relay reported holding it; bytes_sent is what the relay had sent by then.
    last_seen_at = models.DateTimeField(null=True, blank=True)
    bytes_sent = models.BigIntegerField(default=0)
    end_reason = models.CharField(max_length=255, blank=True)
    # Closed without its relay seeing it end (the relay stopped reporting it): ended_at is the last time
    # it was seen and bytes_sent the last report, so the owner's log says so instead of guessing.
    ended_unseen = models.BooleanField(default=False)

    class Meta:
        ordering = ["-started_at"]
        indexes = [
            models.Index(fields=["viewer", "ended_at"]),
            models.Index(fields=["camera", "ended_at"]),
            models.Index(fields=["relay_id", "ended_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.viewer} on {self.camera}"

    @property
    def is_open(self) -> bool:
        return self.ended_at is None

    @property
    def duration_s(self) -> int | None:
        return int((self.ended_at - self.started_at).total_seconds()) if self.ended_at else None

    @property
    def watching_now(self) -> bool:
        """Open, connected, and reported by its relay recently: what the owner's log may call "watching now"."""
        if self.ended_at is not None or self.connected_at is None or self.last_seen_at is None:
            return False
        return self.last_seen_at >= timezone.now() - timedelta(seconds=settings.LIVE_STALE_S)

    @property
    def connecting(self) -> bool:
        """Open and not connected yet, within the time a viewer has to connect."""
        if self.ended_at is not None or self.connected_at is not None:
            return False
        return self.started_at >= timezone.now() - timedelta(seconds=settings.LIVE_CONNECT_TIMEOUT_S)


class MonitorWall(models.Model):
    """A monitor's live wall as they left it: the layout and which camera sits in which tile."""

    class Layout(models.IntegerChoices):
        ONE = 1, "1 tile"
        FOUR = 4, "4 tiles"
        NINE = 9, "9 tiles"
        SIXTEEN = 16, "16 tiles"

    user = models.OneToOneField("community.User", on_delete=models.CASCADE, related_name="wall")
    layout = models.PositiveSmallIntegerField(choices=Layout.choices, default=Layout.FOUR)
    # Camera ids by tile position; null for an empty tile.
    tiles = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Wall of {self.user}"


class Segment(models.Model):
    """About ten seconds of one camera's video as the camera sent it, stored as an MP4 with its SHA-256."""

    camera = models.ForeignKey(Camera, on_delete=models.CASCADE, related_name="segments")
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField()
    # The object's name in storage; unique, so registering the same upload twice creates one row.
    key = models.CharField(max_length=255, unique=True)
    size_bytes = models.BigIntegerField()
    sha256 = models.CharField(max_length=64)
    # Whether the agreement let police watch this camera live when it was recorded: playback by police
    # never reaches further than live viewing did.
    shared_live = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["camera", "started_at"]
        indexes = [models.Index(fields=["camera", "started_at"]), models.Index(fields=["ended_at"])]

    def __str__(self) -> str:
        return f"{self.camera_id} {self.started_at:%Y-%m-%d %H:%M:%S}"

    @property
    def duration_s(self) -> float:
        return (self.ended_at - self.started_at).total_seconds()


class EvidenceRequest(models.Model):
    """A monitor's request for one business's footage for a case; the owner answers; a worker exports it."""

    class State(models.TextChoices):
        PENDING = "pending", "Waiting for the owner"
        APPROVED = "approved", "Approved, waiting for export"
        DENIED = "denied", "Denied"
        EXPORTING = "exporting", "Exporting"
        EXPORTED = "exported", "Exported"
        FAILED = "failed", "Export failed"

    business = models.ForeignKey(Business, on_delete=models.PROTECT, related_name="evidence_requests")
    cameras = models.ManyToManyField(Camera, related_name="evidence_requests")
    case_number = models.CharField(max_length=64, db_index=True)
    reason = models.TextField()
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    requested_by = models.ForeignKey("community.User", on_delete=models.PROTECT, related_name="evidence_requests")
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING, db_index=True)

    decided_by = models.ForeignKey(
        "community.User", null=True, blank=True, on_delete=models.PROTECT, related_name="evidence_decisions"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(blank=True)
    # The agreement that approved it in advance, when the owner chose to pre-approve requests.
    preapproved_by = models.ForeignKey(
        SharingAgreement, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    # The export: claimed by one worker task at a time (the claim names it), with a lease for dead workers.
    export_claim = models.CharField(max_length=64, blank=True)
    export_claimed_at = models.DateTimeField(null=True, blank=True)
    export_attempts = models.PositiveSmallIntegerField(default=0)
    export_progress = models.FloatField(default=0.0)
    export_error = models.TextField(blank=True)
    exported_at = models.DateTimeField(null=True, blank=True)
    manifest_key = models.CharField(max_length=255, blank=True)
    manifest_sha256 = models.CharField(max_length=64, blank=True)
    manifest_signature = models.TextField(blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(window_end__gt=models.F("window_start")), name="evidence_window_forward"
            ),
        ]

    def __str__(self) -> str:
        return f"Case {self.case_number} (request {self.pk})"

    @property
    def is_open(self) -> bool:
        return self.state in (self.State.PENDING, self.State.APPROVED, self.State.EXPORTING)


class EvidenceItem(models.Model):
    """One camera's footage of an evidence request, exported as one MP4 under the evidence prefix."""

    request = models.ForeignKey(EvidenceRequest, on_delete=models.PROTECT, related_name="items")
    camera = models.ForeignKey(Camera, null=True, on_delete=models.SET_NULL, related_name="+")
    camera_name = models.CharField(max_length=100)
    key = models.CharField(max_length=255, unique=True)
    version_id = models.CharField(max_length=255, blank=True)
    size_bytes = models.BigIntegerField()
    sha256 = models.CharField(max_length=64)
    duration_s = models.FloatField()
    locked_until = models.DateTimeField(null=True, blank=True)
    # Each source segment as it was when exported: {key, sha256, started_at, ended_at}.
    sources = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["request", "camera_name"]
        constraints = [models.UniqueConstraint(fields=["request", "camera"], name="evidence_item_once_per_camera")]

    def __str__(self) -> str:
        return f"{self.camera_name} for {self.request}"

    @property
    def filename(self) -> str:
        return self.key.rsplit("/", 1)[-1]
