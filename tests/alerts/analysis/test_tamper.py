"""Tamper signs: a covered lens and a turned camera are flagged once they last; daylight and passers-by are not."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from alerts.analysis import CameraAnalysisState, segment_analyse
from alerts.analysis.tamper import TamperWatch, picture_featureless
from tests.alerts.analysis.fakes import CountingDetector
from tests.alerts.scenes import Crossing, scene_frames, segment_write, street_picture


def _analyse(path: Path, *, state: CameraAnalysisState | None = None):
    detector = CountingDetector()
    state = state or CameraAnalysisState.new(fps=5.0)
    analysis = segment_analyse(source=path, fps=5.0, ignore_masks=[], detector=detector, state=state)
    return analysis, detector, state


def _segment(path: Path, *, seconds: float = 8.0, **scene) -> Path:
    frames = scene_frames(width=320, height=180, fps=15, seconds=seconds, **scene)
    return segment_write(path=path, frames=frames, fps=15)


def test_a_covered_lens_is_flagged_after_it_lasts(tmp_path: Path):
    analysis, _, _ = _analyse(_segment(tmp_path / "covered.mp4", covered_from_s=3.0))
    covered = [frame.offset for frame in analysis.frames if frame.tamper.covered]
    # Covered from 3.0 s, flagged after 2 s of it, to the segment's end.
    assert covered[0] == pytest.approx(4.8, abs=0.25)
    assert covered[-1] == analysis.frames[-1].offset
    assert [(c.kind, c.started) for c in analysis.tamper_changes] == [("covered", True)]
    assert not any(frame.tamper.scene_changed for frame in analysis.frames)
    # The detector has nothing to look at in a covered picture.
    assert not any(frame.detector_ran for frame in analysis.frames if frame.tamper.covered)


def test_a_covered_lens_stays_flagged_into_the_next_segment_and_clears_when_uncovered(tmp_path: Path):
    _, _, state = _analyse(_segment(tmp_path / "covered.mp4", seconds=6.0, covered_from_s=1.0))
    state = CameraAnalysisState.from_json(json.loads(json.dumps(state.to_json())), fps=5.0)
    still_covered, _, state = _analyse(_segment(tmp_path / "dark.mp4", seconds=4.0, covered_from_s=0.0), state=state)
    assert all(frame.tamper.covered for frame in still_covered.frames)
    assert still_covered.tamper_changes == ()
    uncovered, _, _ = _analyse(_segment(tmp_path / "street.mp4", seconds=6.0), state=state)
    assert uncovered.frames[0].tamper.covered
    assert not uncovered.frames[-1].tamper.covered
    assert [(c.kind, c.started) for c in uncovered.tamper_changes] == [("covered", False)]


def test_a_sudden_change_of_the_whole_view_is_flagged(tmp_path: Path):
    analysis, _, _ = _analyse(_segment(tmp_path / "turned.mp4", view_change_at_s=3.0))
    changed = [frame.offset for frame in analysis.frames if frame.tamper.scene_changed]
    assert changed
    assert changed[0] == pytest.approx(4.0, abs=0.25)
    assert ("scene_changed", True) in [(c.kind, c.started) for c in analysis.tamper_changes]
    assert not any(frame.tamper.covered for frame in analysis.frames)
    # The background is learned anew from the new view rather than calling all of it motion for minutes.
    assert analysis.frames[-1].motion_fraction < 0.002


def test_a_new_view_that_stays_becomes_the_normal_view():
    watch = TamperWatch(adopt_after_s=4.0)
    street = street_picture(width=160, height=90)[..., 1]
    turned = np.ascontiguousarray(street_picture(width=160, height=90, seed=99)[::-1, ::-1, 1])
    flags = [watch.update(grey=street, dt=0.2) for _ in range(10)]
    flags += [watch.update(grey=turned, dt=0.2) for _ in range(40)]
    raised = [f.scene_changed for f in flags]
    assert not any(raised[:10])
    assert any(raised[10:20])
    assert not raised[-1]


def test_lighting_that_drifts_is_not_tampering(tmp_path: Path):
    # Evening falls: the picture loses 40 % of its brightness over 8 s, far faster than daylight does.
    path = _segment(tmp_path / "dusk.mp4", gain=lambda t: 1.0 - 0.05 * t)
    analysis, _, _ = _analyse(path)
    assert not any(frame.tamper.covered or frame.tamper.scene_changed for frame in analysis.frames)
    assert analysis.tamper_changes == ()


def test_people_walking_past_are_not_tampering(tmp_path: Path):
    crossings = [Crossing(start_s=0.5, height=0.9), Crossing(start_s=3.0, height=0.9, right_to_left=True)]
    analysis, _, _ = _analyse(_segment(tmp_path / "people.mp4", crossings=crossings))
    assert analysis.tamper_changes == ()


def test_a_dark_blank_picture_is_featureless_and_a_street_at_night_is_not():
    rng = np.random.default_rng(3)
    blank = np.clip(12 + rng.normal(0, 2, (90, 160)), 0, 255).astype(np.uint8)
    night = (street_picture(width=160, height=90)[..., 1] * 0.3).astype(np.uint8)
    assert picture_featureless(grey=blank)
    assert not picture_featureless(grey=night)
