"""Tracks: one id per object across frames and across segments, the same on a re-run from the same saved state."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from alerts.analysis import CameraAnalysisState, Detection, OpenCVHogDetector, segment_analyse
from alerts.analysis.tracking import TrackIds
from tests.alerts.scenes import Crossing, scene_frames, segment_write


def _walking(path: Path, *, start_s: float) -> Path:
    frames = scene_frames(
        width=640, height=360, fps=15, seconds=4.0, crossings=[Crossing(start_s=start_s, duration_s=6.0)]
    )
    return segment_write(path=path, frames=frames, fps=15)


def _ids(analysis) -> list[str]:
    return [d.track_id for _, d in analysis.detections if d.track_id is not None]


def test_a_person_crossing_keeps_one_track_id(crossing: Path):
    analysis = segment_analyse(
        source=crossing,
        fps=5.0,
        ignore_masks=[],
        detector=OpenCVHogDetector(),
        state=CameraAnalysisState.new(fps=5.0),
        thumbnails=True,
    )
    ids = _ids(analysis)
    assert len(ids) >= 9
    assert len(set(ids)) == 1
    # One picture per track for search, from its surest sighting; none for the first, untracked glimpse.
    assert [t.detection.track_id for t in analysis.thumbnails] == [ids[0]]
    assert analysis.thumbnails[0].jpeg[:2] == b"\xff\xd8"


def test_a_track_goes_on_in_the_next_segment_and_a_rerun_gives_the_same_ids(tmp_path: Path):
    # One walk of 6 s from 0.5 s, cut into two 4 s segments as the recorder would.
    first, second = _walking(tmp_path / "a.mp4", start_s=0.5), _walking(tmp_path / "b.mp4", start_s=-3.5)
    detector = OpenCVHogDetector()
    state = CameraAnalysisState.new(fps=5.0)
    before = segment_analyse(source=first, fps=5.0, ignore_masks=[], detector=detector, state=state)
    saved = json.dumps(state.to_json())
    runs = [
        segment_analyse(
            source=second,
            fps=5.0,
            ignore_masks=[],
            detector=detector,
            state=CameraAnalysisState.from_json(json.loads(saved), fps=5.0),
        )
        for _ in range(2)
    ]
    assert len(set(_ids(before))) == 1
    assert set(_ids(runs[0])) == set(_ids(before))
    assert _ids(runs[0]) == _ids(runs[1])


def test_a_new_object_where_an_old_track_ended_long_ago_gets_a_new_id():
    ids = TrackIds(token="cam")
    person = Detection(box=(0.4, 0.3, 0.1, 0.4), object_class="person", confidence=0.9)
    assert ids.assign(tracked=[(1, person)], dt=0.2)[0].track_id == "cam-1"
    for _ in range(15):  # 3 s with nothing seen
        ids.assign(tracked=[], dt=0.2)
    ids.segment_start()
    assert ids.assign(tracked=[(1, person)], dt=0.2)[0].track_id == "cam-2"


def test_a_car_does_not_take_over_a_persons_track():
    ids = TrackIds(token="cam")
    box = (0.4, 0.3, 0.2, 0.4)
    ids.assign(tracked=[(7, Detection(box=box, object_class="person", confidence=0.9))], dt=0.2)
    ids.segment_start()
    car = ids.assign(tracked=[(1, Detection(box=box, object_class="car", confidence=0.9))], dt=0.2)
    assert car[0].track_id == "cam-2"


@pytest.mark.skipif(
    importlib.util.find_spec("ultralytics") is None, reason="the yolo extra is not installed: pip install -e '.[yolo]'"
)
def test_ultralytics_bytetrack_follows_a_moving_car():
    from alerts.analysis.tracking import UltralyticsByteTrack

    tracker = UltralyticsByteTrack(fps=5.0, classes=["person", "car"])
    ids = TrackIds(token="cam")
    named = []
    for step in range(10):
        car = Detection(box=(0.1 + step * 0.03, 0.5, 0.2, 0.15), object_class="car", confidence=0.8)
        tracked = tracker.update(detections=[car], frame_size=(1920, 1080), timestamp=step * 0.2)
        named += [d.track_id for d in ids.assign(tracked=tracked, dt=0.2) if d.track_id]
    assert len(named) >= 9
    assert set(named) == {"cam-1"}
