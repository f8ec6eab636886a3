"""Tracking: ByteTrack (from maintained libraries) follows detections frame to frame, under ids kept across segments."""

from __future__ import annotations

import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from alerts.analysis.objects import Box, Detection, box_iou

# A track not seen for this long is over; one seen this recently at the end of a segment may go on in the next.
TRACK_KEEP_S = 2.0
# How much a new track in the next segment must overlap a track that ended this one to be the same object; segments
# follow each other without a gap, so the two boxes are one sample (0.2 s at 5 fps) apart.
HANDOFF_IOU = 0.3


def ultralytics_quiet() -> None:
    """Keep Ultralytics off the network: no connectivity probe, no telemetry, no pip installs at run time. Its
    import reads these, so every path into Ultralytics calls this first."""
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_AUTOINSTALL", "false")
    os.environ.setdefault("YOLO_VERBOSE", "false")


class Tracker(Protocol):
    """A library tracker for one camera's segment: library ids for the detections of each analysed frame."""

    def update(
        self, *, detections: Sequence[Detection], frame_size: tuple[int, int], timestamp: float
    ) -> list[tuple[int | None, Detection]]: ...


class ByteTrack:
    """ByteTrack from Roboflow's `trackers` (maintained, numpy 2, OpenCV 4 friendly; norfair wants numpy<2), for the
    opencv backend. It is told each frame's time, so frames the motion gate skipped count as time gone by."""

    def __init__(self, *, fps: float) -> None:
        import supervision as sv
        from trackers import ByteTrackTracker

        self._sv = sv
        # HOG's squashed margins run lower than a network's probabilities; a person seen once is a track at once,
        # since the gate may show them only a few frames; lost tracks live TRACK_KEEP_S (given in 30 fps frames).
        self._tracker = ByteTrackTracker(
            lost_track_buffer=round(TRACK_KEEP_S * 30),
            frame_rate=fps,
            track_activation_threshold=0.3,
            minimum_consecutive_frames=1,
            minimum_iou_threshold=0.1,
            high_conf_det_threshold=0.5,
        )

    def update(
        self, *, detections: Sequence[Detection], frame_size: tuple[int, int], timestamp: float
    ) -> list[tuple[int | None, Detection]]:
        width, height = frame_size
        if detections:
            xyxy = np.array(
                [
                    [x * width, y * height, (x + w) * width, (y + h) * height]
                    for x, y, w, h in [d.box for d in detections]
                ],
                dtype=np.float32,
            )
            confidence = np.array([d.confidence for d in detections], dtype=np.float32)
            given = self._sv.Detections(xyxy=xyxy, confidence=confidence, data={"index": np.arange(len(detections))})
        else:
            given = self._sv.Detections.empty()
            given.data["index"] = np.array([], dtype=int)
        tracked = self._tracker.update(given, timestamp=timestamp)
        out: list[tuple[int | None, Detection]] = []
        indices = tracked.data.get("index", np.array([], dtype=int))
        ids = tracked.tracker_id if tracked.tracker_id is not None else np.full(len(indices), -1)
        for index, track in zip(indices, ids, strict=True):
            out.append((int(track) if track >= 0 else None, detections[int(index)]))
        return out


class UltralyticsByteTrack:
    """Ultralytics' own ByteTrack, for the yolo backend. One per camera and segment, fed with the detections, so
    cameras never share tracks (a model's built-in `track(persist=True)` keeps one tracker for every caller)."""

    def __init__(self, *, fps: float, classes: Sequence[str]) -> None:
        ultralytics_quiet()
        from ultralytics.engine.results import Boxes
        from ultralytics.trackers.byte_tracker import BYTETracker
        from ultralytics.utils import YAML, IterableSimpleNamespace
        from ultralytics.utils.checks import check_yaml

        self._boxes = Boxes
        config = IterableSimpleNamespace(**YAML.load(check_yaml("bytetrack.yaml")))
        config.track_buffer = max(1, round(TRACK_KEEP_S * fps))
        self._tracker = BYTETracker(config)
        self._classes = list(classes)

    def update(
        self, *, detections: Sequence[Detection], frame_size: tuple[int, int], timestamp: float
    ) -> list[tuple[int | None, Detection]]:
        width, height = frame_size
        rows = [
            [x * width, y * height, (x + w) * width, (y + h) * height, d.confidence, self._class_index(d)]
            for d, (x, y, w, h) in ((d, d.box) for d in detections)
        ]
        data = np.array(rows, dtype=np.float32).reshape(-1, 6)
        tracked = self._tracker.update(self._boxes(data, (height, width)))
        out: list[tuple[int | None, Detection]] = []
        seen = set()
        for row in tracked:
            index = int(row[-1])
            seen.add(index)
            out.append((int(row[4]), detections[index]))
        # Detections no track took yet (a first sighting waiting for confirmation) are still detections.
        out.extend((None, d) for i, d in enumerate(detections) if i not in seen)
        return out

    def _class_index(self, detection: Detection) -> int:
        if detection.object_class not in self._classes:
            self._classes.append(detection.object_class)
        return self._classes.index(detection.object_class)


@dataclass
class _Track:
    id: str
    object_class: str
    box: Box
    unseen_s: float = 0.0


class TrackIds:
    """One camera's track ids: library ids (which restart with every tracker) mapped to ids that carry over.

    A segment's tracker starts empty; a track it starts near where a track of the previous segment was last seen
    (same class, boxes overlapping by HANDOFF_IOU) keeps that track's id. Ids are "<camera token>-<number>", so a
    re-run from the same saved state gives the same ids, and ids never repeat for the camera.
    """

    def __init__(self, *, token: str | None = None, next_number: int = 1, open_tracks: Sequence[_Track] = ()) -> None:
        self.token = token or secrets.token_hex(3)
        self.next_number = next_number
        self._open: dict[str, _Track] = {track.id: track for track in open_tracks}
        self._by_library: dict[int, str] = {}

    def segment_start(self) -> None:
        """A new library tracker starts: its ids mean nothing yet; the tracks still open may be handed over."""
        self._by_library = {}

    def assign(self, *, tracked: Sequence[tuple[int | None, Detection]], dt: float) -> list[Detection]:
        """Detections of one analysed frame with their lasting ids; `dt` is the time since the previous frame."""
        for track in self._open.values():
            track.unseen_s += dt
        ids: list[str | None] = [None] * len(tracked)
        # Tracks the library already follows first, so a new library track cannot take the id of one still seen.
        for position, (library_id, detection) in enumerate(tracked):
            if library_id is not None and library_id in self._by_library:
                ids[position] = self._seen(track_id=self._by_library[library_id], detection=detection)
        for position, (library_id, detection) in enumerate(tracked):
            if library_id is None or library_id in self._by_library:
                continue
            placed = {track_id for track_id in ids if track_id is not None}
            track_id = self._handed_over(detection=detection, placed=placed) or self._new_id()
            # The library gave up on its old track for this object; if it finds that one again, it is a new object.
            self._by_library = {key: value for key, value in self._by_library.items() if value != track_id}
            self._by_library[library_id] = track_id
            ids[position] = self._seen(track_id=track_id, detection=detection)
        self._open = {key: track for key, track in self._open.items() if track.unseen_s <= TRACK_KEEP_S}
        return [detection.with_track(track_id) for (_, detection), track_id in zip(tracked, ids, strict=True)]

    def _seen(self, *, track_id: str, detection: Detection) -> str:
        self._open[track_id] = _Track(id=track_id, object_class=detection.object_class, box=detection.box)
        return track_id

    def _handed_over(self, *, detection: Detection, placed: set[str]) -> str | None:
        best, best_iou = None, HANDOFF_IOU
        for track in self._open.values():
            if track.id in placed or track.object_class != detection.object_class:
                continue
            iou = box_iou(track.box, detection.box)
            if iou >= best_iou:
                best, best_iou = track.id, iou
        return best

    def _new_id(self) -> str:
        track_id = f"{self.token}-{self.next_number}"
        self.next_number += 1
        return track_id

    def to_json(self) -> dict[str, Any]:
        return {
            "token": self.token,
            "next_number": self.next_number,
            "open": [
                {"id": t.id, "class": t.object_class, "box": [round(v, 5) for v in t.box], "unseen_s": t.unseen_s}
                for t in self._open.values()
            ],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TrackIds:
        open_tracks = [
            _Track(id=str(t["id"]), object_class=str(t["class"]), box=_box(t["box"]), unseen_s=float(t["unseen_s"]))
            for t in data.get("open", [])
        ]
        return cls(token=data.get("token"), next_number=int(data.get("next_number", 1)), open_tracks=open_tracks)


def _box(values: Sequence[float]) -> Box:
    x, y, w, h = (float(v) for v in values)
    return x, y, w, h
