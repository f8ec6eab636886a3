"""Anonymous tips: what a citizen reported, its attachments (scrubbed), the two-way thread, and police triage.

Nothing here identifies the tipster: no account, no address, no device; the codename is kept only as a slow hash.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from community.models import User


class Tip(models.Model):
    class Category(models.TextChoices):
        VIOLENCE = "violence", "Violence or threat"
        THEFT = "theft", "Theft, robbery or burglary"
        DRUGS = "drugs", "Drugs"
        VEHICLE = "vehicle", "Vehicles and traffic"
        VANDALISM = "vandalism", "Vandalism or graffiti"
        MISSING = "missing", "Missing person"
        OTHER = "other", "Something else"

    class State(models.TextChoices):
        NEW = "new", "New"
        TRIAGED = "triaged", "Triaged"
        INVESTIGATING = "investigating", "Being looked into"
        CLOSED = "closed", "Closed"
        MERGED = "merged", "Merged into another tip"

    # The number the tipster is given (with the codename); random, so it says nothing about how many tips exist.
    number = models.CharField(max_length=16, unique=True)
    category = models.CharField(max_length=16, choices=Category.choices)
    description = models.TextField(max_length=5000)
    # "When": an exact time if they know it, otherwise their own words ("last Tuesday evening").
    occurred_at = models.DateTimeField(null=True, blank=True)
    occurred_text = models.CharField(max_length=200, blank=True)
    # "Where": their words and/or a pin, which they may coarsen before sending; both optional.
    place_text = models.CharField(max_length=300, blank=True)
    latitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    place_precision_m = models.PositiveIntegerField(null=True, blank=True)
    language = models.CharField(max_length=8, default="en")
    # scrypt (or argon2) hash of the seven-word codename; the codename itself is shown once and never stored.
    codename_hash = models.CharField(max_length=255)
    state = models.CharField(max_length=16, choices=State.choices, default=State.NEW, db_index=True)
    assigned_to = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="tips")
    merged_into = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="merged")
    # Dates, not times of day, are enough for triage and say less about when someone sat down to write.
    created_on = models.DateField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    has_unread_from_citizen = models.BooleanField(default=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"Tip {self.number}"


class TipAttachment(models.Model):
    """A photo or video the tipster sent: kept only after its metadata is stripped (images re-encoded, videos
    remuxed); until then the raw upload waits in storage under a random name and is deleted once processed."""

    class State(models.TextChoices):
        PENDING = "pending", "Being processed"
        READY = "ready", "Ready"
        REFUSED = "refused", "Refused"
        FAILED = "failed", "Could not be processed yet"

    class Kind(models.TextChoices):
        IMAGE = "image", "Photo"
        VIDEO = "video", "Video"

    tip = models.ForeignKey(Tip, on_delete=models.CASCADE, related_name="attachments")
    message = models.ForeignKey(
        "TipMessage", null=True, blank=True, on_delete=models.SET_NULL, related_name="attachments"
    )
    position = models.PositiveSmallIntegerField(default=1)  # "attachment 2 of 3", as the tipster sent them
    state = models.CharField(max_length=8, choices=State.choices, default=State.PENDING)
    kind = models.CharField(max_length=8, choices=Kind.choices, blank=True)
    raw_key = models.CharField(max_length=255, blank=True)  # the upload as sent, deleted after processing
    file = models.FileField(upload_to="tips/", blank=True)  # the scrubbed file
    content_type = models.CharField(max_length=64, blank=True)
    size_bytes = models.BigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True)
    refusal = models.CharField(max_length=300, blank=True)  # said to the tipster in their language
    attempts = models.PositiveSmallIntegerField(default=0)
    # When its scrub task was last queued, and how often the periodic retry queued it again: a task message can
    # be lost (a broker restart), and an attachment must not wait for it for ever (see attachments_retry).
    queued_at = models.DateTimeField(default=timezone.now)
    requeues = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["tip", "position", "id"]

    def __str__(self) -> str:
        return f"Attachment {self.position} of {self.tip}"


class TipMessage(models.Model):
    """The anonymous thread: the tipster's follow-ups and the police's replies (both visible to the tipster)."""

    class Author(models.TextChoices):
        CITIZEN = "citizen", "Tipster"
        POLICE = "police", "Police"

    tip = models.ForeignKey(Tip, on_delete=models.CASCADE, related_name="messages")
    author_kind = models.CharField(max_length=8, choices=Author.choices)
    author = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    body = models.TextField(max_length=5000)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"Message on {self.tip}"


class TipNote(models.Model):
    """An internal note of the police on a tip: never shown to the tipster (a model of its own, so that no
    query for the thread can pick one up by mistake)."""

    tip = models.ForeignKey(Tip, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    body = models.TextField(max_length=5000)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"Note on {self.tip}"
