"""Live sharing windows are read in the site's time zone, across midnight and daylight-saving changes."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from community.models import SharingAgreement
from community.selectors import live_allowed_now, schedule_contains

DETROIT = ZoneInfo("America/Detroit")


def local(*args):
    return datetime(*args, tzinfo=DETROIT)


@pytest.mark.parametrize(
    ("when", "inside"),
    [
        (local(2026, 11, 23, 7, 59), False),  # Monday before opening
        (local(2026, 11, 23, 8, 0), True),
        (local(2026, 11, 23, 17, 59), True),
        (local(2026, 11, 23, 18, 0), False),
        (local(2026, 11, 24, 9, 0), False),  # Tuesday has no window
    ],
)
def test_a_day_window(when, inside):
    assert schedule_contains(schedule={"mon": [["08:00", "18:00"]]}, local=when) is inside


@pytest.mark.parametrize(
    ("when", "inside"),
    [
        (local(2026, 11, 27, 21, 59), False),
        (local(2026, 11, 27, 22, 0), True),  # Friday night
        (local(2026, 11, 28, 5, 59), True),  # Saturday small hours belong to Friday's window
        (local(2026, 11, 28, 6, 0), False),
        (local(2026, 11, 28, 23, 0), False),  # Saturday night has no window of its own
    ],
)
def test_a_window_across_midnight(when, inside):
    assert schedule_contains(schedule={"fri": [["22:00", "06:00"]]}, local=when) is inside


def test_the_window_follows_local_time_across_the_daylight_saving_change():
    from community.models import Business

    agreement = SharingAgreement(mode="schedule", state="active", schedule={"sun": [["08:00", "09:00"]]})
    agreement.business = Business(state="verified")
    # 2026-11-01: Detroit leaves daylight saving at 02:00; 08:30 local is 13:30 UTC (it was 12:30 UTC a week earlier).
    assert live_allowed_now(
        agreement=agreement, tz_name="America/Detroit", at=datetime(2026, 11, 1, 13, 30, tzinfo=ZoneInfo("UTC"))
    )
    assert not live_allowed_now(
        agreement=agreement, tz_name="America/Detroit", at=datetime(2026, 11, 1, 12, 30, tzinfo=ZoneInfo("UTC"))
    )
    assert live_allowed_now(
        agreement=agreement, tz_name="America/Detroit", at=datetime(2026, 10, 25, 12, 30, tzinfo=ZoneInfo("UTC"))
    )


@pytest.mark.parametrize(
    ("mode", "state", "allowed"),
    [
        ("always", "active", True),
        ("always", "suspended", False),
        ("always", "revoked", False),
        ("registry", "active", False),
        ("alarm", "active", False),
    ],
)
def test_modes_and_states(mode, state, allowed):
    agreement = SharingAgreement(mode=mode, state=state)
    assert live_allowed_now(agreement=agreement, tz_name="UTC") is allowed
