"""One segment's analysis: decode a few frames a second, gate on motion, detect and track, watch for tampering."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from alerts.analysis.detectors import Detector, analysis_setting
from alerts.analysis.frames import DecodeStats, Source, frames_sample
from alerts.analysis.motion import BackgroundModel, Polygon
from alerts.analysis.objects import Box, Detection
from alerts.analysis.tamper import TamperFlags, TamperWatch
from alerts.analysis.thumbnails import thumbnail_crop
from alerts.analysis.tracking import TrackIds

MOTION_WIDTH = 320  # pixels: enough for a person 20 m away in a 1080p picture, cheap to model
BACKGROUND_HISTORY_S = 120.0


@dataclass
class CameraAnalysisState:
    """What one camera's analysis carries from a segment to the next, as JSON (`to_json`, `from_json`).

    The background model is kept as its learned picture: a 10 s segment at 5 fps is 50 frames, too few to learn a
    background from, and a model started afresh in every segment would call its first frame background (missing
    whoever stands in it) and see the whole picture move for a while after a lighting change. Tracks that were open
    at the end of a segment are kept with their last boxes, so that the next segment's tracker continues their ids.
    """

    background: BackgroundModel = field(default_factory=BackgroundModel)
    tamper: TamperWatch = field(default_factory=TamperWatch)
    tracks: TrackIds = field(default_factory=TrackIds)

    @classmethod
    def new(cls, *, fps: float) -> CameraAnalysisState:
        return cls(background=BackgroundModel(history_frames=round(BACKGROUND_HISTORY_S * fps)))

    def to_json(self) -> dict[str, Any]:
        return {
            "background": self.background.to_json(),
            "tamper": self.tamper.to_json(),
            "tracks": self.tracks.to_json(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any] | None, *, fps: float) -> CameraAnalysisState:
        """The state saved by `to_json`; a new state for None or {} (a camera's first segment)."""
        if not data:
            return cls.new(fps=fps)
        return cls(
            background=BackgroundModel.from_json(
                data.get("background", {}), history_frames=round(BACKGROUND_HISTORY_S * fps)
            ),
            tamper=TamperWatch.from_json(data.get("tamper", {})),
            tracks=TrackIds.from_json(data.get("tracks", {})),
        )


@dataclass(frozen=True)
class FrameAnalysis:
    """One analysed frame, `offset` seconds after the segment's first frame."""

    offset: float
    motion_fraction: float
    motion_boxes: tuple[Box, ...]
    detector_ran: bool
    detections: tuple[Detection, ...]
    tamper: TamperFlags


@dataclass(frozen=True)
class TamperChange:
    """A tamper sign rising (`started`) or falling at `offset` seconds into the segment."""

    kind: str  # "covered" or "scene_changed"
    started: bool
    offset: float


@dataclass(frozen=True)
class Thumbnail:
    """The surest sighting of one track in the segment, as a JPEG."""

    offset: float
    detection: Detection
    jpeg: bytes


@dataclass(frozen=True)
class SegmentAnalysis:
    frames: tuple[FrameAnalysis, ...]
    tamper_changes: tuple[TamperChange, ...]
    thumbnails: tuple[Thumbnail, ...]
    frame_size: tuple[int, int] | None
    decode: DecodeStats
    detector_calls: int
    detector_seconds: float  # CPU seconds of this process spent in the detector

    @property
    def detections(self) -> list[tuple[float, Detection]]:
        return [(frame.offset, detection) for frame in self.frames for detection in frame.detections]


def segment_analyse(
    *,
    source: Source,
    fps: float,
    ignore_masks: Sequence[Polygon],
    detector: Detector,
    state: CameraAnalysisState,
    min_motion_fraction: float | None = None,
    gate: bool = True,
    thumbnails: bool = False,
    on_frame: Callable[[FrameAnalysis], None] | None = None,
) -> SegmentAnalysis:
    """Analyse the segment at `source` (path or binary stream) with `state` from the camera's previous segment,
    which it updates. The detector sees only frames where at least `min_motion_fraction` of the watched picture
    (outside `ignore_masks`) differs from the background, unless `gate` is off (benchmarks); it never sees a covered
    picture. `on_frame` is called with each frame's analysis as soon as it is done (rules can fire before the
    segment's end is decoded). Raises av.FFmpegError for a file that cannot be read as video."""
    if min_motion_fraction is None:
        min_motion_fraction = float(analysis_setting("ANALYTICS_MOTION_MIN_FRACTION", 0.002))
    stats = DecodeStats()
    tracker = detector.tracker_new(fps=fps)
    state.tracks.segment_start()
    flags = TamperFlags(covered=state.tamper.covered, scene_changed=state.tamper.scene_changed)
    frames: list[FrameAnalysis] = []
    changes: list[TamperChange] = []
    best: dict[str, Thumbnail] = {}
    calls, detector_seconds = 0, 0.0
    previous_offset: float | None = None
    frame_size: tuple[int, int] | None = None
    for sample in frames_sample(source=source, fps=fps, stats=stats):
        frame_size = sample.size
        dt = sample.offset - previous_offset if previous_offset is not None else 1.0 / fps
        previous_offset = sample.offset
        grey = sample.grey(width=MOTION_WIDTH)
        was, flags = flags, state.tamper.update(grey=grey, dt=dt)
        for kind in ("covered", "scene_changed"):
            if getattr(flags, kind) != getattr(was, kind):
                changes.append(TamperChange(kind=kind, started=getattr(flags, kind), offset=sample.offset))
        if (flags.scene_changed and not was.scene_changed) or (was.covered and not flags.covered):
            # The old background says nothing about the new view; learning it again would take minutes of motion.
            state.background.seed(grey=grey)
            motion = None
        else:
            motion = state.background.update(grey=grey, ignore_masks=ignore_masks)
        moved = motion is not None and motion.fraction >= min_motion_fraction
        found: list[Detection] = []
        image = None
        run = (moved or not gate) and not flags.covered
        if run:
            image = sample.bgr()
            regions = motion.boxes if gate and motion is not None else ()
            started = time.process_time()
            found = detector.detect(image=image, regions=regions)
            detector_seconds += time.process_time() - started
            calls += 1
        tracked = tracker.update(detections=found, frame_size=sample.size, timestamp=sample.offset)
        detections = state.tracks.assign(tracked=tracked, dt=dt)
        if thumbnails and image is not None:
            # Tracked objects only: a sighting no track took is a first glimpse or a false alarm, and untracked
            # detections of a busy frame would each cost a JPEG.
            for detection in detections:
                key = detection.track_id
                if key and (key not in best or detection.confidence > best[key].detection.confidence):
                    jpeg = thumbnail_crop(image=image, box=detection.box)
                    best[key] = Thumbnail(offset=sample.offset, detection=detection, jpeg=jpeg)
        analysed = FrameAnalysis(
            offset=sample.offset,
            motion_fraction=round(motion.fraction, 6) if motion is not None else 0.0,
            motion_boxes=motion.boxes if motion is not None else (),
            detector_ran=run,
            detections=tuple(detections),
            tamper=flags,
        )
        frames.append(analysed)
        if on_frame is not None:
            on_frame(analysed)
    return SegmentAnalysis(
        frames=tuple(frames),
        tamper_changes=tuple(changes),
        thumbnails=tuple(best.values()),
        frame_size=frame_size,
        decode=stats,
        detector_calls=calls,
        detector_seconds=detector_seconds,
    )
