"""Whether a person may see what a camera saw at a given moment: the playback rule, for everything drawn from footage.

Alerts raised from video, their crops, detections and their thumbnails, forensic search and the probe's snapshot
are all pictures of a moment. Police see them only when they could have watched that moment live and may still
play it back:

- a moment a recording covers follows that recording's `Segment.shared_live` flag (set from the terms when it
  was recorded), and the owner must still share recordings of the camera live (as `playback_decision` asks);
- a moment no recording covers follows the terms at that moment (`live_allowed_now`); the queryset form, which
  cannot read a weekly schedule in SQL, allows only live-always terms there and refuses the rest.

Owners and their staff see everything of their own cameras. Callers check first that the camera itself is
visible to the person (`cameras_visible_to`); this module answers only "was that moment shared with them".
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from cameras.models import Camera, Segment
from community.models import SharingAgreement, User
from community.selectors import AnyUser, business_editable_by, live_allowed_now, owned_business_ids


def moment_shared_with(*, camera: Camera, user: AnyUser, at: datetime | None) -> bool:
    """May this person see what `camera` saw at `at`?"""
    if not user.is_authenticated or not user.is_active:
        return False
    if business_editable_by(business=camera.business, user=user):
        return True
    if at is None:
        # A picture whose time was not kept (an older probe's snapshot) is judged as if taken now.
        at = timezone.now()
    covering = Segment.objects.filter(camera=camera, started_at__lte=at, ended_at__gt=at)
    if covering.exists():
        return _terms_share_recordings(camera.agreement) and covering.filter(shared_live=True).exists()
    # No alarm_until: the camera's alarm is the one open now, which says nothing about an earlier moment.
    return live_allowed_now(agreement=camera.agreement, tz_name=camera.site.timezone, at=at)


def moments_shared_with_q(*, user: AnyUser, camera_field: str = "camera", at_field: str) -> Q:
    """A filter for rows that carry a camera and a moment (alerts, detections): those this person may see."""
    if not user.is_authenticated or not user.is_active:
        return Q(pk__in=[])
    assert isinstance(user, User)
    agreement = f"{camera_field}__agreement"
    covering = Segment.objects.filter(
        camera_id=OuterRef(f"{camera_field}_id"), started_at__lte=OuterRef(at_field), ended_at__gt=OuterRef(at_field)
    )
    active = Q(**{f"{agreement}__state": SharingAgreement.State.ACTIVE})
    shares_recordings = (
        active
        & Q(**{f"{agreement}__recording_allowed": True})
        & ~Q(**{f"{agreement}__mode": SharingAgreement.Mode.REGISTRY})
    )
    recorded_shared = shares_recordings & Exists(covering.filter(shared_live=True))
    unrecorded_always = active & Q(**{f"{agreement}__mode": SharingAgreement.Mode.ALWAYS}) & ~Exists(covering)
    own = Q(**{f"{camera_field}__business_id__in": owned_business_ids(user)})
    return own | recorded_shared | unrecorded_always


def _terms_share_recordings(agreement: SharingAgreement | None) -> bool:
    return bool(
        agreement is not None
        and agreement.state == SharingAgreement.State.ACTIVE
        and agreement.recording_allowed
        and agreement.is_live_mode
    )
