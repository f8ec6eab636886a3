"""A camera's analytics rules (zones, loitering, line crossings, schedules, cooldowns) applied to tracked objects:
pure Python, no ORM and no I/O, with state that travels as JSON from one recorded segment to the next."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from community.models import WEEKDAYS
from community.selectors import schedule_contains

# Geometry is in normalised image coordinates: 0..1, x to the right, y down, whatever the resolution, so rules
# drawn on a snapshot keep their meaning when a camera's resolution changes.
Point = tuple[float, float]
Box = tuple[float, float, float, float]  # x1, y1, x2, y2 with x1 <= x2 and y1 <= y2
RuleKind = Literal["zone", "line"]
Direction = Literal["any", "a_to_b", "b_to_a"]
HitKind = Literal["zone_entry", "loitering", "line_crossing"]
Side = Literal["a", "b"]

# A box's bottom edge jitters by a few pixels from frame to frame even for someone standing still. Within this
# distance of a line a point is on neither side, so standing on the line is not crossing it; 0.01 is ~11 px on
# a 1080-line picture.
LINE_DEADBAND = 0.01
# One or two frames with the anchor just outside a zone's edge are detector jitter, not someone leaving; a longer
# absence does end the stay, and the dwell clock starts again on re-entry.
ZONE_EXIT_GRACE_S = 2.0
# Bumped when the shape of the saved state changes; state of another version is dropped (it only holds a few
# seconds of memory per track, and starting afresh costs at most a restarted dwell clock).
STATE_VERSION = 1


@dataclass(frozen=True)
class RuleSpec:
    """One rule of one camera, as the engine needs it.

    kind "zone": `zone` is a polygon (three or more points, even-odd filling); an object is in the zone when its
    anchor point (see TrackPoint) is. With `min_dwell_s` 0 a hit ("zone_entry") comes as soon as a matching object
    is seen inside; otherwise ("loitering") once it has stayed inside that long, leaving for more than
    ZONE_EXIT_GRACE_S restarting the clock.

    kind "line": `line` is a segment from its first point to its second. Side "a" is on the left of someone walking
    along it from the first point to the second, looking at the picture as shown (y down); side "b" on their
    right. For a line drawn from left to right across the frame, side a is above it, side b below, and "a_to_b"
    is moving down the picture. A crossing must pass through the segment itself, not its extension.

    `classes` empty means any class the detector reports. `schedule` maps "mon".."sun" to ["HH:MM", "HH:MM"]
    windows read as wall-clock time in `tz_name` (the site's zone); a window ending before it starts runs past
    midnight into the next day; a schedule without any window means always. `cooldown_s`: after a hit of this
    rule no further hit of it, whatever the track, until that long has passed.
    """

    id: int
    kind: RuleKind
    classes: frozenset[str] = frozenset()
    zone: tuple[Point, ...] = ()
    line: tuple[Point, Point] | None = None
    direction: Direction = "any"
    min_dwell_s: float = 0.0
    schedule: dict[str, list[list[str]]] = field(default_factory=dict, hash=False)
    tz_name: str = "UTC"
    cooldown_s: float = 0.0
    severity: str = "medium"

    def __post_init__(self) -> None:
        # Specs are often built from JSON columns (lists, ints); tuples and floats keep equality and hashing sound.
        object.__setattr__(self, "classes", frozenset(self.classes))
        object.__setattr__(self, "zone", tuple((float(x), float(y)) for x, y in self.zone))
        if self.line is not None:
            (x1, y1), (x2, y2) = self.line
            object.__setattr__(self, "line", ((float(x1), float(y1)), (float(x2), float(y2))))
        if self.kind not in get_args(RuleKind):
            raise ValueError(f"rule {self.id}: unknown kind {self.kind!r}")
        if self.kind == "zone" and len(self.zone) < 3:
            raise ValueError(f"rule {self.id}: a zone needs at least three points")
        if self.kind == "line" and (self.line is None or self.line[0] == self.line[1]):
            raise ValueError(f"rule {self.id}: a line needs two distinct points")
        if self.direction not in get_args(Direction):
            raise ValueError(f"rule {self.id}: unknown direction {self.direction!r}")
        if self.min_dwell_s < 0 or self.cooldown_s < 0:
            raise ValueError(f"rule {self.id}: dwell and cooldown cannot be negative")
        if unknown_days := set(self.schedule) - set(WEEKDAYS):
            raise ValueError(f"rule {self.id}: unknown schedule days {sorted(unknown_days)}")
        try:
            for window in (window for windows in self.schedule.values() for window in windows):
                start, end = window  # exactly two ends, or a ValueError
                time.fromisoformat(start)
                time.fromisoformat(end)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"rule {self.id}: schedule windows are pairs of HH:MM times") from exc
        try:
            ZoneInfo(self.tz_name)
        except (ValueError, ZoneInfoNotFoundError) as exc:
            raise ValueError(f"rule {self.id}: unknown time zone {self.tz_name!r}") from exc

    def active_at(self, *, at: datetime) -> bool:
        """Whether the schedule allows a hit at `at`, read as wall-clock time in the rule's zone."""
        if not any(self.schedule.values()):
            return True
        return schedule_contains(schedule=self.schedule, local=at.astimezone(ZoneInfo(self.tz_name)))


@dataclass(frozen=True)
class TrackPoint:
    """One tracked object in one analysed frame. `at` is aware; `box` is normalised (x1, y1, x2, y2)."""

    track_id: str
    object_class: str
    at: datetime
    box: Box

    def __post_init__(self) -> None:
        if self.at.tzinfo is None:
            raise ValueError("TrackPoint.at must be timezone-aware")

    @property
    def anchor(self) -> Point:
        """The bottom centre of the box: where feet or wheels meet the ground. Zones and lines are drawn on the
        ground, and the box's centre floats above it by half the object's height, so in perspective a person
        standing just outside a zone would otherwise be counted inside it."""
        x1, _, x2, y2 = self.box
        return ((x1 + x2) / 2, y2)


@dataclass(frozen=True)
class RuleHit:
    """A rule fired for a track. For lines, `direction` is the way it was crossed ("a_to_b" or "b_to_a")."""

    rule_id: int
    track_id: str
    object_class: str
    at: datetime
    kind: HitKind
    severity: str
    box: Box
    direction: Direction | None = None

    @property
    def dedup_key(self) -> str:
        """One alert per track per rule; the caller prefixes the camera and a segment-independent track identity."""
        return f"rule:{self.rule_id}:track:{self.track_id}"


@dataclass
class _TrackState:
    last_seen: datetime
    spent: bool = False  # its one hit fired, or the rule's cooldown swallowed it
    entered_at: datetime | None = None  # zones: start of the current stay inside
    left_at: datetime | None = None  # zones: first sighting outside since that stay, still within the grace
    side: Side | None = None  # lines: the last side it was seen clearly on
    side_point: Point | None = None  # lines: where it was last seen on that side

    def dump(self) -> dict[str, Any]:
        return {
            "last_seen": self.last_seen.isoformat(),
            "spent": self.spent,
            "entered_at": _iso(self.entered_at),
            "left_at": _iso(self.left_at),
            "side": self.side,
            "side_point": list(self.side_point) if self.side_point is not None else None,
        }

    @classmethod
    def load(cls, data: Mapping[str, Any]) -> _TrackState:
        side_point = data.get("side_point")
        return cls(
            last_seen=datetime.fromisoformat(data["last_seen"]),
            spent=bool(data.get("spent", False)),
            entered_at=_from_iso(data.get("entered_at")),
            left_at=_from_iso(data.get("left_at")),
            side=data.get("side"),
            side_point=(float(side_point[0]), float(side_point[1])) if side_point is not None else None,
        )


@dataclass
class _RuleState:
    last_hit_at: datetime | None = None
    tracks: dict[str, _TrackState] = field(default_factory=dict)


class RuleEngine:
    """Applies one camera's rules to its tracks, frame by frame, remembering what it needs between calls.

    Hits are gated, not deferred: the engine follows every matching track all the time, and a hit fires at the
    first observation at which its condition holds inside the schedule. So dwell counts real time in the zone
    (someone standing there since before the window opened is reported when it opens), while a crossing made
    outside the window is simply not reported. A hit the cooldown holds back is swallowed for that track, so a
    tracker that gives the same person a new id after an occlusion does not alert again when the cooldown ends.
    Observations of a class a rule does not watch are invisible to that rule.
    """

    def __init__(self, *, rules: Sequence[RuleSpec], state: Mapping[str, Any] | None = None) -> None:
        self.rules = list(rules)
        self._states: dict[int, _RuleState] = {rule.id: _RuleState() for rule in self.rules}
        if state is not None and state.get("version") == STATE_VERSION:
            for rule_id, saved in state.get("rules", {}).items():
                # A rule deleted since the state was saved leaves its state behind, unread.
                if (rule_state := self._states.get(int(rule_id))) is None:
                    continue
                rule_state.last_hit_at = _from_iso(saved.get("last_hit_at"))
                rule_state.tracks = {
                    track_id: _TrackState.load(track) for track_id, track in saved.get("tracks", {}).items()
                }

    def state_dump(self) -> dict[str, Any]:
        """The engine's memory as a JSON-able dict, to hand to the next segment's engine of the same camera."""
        return {
            "version": STATE_VERSION,
            "rules": {
                str(rule_id): {
                    "last_hit_at": _iso(rule_state.last_hit_at),
                    "tracks": {track_id: track.dump() for track_id, track in rule_state.tracks.items()},
                }
                for rule_id, rule_state in self._states.items()
            },
        }

    def observe(self, *, observations: Sequence[TrackPoint]) -> list[RuleHit]:
        """Feed one batch of observations (later than any fed before) and return the hits they raise, in order."""
        hits: list[RuleHit] = []
        # sorted() is stable, so observations of one instant keep the tracker's order.
        for observation in sorted(observations, key=lambda o: o.at):
            for rule in self.rules:
                if rule.classes and observation.object_class not in rule.classes:
                    continue
                hit = self._observe_one(rule=rule, rule_state=self._states[rule.id], observation=observation)
                if hit is not None:
                    hits.append(hit)
        return hits

    def forget_stale(self, *, now: datetime, after_s: float) -> int:
        """Drop tracks not seen for `after_s` seconds; returns how many memories went (one per rule following a
        track). A forgotten track seen again counts as new (its dwell starts again and it may fire once more), so
        `after_s` should outlast the tracker's own memory of lost tracks."""
        cutoff = now - timedelta(seconds=after_s)
        dropped = 0
        for rule_state in self._states.values():
            stale = [track_id for track_id, track in rule_state.tracks.items() if track.last_seen < cutoff]
            for track_id in stale:
                del rule_state.tracks[track_id]
            dropped += len(stale)
        return dropped

    def _observe_one(self, *, rule: RuleSpec, rule_state: _RuleState, observation: TrackPoint) -> RuleHit | None:
        at = observation.at
        track = rule_state.tracks.get(observation.track_id)
        if track is None:
            track = rule_state.tracks[observation.track_id] = _TrackState(last_seen=at)
        elif at < track.last_seen:
            # A frame older than one already seen would run the dwell clock or the sides backwards.
            return None
        track.last_seen = at

        kind: HitKind | None
        direction: Direction | None = None
        if rule.kind == "zone":
            kind = _follow_zone(rule=rule, track=track, point=observation.anchor, at=at)
        else:
            direction = _follow_line(rule=rule, track=track, point=observation.anchor)
            kind = "line_crossing" if direction is not None else None
        if kind is None or track.spent or not rule.active_at(at=at):
            return None

        track.spent = True
        cooling = rule_state.last_hit_at is not None and at - rule_state.last_hit_at < timedelta(
            seconds=rule.cooldown_s
        )
        if cooling:
            return None
        rule_state.last_hit_at = at
        return RuleHit(
            rule_id=rule.id,
            track_id=observation.track_id,
            object_class=observation.object_class,
            at=at,
            kind=kind,
            severity=rule.severity,
            box=observation.box,
            direction=direction,
        )


def _follow_zone(*, rule: RuleSpec, track: _TrackState, point: Point, at: datetime) -> HitKind | None:
    """Update a track's stay in a zone; return the hit kind when its condition holds at `at`."""
    grace = timedelta(seconds=ZONE_EXIT_GRACE_S)
    if _inside_polygon(point=point, polygon=rule.zone):
        if track.entered_at is None or (track.left_at is not None and at - track.left_at > grace):
            track.entered_at = at
        track.left_at = None
    elif track.entered_at is not None:
        if track.left_at is None:
            track.left_at = at
        if at - track.left_at > grace:
            track.entered_at = track.left_at = None
        # Within the grace an object just outside is still counted as staying, but not as present: no hit now.
        return None
    else:
        return None
    if rule.min_dwell_s <= 0:
        return "zone_entry"
    return "loitering" if at - track.entered_at >= timedelta(seconds=rule.min_dwell_s) else None


def _follow_line(*, rule: RuleSpec, track: _TrackState, point: Point) -> Direction | None:
    """Update a track's side of a line; return the direction when this observation completes a crossing of the
    segment in the rule's direction."""
    assert rule.line is not None
    (ax, ay), (bx, by) = rule.line
    length = ((bx - ax) ** 2 + (by - ay) ** 2) ** 0.5
    # Cross product over the line's length: the signed distance from the line, negative on the left (side a)
    # because y grows downwards.
    distance = ((bx - ax) * (point[1] - ay) - (by - ay) * (point[0] - ax)) / length
    if abs(distance) < LINE_DEADBAND:
        return None
    side: Side = "a" if distance < 0 else "b"
    previous_side, previous_point = track.side, track.side_point
    track.side, track.side_point = side, point
    if previous_side is None or previous_side == side or previous_point is None:
        return None
    if not _segment_meets_line(start=previous_point, end=point, line=rule.line):
        return None
    crossed: Direction = "a_to_b" if previous_side == "a" else "b_to_a"
    return crossed if rule.direction in ("any", crossed) else None


def _segment_meets_line(*, start: Point, end: Point, line: tuple[Point, Point]) -> bool:
    """Whether the path from `start` to `end` (known to lie on opposite sides of the line's extension) passes
    through the line segment itself, ends included."""
    (ax, ay), (bx, by) = line
    dx, dy = bx - ax, by - ay
    cross_start = dx * (start[1] - ay) - dy * (start[0] - ax)
    cross_end = dx * (end[1] - ay) - dy * (end[0] - ax)
    t = cross_start / (cross_start - cross_end)
    x, y = start[0] + t * (end[0] - start[0]), start[1] + t * (end[1] - start[1])
    along = ((x - ax) * dx + (y - ay) * dy) / (dx * dx + dy * dy)
    return 0.0 <= along <= 1.0


def _inside_polygon(*, point: Point, polygon: Sequence[Point]) -> bool:
    """Even-odd ray casting. Plain arithmetic rather than shapely: zones have a handful of vertices, building a
    shapely geometry per observation costs more than this loop, and the line rules need signed sides, which
    shapely does not give, anyway. A point exactly on an edge may fall either way."""
    x, y = point
    inside = False
    previous_x, previous_y = polygon[-1]
    for vertex_x, vertex_y in polygon:
        if (vertex_y > y) != (previous_y > y):
            crossing_x = vertex_x + (y - vertex_y) * (previous_x - vertex_x) / (previous_y - vertex_y)
            if x < crossing_x:
                inside = not inside
        previous_x, previous_y = vertex_x, vertex_y
    return inside


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _from_iso(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value is not None else None
