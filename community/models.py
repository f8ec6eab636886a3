"""People and partners: users, police agencies, businesses, sites, sharing agreements and the audit trail."""

from __future__ import annotations

from typing import Any, ClassVar
from zoneinfo import available_timezones

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone


class UserQuerySet(models.QuerySet["User"]):
    def police(self) -> UserQuerySet:
        return self.filter(role__in=[User.Role.MONITOR, User.Role.SUPERVISOR])


class UserManager(BaseUserManager["User"]):
    def get_queryset(self) -> UserQuerySet:
        return UserQuerySet(self.model, using=self._db)

    def police(self) -> UserQuerySet:
        return self.get_queryset().police()

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        user = self.model(email=email.strip().lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("role", User.Role.SUPERVISOR)
        extra.update(is_staff=True, is_superuser=True)
        return self.create_user(email, password, **extra)

    def get_by_natural_key(self, username: str | None) -> User:
        return self.get(email__iexact=(username or "").strip())


class Agency(models.Model):
    name = models.CharField(max_length=150, unique=True)
    jurisdiction = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "agencies"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class User(AbstractBaseUser, PermissionsMixin):
    class Role(models.TextChoices):
        OWNER = "owner", "Business owner"
        MONITOR = "monitor", "Police monitor"
        SUPERVISOR = "supervisor", "Police supervisor"

    email = models.EmailField(unique=True)
    full_name = models.CharField(max_length=150)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.OWNER)
    agency = models.ForeignKey(Agency, null=True, blank=True, on_delete=models.PROTECT, related_name="officers")
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False, help_text="May open the Django admin (supervisors).")
    date_joined = models.DateTimeField(default=timezone.now)

    objects: ClassVar[UserManager] = UserManager()  # type: ignore[assignment]

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["full_name"]

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return self.full_name or self.email

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Logins are case-insensitive, so the stored address is too.
        self.email = self.email.strip().lower()
        super().save(*args, **kwargs)

    @property
    def is_owner(self) -> bool:
        return self.role == self.Role.OWNER

    @property
    def is_monitor(self) -> bool:
        return self.role == self.Role.MONITOR

    @property
    def is_supervisor(self) -> bool:
        return self.role == self.Role.SUPERVISOR

    @property
    def is_police(self) -> bool:
        return self.role in (self.Role.MONITOR, self.Role.SUPERVISOR)


class Invitation(models.Model):
    """A supervisor's invitation for an officer to join the agency; the link carries a token we only hash."""

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    full_name = models.CharField(max_length=150)
    role = models.CharField(
        max_length=16, choices=[(User.Role.MONITOR, "Police monitor"), (User.Role.SUPERVISOR, "Police supervisor")]
    )
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    user = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Invitation for {self.email}"


class Business(models.Model):
    class State(models.TextChoices):
        DRAFT = "draft", "Draft"
        PENDING = "pending", "Waiting for verification"
        VERIFIED = "verified", "Verified partner"
        SUSPENDED = "suspended", "Suspended"

    owner = models.ForeignKey(User, on_delete=models.PROTECT, related_name="businesses")
    # Staff help run the business's cameras with the owner's rights, except verification matters.
    staff = models.ManyToManyField(User, blank=True, related_name="staffed_businesses")
    name = models.CharField(max_length=120)
    contact_name = models.CharField(max_length=120)
    contact_email = models.EmailField()
    contact_phone = models.CharField(max_length=32, blank=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.DRAFT)
    state_reason = models.TextField(blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    verified_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "businesses"
        constraints = [
            models.UniqueConstraint(Lower("name"), "owner", name="business_name_unique_per_owner"),
        ]

    def __str__(self) -> str:
        return self.name


def validate_timezone(value: str) -> None:
    if value not in _TIMEZONES:
        raise ValidationError(f"“{value}” is not a time zone name such as America/Detroit.")


_TIMEZONES = frozenset(available_timezones())
TIMEZONE_CHOICES = sorted((name, name.replace("_", " ")) for name in _TIMEZONES if "/" in name)


class Site(models.Model):
    business = models.ForeignKey(Business, on_delete=models.CASCADE, related_name="sites")
    name = models.CharField(max_length=120)
    address = models.CharField(max_length=255)
    latitude = models.DecimalField(
        max_digits=9, decimal_places=6, validators=[MinValueValidator(-90), MaxValueValidator(90)]
    )
    longitude = models.DecimalField(
        max_digits=9, decimal_places=6, validators=[MinValueValidator(-180), MaxValueValidator(180)]
    )
    timezone = models.CharField(max_length=64, validators=[validate_timezone], default="America/Detroit")
    listed_publicly = models.BooleanField(
        default=False, help_text="Show this site on the public list of partner locations."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(Lower("name"), "business", name="site_name_unique_per_business"),
            models.CheckConstraint(
                condition=models.Q(latitude__gte=-90, latitude__lte=90, longitude__gte=-180, longitude__lte=180),
                name="site_coordinates_in_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class SharingAgreement(models.Model):
    """The owner's terms for a set of cameras: who may watch, when, and what may be recorded."""

    class Mode(models.TextChoices):
        REGISTRY = "registry", "Registry only (no live view)"
        ALWAYS = "always", "Live at any time"
        SCHEDULE = "schedule", "Live on a weekly schedule"
        ALARM = "alarm", "Live only during an alarm"

    class State(models.TextChoices):
        DRAFT = "draft", "Draft"
        PENDING = "pending", "Waiting for partner verification"
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"
        REVOKED = "revoked", "Revoked"

    business = models.ForeignKey(Business, on_delete=models.CASCADE, related_name="agreements")
    name = models.CharField(max_length=120)
    mode = models.CharField(max_length=16, choices=Mode.choices, default=Mode.REGISTRY)
    # {"mon": [["08:00", "18:00"]], ...} in the time zone of each camera's site; an end before
    # the start runs past midnight.
    schedule = models.JSONField(default=dict, blank=True)
    alarm_window_minutes = models.PositiveIntegerField(
        default=15, validators=[MinValueValidator(1), MaxValueValidator(240)]
    )
    recording_allowed = models.BooleanField(default=False)
    retention_days = models.PositiveSmallIntegerField(
        default=30, validators=[MinValueValidator(1), MaxValueValidator(90)]
    )
    evidence_preapproved = models.BooleanField(
        default=False, help_text="Evidence requests for these cameras need no case-by-case approval."
    )
    state = models.CharField(max_length=16, choices=State.choices, default=State.DRAFT)
    state_reason = models.TextField(blank=True)
    version = models.PositiveIntegerField(default=1)
    terms_version = models.CharField(max_length=32)
    terms_accepted_at = models.DateTimeField()
    terms_accepted_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(Lower("name"), "business", name="agreement_name_unique_per_business"),
            models.CheckConstraint(
                condition=models.Q(retention_days__gte=1, retention_days__lte=90), name="agreement_retention_1_90"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def camera_ids(self) -> list[int]:
        return list(self.cameras.values_list("id", flat=True))  # type: ignore[attr-defined]

    @property
    def is_live_mode(self) -> bool:
        return self.mode != self.Mode.REGISTRY


class AuditEventQuerySet(models.QuerySet["AuditEvent"]):
    """Append-only: bulk updates and deletes are refused (PostgreSQL refuses them too, by trigger)."""

    def update(self, **kwargs: Any) -> int:
        raise AuditTrailIsAppendOnly("The audit trail cannot be changed.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AuditTrailIsAppendOnly("The audit trail cannot be deleted.")

    def _raw_delete(self, using: Any) -> int:
        raise AuditTrailIsAppendOnly("The audit trail cannot be deleted.")


class AuditTrailIsAppendOnly(Exception):
    pass


class AuditEvent(models.Model):
    """One security-relevant act: who did what to which thing, when, and the details."""

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # PROTECT: a person with a trace cannot be deleted, only deactivated.
    actor = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    actor_label = models.CharField(max_length=254, blank=True)
    action = models.CharField(max_length=64, db_index=True)
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_label = models.CharField(max_length=255, blank=True)
    # Plain indexed ids, not foreign keys: deleting a camera must neither cascade into nor be
    # blocked by its history.
    business_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    camera_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    details = models.JSONField(default=dict, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.actor_label or 'system'} {self.action}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AuditTrailIsAppendOnly("The audit trail cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AuditTrailIsAppendOnly("The audit trail cannot be deleted.")
