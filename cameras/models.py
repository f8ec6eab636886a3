"""The camera registry: where each camera is, how to reach it, its terms and its last known health."""

from __future__ import annotations

from django.db import models
from django.db.models.functions import Lower

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
