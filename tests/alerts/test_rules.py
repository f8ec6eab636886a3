"""The rule engine on synthetic tracks: zones, classes, dwell, line crossings, schedules, cooldowns, saved state."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from alerts.rules import RuleEngine, RuleSpec, TrackPoint

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
SQUARE = ((0.4, 0.4), (0.6, 0.4), (0.6, 0.6), (0.4, 0.6))
INSIDE = (0.5, 0.5)
OUTSIDE = (0.2, 0.5)
# Drawn from left to right: side a is above it (smaller y), side b below.
ACROSS = ((0.2, 0.5), (0.8, 0.5))


def zone_rule(**overrides) -> RuleSpec:
    return RuleSpec(**{"id": 1, "kind": "zone", "zone": SQUARE, **overrides})


def line_rule(**overrides) -> RuleSpec:
    return RuleSpec(**{"id": 2, "kind": "line", "line": ACROSS, **overrides})


def seen(track: str, anchor: tuple[float, float], at: datetime | float, object_class: str = "person") -> TrackPoint:
    """A box standing on `anchor`; `at` is seconds after T0 unless it is a datetime."""
    when = at if isinstance(at, datetime) else T0 + timedelta(seconds=at)
    x, y = anchor
    return TrackPoint(track_id=track, object_class=object_class, at=when, box=(x - 0.02, y - 0.1, x + 0.02, y))


def walk(track: str, points: list[tuple[float, float]], start: float = 0, step: float = 1) -> list[TrackPoint]:
    return [seen(track, point, start + i * step) for i, point in enumerate(points)]


def feed(engine: RuleEngine, observations: list[TrackPoint]) -> list:
    """One observation per call, as frames arrive."""
    return [hit for observation in observations for hit in engine.observe(observations=[observation])]


def utc(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


# Zones and classes


def test_a_track_entering_a_zone_raises_one_zone_entry_hit():
    engine = RuleEngine(rules=[zone_rule(severity="high")])

    hits = feed(engine, walk("t1", [OUTSIDE, OUTSIDE, INSIDE, INSIDE]))

    assert len(hits) == 1
    hit = hits[0]
    assert (hit.rule_id, hit.track_id, hit.kind, hit.severity, hit.direction) == (1, "t1", "zone_entry", "high", None)
    assert hit.at == T0 + timedelta(seconds=2)
    assert hit.object_class == "person"
    assert hit.box == seen("t1", INSIDE, 2).box
    assert hit.dedup_key == "rule:1:track:t1"


def test_a_track_going_in_and_out_twice_alerts_once():
    engine = RuleEngine(rules=[zone_rule()])

    hits = feed(engine, walk("t1", [INSIDE, OUTSIDE, OUTSIDE, OUTSIDE, INSIDE, OUTSIDE], step=5))

    assert [hit.track_id for hit in hits] == ["t1"]


def test_a_second_track_alerts_again_without_a_cooldown():
    engine = RuleEngine(rules=[zone_rule()])

    hits = engine.observe(observations=[seen("t1", INSIDE, 0), seen("t2", INSIDE, 1), seen("t1", INSIDE, 2)])

    assert [hit.track_id for hit in hits] == ["t1", "t2"]


def test_a_car_does_not_trigger_a_person_only_rule():
    engine = RuleEngine(rules=[zone_rule(classes=frozenset({"person"}))])

    assert engine.observe(observations=[seen("car1", INSIDE, 0, object_class="car")]) == []
    assert [hit.track_id for hit in engine.observe(observations=[seen("p1", INSIDE, 1)])] == ["p1"]


def test_a_rule_without_classes_watches_every_class():
    engine = RuleEngine(rules=[zone_rule()])

    hits = engine.observe(observations=[seen("car1", INSIDE, 0, object_class="car")])

    assert [hit.object_class for hit in hits] == ["car"]


def test_the_zone_is_judged_by_the_bottom_centre_of_the_box():
    engine = RuleEngine(rules=[zone_rule()])
    # A tall box whose middle is in the zone while its feet stand below it.
    tall = TrackPoint(track_id="t1", object_class="person", at=T0, box=(0.45, 0.3, 0.55, 0.7))

    assert tall.anchor == pytest.approx((0.5, 0.7))
    assert engine.observe(observations=[tall]) == []


def test_a_concave_zone_leaves_its_notch_out():
    l_shape = ((0.1, 0.1), (0.9, 0.1), (0.9, 0.3), (0.3, 0.3), (0.3, 0.9), (0.1, 0.9))
    engine = RuleEngine(rules=[zone_rule(zone=l_shape)])

    assert engine.observe(observations=[seen("notch", (0.6, 0.6), 0)]) == []
    assert len(engine.observe(observations=[seen("arm", (0.2, 0.6), 1)])) == 1


# Dwell (loitering)


def test_29_seconds_inside_is_not_loitering_at_a_30_second_minimum():
    engine = RuleEngine(rules=[zone_rule(min_dwell_s=30)])

    assert feed(engine, [seen("t1", INSIDE, 0), seen("t1", INSIDE, 29)]) == []


def test_31_seconds_inside_is_one_loitering_hit_at_a_30_second_minimum():
    engine = RuleEngine(rules=[zone_rule(min_dwell_s=30)])

    hits = feed(engine, [seen("t1", INSIDE, 0), seen("t1", INSIDE, 29), seen("t1", INSIDE, 31)])

    assert [(hit.kind, hit.at) for hit in hits] == [("loitering", T0 + timedelta(seconds=31))]


def test_loitering_fires_once_however_long_the_stay():
    engine = RuleEngine(rules=[zone_rule(min_dwell_s=30)])

    hits = feed(engine, walk("t1", [INSIDE] * 120))

    assert [hit.at for hit in hits] == [T0 + timedelta(seconds=30)]


def test_leaving_the_zone_restarts_the_dwell_clock():
    engine = RuleEngine(rules=[zone_rule(min_dwell_s=30)])
    # 21 s inside, 4 s outside, then back: 21 + 4 + 25 would be 50 s in all, but no stay of 30.
    path = [INSIDE] * 21 + [OUTSIDE] * 4 + [INSIDE] * 31

    hits = feed(engine, walk("t1", path))

    assert [hit.at for hit in hits] == [T0 + timedelta(seconds=25 + 30)]


def test_a_blip_outside_shorter_than_the_grace_does_not_restart_the_clock():
    engine = RuleEngine(rules=[zone_rule(min_dwell_s=30)])
    # The anchor jitters over the zone's edge for one frame.
    path = [INSIDE] * 15 + [OUTSIDE] + [INSIDE] * 20

    hits = feed(engine, walk("t1", path))

    assert [hit.at for hit in hits] == [T0 + timedelta(seconds=30)]


def test_dwell_counts_time_between_sparse_observations():
    # Motion gating can leave long gaps between analysed frames of someone standing still.
    engine = RuleEngine(rules=[zone_rule(min_dwell_s=60)])

    hits = feed(engine, [seen("t1", INSIDE, 0), seen("t1", INSIDE, 45), seen("t1", INSIDE, 90)])

    assert [hit.at for hit in hits] == [T0 + timedelta(seconds=90)]


# Line crossings

DOWN = [(0.5, 0.4), (0.5, 0.45), (0.5, 0.55), (0.5, 0.6)]  # side a to side b
UP = list(reversed(DOWN))


@pytest.mark.parametrize(
    ("direction", "path", "expected"),
    [
        ("a_to_b", DOWN, ["a_to_b"]),
        ("a_to_b", UP, []),
        ("b_to_a", UP, ["b_to_a"]),
        ("b_to_a", DOWN, []),
        ("any", DOWN, ["a_to_b"]),
        ("any", UP, ["b_to_a"]),
    ],
)
def test_a_line_fires_only_for_crossings_in_its_direction(direction, path, expected):
    engine = RuleEngine(rules=[line_rule(direction=direction)])

    hits = feed(engine, walk("t1", path))

    assert [hit.direction for hit in hits] == expected
    assert all(hit.kind == "line_crossing" and hit.at == T0 + timedelta(seconds=2) for hit in hits)


def test_a_crossing_against_the_direction_and_back_fires_on_the_way_back():
    engine = RuleEngine(rules=[line_rule(direction="a_to_b")])

    hits = feed(engine, walk("t1", UP + DOWN))

    assert [(hit.direction, hit.at) for hit in hits] == [("a_to_b", T0 + timedelta(seconds=6))]


def test_a_vertical_line_drawn_downwards_has_side_a_on_the_right_of_the_picture():
    # Walking down the picture from the first point to the second, one's left hand is towards the picture's right.
    engine = RuleEngine(rules=[line_rule(line=((0.5, 0.2), (0.5, 0.8)), direction="a_to_b")])

    assert feed(engine, walk("rightwards", [(0.4, 0.5), (0.6, 0.5)])) == []
    assert [hit.track_id for hit in feed(engine, walk("leftwards", [(0.6, 0.5), (0.4, 0.5)]))] == ["leftwards"]


def test_passing_beyond_the_end_of_the_line_is_not_a_crossing():
    engine = RuleEngine(rules=[line_rule()])

    assert feed(engine, walk("t1", [(0.9, 0.4), (0.9, 0.6)])) == []


def test_touching_the_line_and_turning_back_is_not_a_crossing():
    engine = RuleEngine(rules=[line_rule()])

    path = [(0.5, 0.4), (0.5, 0.5), (0.5, 0.4), (0.5, 0.505), (0.5, 0.4)]

    assert feed(engine, walk("t1", path)) == []


def test_standing_on_the_line_with_a_pixel_of_jitter_does_not_cross_it():
    engine = RuleEngine(rules=[line_rule()])

    path = [(0.5, 0.4)] + [(0.5, 0.499), (0.5, 0.501)] * 20 + [(0.5, 0.4)]

    assert feed(engine, walk("t1", path)) == []


def test_wavering_back_and_forth_across_the_line_alerts_once_per_track():
    engine = RuleEngine(rules=[line_rule()])

    path = [(0.5, 0.4)] + [(0.5, 0.52), (0.5, 0.48)] * 20

    hits = feed(engine, walk("t1", path))

    assert [(hit.track_id, hit.direction) for hit in hits] == [("t1", "a_to_b")]


def test_a_crossing_seen_only_in_frames_either_side_of_the_line_counts():
    # At a few frames per second a fast car is never seen on the line itself.
    engine = RuleEngine(rules=[line_rule()])

    assert len(feed(engine, walk("car", [(0.3, 0.1), (0.7, 0.9)]))) == 1


# Schedules (America/Detroit)

OVERNIGHT = {"fri": [["22:00", "06:00"]]}
SMALL_HOURS_SUNDAY = {"sun": [["01:00", "03:00"]]}


def fires_at(*, schedule: dict, at: datetime) -> bool:
    engine = RuleEngine(rules=[zone_rule(schedule=schedule, tz_name="America/Detroit")])
    return bool(engine.observe(observations=[seen("t1", INSIDE, at)]))


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (utc(2026, 11, 28, 2, 59), False),  # Friday 21:59 EST
        (utc(2026, 11, 28, 3, 0), True),  # Friday 22:00
        (utc(2026, 11, 28, 4, 30), True),  # Friday 23:30
        (utc(2026, 11, 28, 10, 59), True),  # Saturday 05:59 still belongs to Friday's window
        (utc(2026, 11, 28, 11, 1), False),  # Saturday 06:01
        (utc(2026, 11, 29, 4, 30), False),  # Saturday 23:30: Saturday has no window
    ],
)
def test_a_window_across_midnight_follows_local_time(at, expected):
    assert fires_at(schedule=OVERNIGHT, at=at) is expected


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        # 2026-03-08: 02:00 EST becomes 03:00 EDT, so the window lasts one real hour.
        (utc(2026, 3, 8, 5, 59), False),  # 00:59 EST
        (utc(2026, 3, 8, 6, 0), True),  # 01:00 EST
        (utc(2026, 3, 8, 6, 59), True),  # 01:59 EST
        (utc(2026, 3, 8, 7, 0), False),  # 03:00 EDT, the next instant on the wall clock
        (utc(2026, 3, 8, 7, 30), False),  # 03:30 EDT
        # 2026-11-01: 02:00 EDT becomes 01:00 EST, so the window lasts three real hours.
        (utc(2026, 11, 1, 4, 59), False),  # 00:59 EDT
        (utc(2026, 11, 1, 5, 0), True),  # 01:00 EDT
        (utc(2026, 11, 1, 6, 30), True),  # 01:30 EST, the second time the clock shows it
        (utc(2026, 11, 1, 7, 30), True),  # 02:30 EST
        (utc(2026, 11, 1, 8, 0), False),  # 03:00 EST
    ],
)
def test_a_window_follows_the_wall_clock_across_daylight_saving_changes(at, expected):
    assert fires_at(schedule=SMALL_HOURS_SUNDAY, at=at) is expected


def test_a_schedule_without_windows_means_always():
    assert fires_at(schedule={}, at=utc(2026, 11, 28, 15, 0))
    assert fires_at(schedule={"mon": [], "sat": []}, at=utc(2026, 11, 28, 15, 0))


def test_someone_inside_before_the_window_opens_is_reported_when_it_opens():
    rule = zone_rule(schedule=OVERNIGHT, tz_name="America/Detroit", min_dwell_s=300)
    engine = RuleEngine(rules=[rule])
    # Friday 21:50 to 22:10 EST, a frame a minute: ten minutes inside already when the window opens at 22:00.
    frames = [seen("t1", INSIDE, utc(2026, 11, 28, 2, 50) + timedelta(minutes=m)) for m in range(21)]

    hits = feed(engine, frames)

    assert [(hit.kind, hit.at) for hit in hits] == [("loitering", utc(2026, 11, 28, 3, 0))]


def test_a_crossing_outside_the_window_is_not_reported_when_it_opens():
    engine = RuleEngine(rules=[line_rule(schedule=OVERNIGHT, tz_name="America/Detroit")])
    start = utc(2026, 11, 28, 2, 58)  # Friday 21:58 EST
    frames = [seen("t1", point, start + timedelta(minutes=m)) for m, point in enumerate([(0.5, 0.4), (0.5, 0.6)])]
    frames += [seen("t1", (0.5, 0.6), start + timedelta(minutes=m)) for m in range(2, 5)]

    assert feed(engine, frames) == []


# Cooldown


def test_a_second_track_inside_the_cooldown_does_not_alert():
    engine = RuleEngine(rules=[zone_rule(cooldown_s=60)])

    hits = feed(engine, [seen("t1", INSIDE, 0), seen("t2", INSIDE, 10)])

    assert [hit.track_id for hit in hits] == ["t1"]


def test_a_second_track_after_the_cooldown_alerts():
    engine = RuleEngine(rules=[zone_rule(cooldown_s=60)])

    hits = feed(engine, [seen("t1", INSIDE, 0), seen("t2", INSIDE, 61)])

    assert [hit.track_id for hit in hits] == ["t1", "t2"]


def test_a_track_held_back_by_the_cooldown_stays_quiet_after_it_ends():
    # The tracker often gives the same person a new id after an occlusion; that must not alert twice.
    engine = RuleEngine(rules=[zone_rule(cooldown_s=60)])

    hits = feed(engine, [seen("t1", INSIDE, 0), *walk("t2", [INSIDE] * 30, start=10, step=5)])

    assert [hit.track_id for hit in hits] == ["t1"]


def test_the_cooldown_applies_to_line_crossings_too():
    engine = RuleEngine(rules=[line_rule(cooldown_s=60)])

    hits = feed(engine, walk("t1", DOWN) + walk("t2", DOWN, start=10) + walk("t3", DOWN, start=70))

    assert [hit.track_id for hit in hits] == ["t1", "t3"]


def test_each_rule_has_its_own_cooldown():
    engine = RuleEngine(rules=[zone_rule(id=1, cooldown_s=60), zone_rule(id=2, cooldown_s=5)])

    hits = feed(engine, [seen("t1", INSIDE, 0), seen("t2", INSIDE, 10)])

    assert sorted((hit.rule_id, hit.track_id) for hit in hits) == [(1, "t1"), (2, "t1"), (2, "t2")]


# State across segments


def next_segment(engine: RuleEngine, rules: list[RuleSpec]) -> RuleEngine:
    """The state as the Celery task would carry it: through JSON, into a new engine."""
    return RuleEngine(rules=rules, state=json.loads(json.dumps(engine.state_dump())))


def test_dwell_accumulates_across_segments():
    rules = [zone_rule(min_dwell_s=30)]
    first = RuleEngine(rules=rules)
    assert feed(first, walk("t1", [INSIDE] * 20)) == []

    second = next_segment(first, rules)
    hits = feed(second, walk("t1", [INSIDE] * 20, start=20))

    assert [hit.at for hit in hits] == [T0 + timedelta(seconds=30)]


def test_a_crossing_split_across_two_segments_is_one_crossing():
    rules = [line_rule(direction="a_to_b")]
    first = RuleEngine(rules=rules)
    assert feed(first, walk("t1", [(0.5, 0.4), (0.5, 0.45)])) == []

    second = next_segment(first, rules)
    hits = feed(second, walk("t1", [(0.5, 0.55), (0.5, 0.6)], start=2))

    assert [(hit.direction, hit.at) for hit in hits] == [("a_to_b", T0 + timedelta(seconds=2))]


def test_a_track_that_alerted_in_one_segment_stays_quiet_in_the_next():
    rules = [zone_rule(), line_rule()]
    first = RuleEngine(rules=rules)
    above_outside, below_inside = (0.5, 0.3), (0.5, 0.55)
    assert len(feed(first, walk("t1", [above_outside, below_inside]))) == 2

    second = next_segment(first, rules)

    assert feed(second, walk("t1", [above_outside, below_inside] * 2, start=2)) == []


def test_the_cooldown_carries_across_segments():
    rules = [zone_rule(cooldown_s=60)]
    first = RuleEngine(rules=rules)
    feed(first, [seen("t1", INSIDE, 0)])

    second = next_segment(first, rules)

    assert feed(second, [seen("t2", INSIDE, 30)]) == []
    assert [hit.track_id for hit in feed(second, [seen("t3", INSIDE, 60)])] == ["t3"]


def test_state_of_a_deleted_rule_or_another_version_is_ignored():
    rules = [zone_rule()]
    first = RuleEngine(rules=[*rules, line_rule()])
    feed(first, [seen("t1", INSIDE, 0)])
    state = first.state_dump()

    assert next_segment(first, rules).state_dump()["rules"].keys() == {"1"}
    fresh = RuleEngine(rules=rules, state={**state, "version": 0})
    assert [hit.track_id for hit in feed(fresh, [seen("t1", INSIDE, 1)])] == ["t1"]


def test_forgotten_tracks_start_again():
    engine = RuleEngine(rules=[zone_rule(min_dwell_s=30)])
    feed(engine, [*walk("old", [INSIDE] * 20), seen("recent", INSIDE, 80)])

    assert engine.forget_stale(now=T0 + timedelta(seconds=100), after_s=60) == 1

    assert feed(engine, walk("old", [INSIDE] * 20, start=101)) == []
    assert engine.forget_stale(now=T0 + timedelta(seconds=100), after_s=60) == 0


def test_a_frame_older_than_one_already_seen_is_ignored():
    engine = RuleEngine(rules=[zone_rule(min_dwell_s=30)])
    feed(engine, [seen("t1", OUTSIDE, 10)])

    assert feed(engine, [seen("t1", INSIDE, 0), seen("t1", INSIDE, 40)]) == []


def test_a_batch_is_taken_in_time_order():
    engine = RuleEngine(rules=[line_rule(direction="a_to_b")])

    hits = engine.observe(observations=list(reversed(walk("t1", DOWN))))

    assert [hit.direction for hit in hits] == ["a_to_b"]


# Rules and observations that make no sense


@pytest.mark.parametrize(
    "overrides",
    [
        {"zone": ((0.1, 0.1), (0.2, 0.2))},
        {"kind": "circle"},
        {"direction": "sideways"},
        {"min_dwell_s": -1},
        {"tz_name": "Mars/Olympus_Mons"},
        {"schedule": {"someday": [["08:00", "09:00"]]}},
        {"schedule": {"mon": [["08:00"]]}},
        {"schedule": {"mon": [["8 am", "9 am"]]}},
    ],
)
def test_a_zone_rule_that_makes_no_sense_is_refused(overrides):
    with pytest.raises(ValueError, match="rule 1"):
        zone_rule(**overrides)


def test_a_line_without_length_is_refused():
    with pytest.raises(ValueError, match="two distinct points"):
        line_rule(line=((0.5, 0.5), (0.5, 0.5)))


def test_a_naive_time_is_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        TrackPoint(track_id="t1", object_class="person", at=datetime(2026, 6, 1, 12, 0), box=(0, 0, 1, 1))


def test_specs_built_from_json_lists_equal_specs_built_from_tuples():
    from_json = RuleSpec(id=2, kind="line", line=[[0.2, 0.5], [0.8, 0.5]], classes=["car"])  # type: ignore[arg-type]

    assert from_json == line_rule(classes=frozenset({"car"}))
    assert hash(from_json) == hash(line_rule(classes=frozenset({"car"})))
