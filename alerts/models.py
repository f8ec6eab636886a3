"""Analytics and alerts: each camera's rules and analysis state, detections for search, sensors, and alerts."""

from __future__ import annotations

from django.db import models

from cameras.models import Camera, Segment
from community.models import Business, User


class Severity(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"


class CameraAnalytics(models.Model):
    """A camera's analysis settings, and what the worker carries from one segment to the next."""

    camera = models.OneToOneField(Camera, on_delete=models.CASCADE, related_name="analytics")
    enabled = models.BooleanField(default=True)
    # Polygons in normalised image coordinates (0..1) where motion is ignored: a flag, a road, a screen.
    ignore_masks = models.JSONField(default=list, blank=True)
    # The rule engine's tracks and cooldowns, the motion and tamper state, and the last segment analysed.
    state = models.JSONField(default=dict, blank=True)
    last_segment_end = models.DateTimeField(null=True, blank=True)
    # Segments left unanalysed because the worker fell behind this camera (the oldest go first), and when the
    # last one was; the camera's page shows them.
    segments_skipped = models.PositiveIntegerField(default=0)
    segment_skipped_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Analytics of {self.camera}"


class Rule(models.Model):
    """What matters on one camera: objects in a zone (for a while), or crossing a line one way."""

    class Kind(models.TextChoices):
        ZONE = "zone", "Zone"
        LINE = "line", "Line crossing"

    class Direction(models.TextChoices):
        ANY = "any", "Either way"
        A_TO_B = "a_to_b", "From left to right of the line (walking from its first point)"
        B_TO_A = "b_to_a", "From right to left of the line"

    camera = models.ForeignKey(Camera, on_delete=models.CASCADE, related_name="rules")
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.ZONE)
    enabled = models.BooleanField(default=True)
    # Object classes the rule cares about ("person", "car", …); empty for any the detector finds.
    classes = models.JSONField(default=list, blank=True)
    zone = models.JSONField(default=list, blank=True)  # [[x, y], …] normalised
    line = models.JSONField(default=list, blank=True)  # [[x1, y1], [x2, y2]] normalised
    direction = models.CharField(max_length=8, choices=Direction.choices, default=Direction.ANY)
    min_dwell_s = models.FloatField(default=0.0)
    # Weekly windows in the site's time zone, as sharing agreements have them; empty for always.
    schedule = models.JSONField(default=dict, blank=True)
    cooldown_s = models.PositiveIntegerField(default=60)
    severity = models.CharField(max_length=8, choices=Severity.choices, default=Severity.MEDIUM)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["camera", "name"]

    def __str__(self) -> str:
        return f"{self.name} on {self.camera}"


class SensorSource(models.Model):
    """An external system that reports events (gunshot detection, an alarm panel, a panic button), each with
    its own HMAC secret."""

    class Kind(models.TextChoices):
        GUNSHOT = "gunshot", "Gunshot detection"
        ALARM_PANEL = "alarm_panel", "Alarm panel"
        PANIC_BUTTON = "panic_button", "Panic button"
        OTHER = "other", "Other sensor"

    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    # An owner's alarm panel or panic button belongs to their business; city sensors to no business.
    business = models.ForeignKey(Business, null=True, blank=True, on_delete=models.CASCADE, related_name="sensors")
    # The camera that looks at the sensor's place, if any: its live-on-alarm terms open on an event.
    camera = models.ForeignKey(Camera, null=True, blank=True, on_delete=models.SET_NULL, related_name="sensors")
    latitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    # Fernet-encrypted (cameras/credentials.py): the server needs the secret itself to check signatures.
    secret_encrypted = models.TextField()
    enabled = models.BooleanField(default=True)
    severity = models.CharField(max_length=8, choices=Severity.choices, default=Severity.HIGH)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class Alert(models.Model):
    """Something a monitor should look at now: an object where a rule says it matters, a camera gone or
    tampered with, or a sensor's event."""

    class Kind(models.TextChoices):
        ZONE = "zone", "Object in a zone"
        LOITERING = "loitering", "Loitering"
        LINE = "line", "Line crossed"
        OFFLINE = "offline", "Camera offline"
        TAMPER = "tamper", "Camera tampered with"
        EXTERNAL = "external", "Sensor event"

    class State(models.TextChoices):
        NEW = "new", "New"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        DISPATCHED = "dispatched", "Dispatched"
        CLOSED = "closed", "Closed"

    camera = models.ForeignKey(Camera, null=True, blank=True, on_delete=models.CASCADE, related_name="alerts")
    rule = models.ForeignKey(Rule, null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts")
    source = models.ForeignKey(SensorSource, null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    severity = models.CharField(max_length=8, choices=Severity.choices, default=Severity.MEDIUM)
    state = models.CharField(max_length=16, choices=State.choices, default=State.NEW, db_index=True)
    title = models.CharField(max_length=200)
    object_class = models.CharField(max_length=32, blank=True)
    track_id = models.CharField(max_length=64, blank=True)
    occurred_at = models.DateTimeField(db_index=True)
    latitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    snapshot = models.FileField(upload_to="alerts/", blank=True)
    segments = models.ManyToManyField(Segment, blank=True, related_name="alerts")
    # One alert per track per rule (or per sensor event): a retried task or a resent event finds it here.
    dedup_key = models.CharField(max_length=200, unique=True)
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["camera", "occurred_at"])]

    def __str__(self) -> str:
        return self.title


class AlertNote(models.Model):
    """A monitor's note on an alert, and the state change it came with."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    text = models.TextField(blank=True)
    state_from = models.CharField(max_length=16, blank=True)
    state_to = models.CharField(max_length=16, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"Note on {self.alert_id}"


class Detection(models.Model):
    """One tracked object seen in one analysed frame: what forensic search looks through. Never a face or an
    identity: a class, a box and a track."""

    camera = models.ForeignKey(Camera, on_delete=models.CASCADE, related_name="detections")
    segment = models.ForeignKey(Segment, null=True, blank=True, on_delete=models.SET_NULL, related_name="detections")
    at = models.DateTimeField()
    object_class = models.CharField(max_length=32)
    confidence = models.FloatField()
    # Normalised box (0..1): left, top, width, height.
    x = models.FloatField()
    y = models.FloatField()
    w = models.FloatField()
    h = models.FloatField()
    track_id = models.CharField(max_length=64, blank=True)
    thumbnail = models.FileField(upload_to="detections/", blank=True)

    class Meta:
        ordering = ["-at"]
        indexes = [models.Index(fields=["camera", "at"]), models.Index(fields=["object_class", "at"])]

    def __str__(self) -> str:
        return f"{self.object_class} on {self.camera_id} at {self.at:%H:%M:%S}"
