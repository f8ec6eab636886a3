"""The motion gate: the detector runs only on frames where something moved outside the camera's ignore masks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from alerts.analysis import CameraAnalysisState, segment_analyse
from alerts.analysis.motion import BackgroundModel, ignore_mask_draw
from tests.alerts.analysis.fakes import CountingDetector


def _analyse(source: Path, *, state: CameraAnalysisState | None = None, ignore_masks=(), detector=None, gate=True):
    detector = detector or CountingDetector()
    state = state or CameraAnalysisState.new(fps=5.0)
    analysis = segment_analyse(
        source=source,
        fps=5.0,
        ignore_masks=ignore_masks,
        detector=detector,
        state=state,
        min_motion_fraction=0.002,
        gate=gate,
    )
    return analysis, detector, state


def test_a_still_scene_never_reaches_the_detector(still: Path):
    analysis, detector, _ = _analyse(still)
    assert len(analysis.frames) == 20
    assert detector.calls == []
    assert analysis.detector_calls == 0
    assert max(frame.motion_fraction for frame in analysis.frames) < 0.002


def test_without_the_gate_every_frame_reaches_the_detector(still: Path):
    _, detector, _ = _analyse(still, gate=False)
    assert len(detector.calls) == 20
    assert all(regions == () for regions in detector.calls)


def test_a_person_crossing_is_motion_and_the_detector_looks_where_they_are(crossing: Path):
    analysis, detector, _ = _analyse(crossing)
    moving = [frame for frame in analysis.frames if frame.detector_ran]
    # The person is fully in the picture from about 0.8 s to 3.2 s of the 4 s.
    assert 10 <= len(moving) <= 16
    assert all(0.5 <= frame.offset <= 3.6 for frame in moving)
    assert len(detector.calls) == len(moving)
    middle = next(frame for frame in analysis.frames if frame.offset == 2.0)
    # At 2.0 s the person is half way across: the box around them spans the picture's middle.
    (x, y, w, h), *_ = sorted(middle.motion_boxes, key=lambda box: -box[2] * box[3])
    assert x < 0.5 < x + w
    assert h > 0.4
    assert y + h > 0.85


def test_motion_inside_an_ignore_mask_is_not_motion(crossing: Path):
    # The band where the person walks, the whole width of the picture.
    band = [(0.0, 0.3), (1.0, 0.3), (1.0, 1.0), (0.0, 1.0)]
    analysis, detector, _ = _analyse(crossing, ignore_masks=[band])
    assert detector.calls == []
    assert max(frame.motion_fraction for frame in analysis.frames) == 0.0


def test_an_ignore_mask_elsewhere_leaves_motion_alone(crossing: Path):
    sky = [(0.0, 0.0), (1.0, 0.0), (1.0, 0.2), (0.0, 0.2)]
    _, detector, _ = _analyse(crossing, ignore_masks=[sky])
    assert len(detector.calls) >= 10


def test_the_background_carries_over_to_the_next_segment_through_json(still: Path, crossing: Path):
    _, _, state = _analyse(still)
    saved = json.loads(json.dumps(state.to_json()))
    analysis, _, _ = _analyse(crossing, state=CameraAnalysisState.from_json(saved, fps=5.0))
    # A model learned from the previous segment judges the first frame too; a new one could only learn it.
    assert analysis.frames[0].motion_fraction < 0.002
    assert analysis.frames[5].motion_fraction > 0.01


def test_a_new_model_takes_its_first_frame_as_the_background():
    model = BackgroundModel()
    picture = np.random.default_rng(1).integers(0, 255, (90, 160), dtype=np.uint8)
    assert model.update(grey=picture) is None
    motion = model.update(grey=picture)
    assert motion is not None
    assert motion.fraction == 0.0


def test_an_ignore_mask_is_drawn_from_normalised_points():
    mask = ignore_mask_draw(polygons=[[(0.5, 0.0), (1.0, 0.0), (1.0, 1.0), (0.5, 1.0)]], width=100, height=50)
    assert mask[:, :49].min() == 255
    assert mask[:, 51:].max() == 0
