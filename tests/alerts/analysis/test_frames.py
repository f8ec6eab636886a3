"""Segment decoding: frames at the analysis rate, from files and streams, decoding only what the samples need."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from alerts.analysis.frames import DecodeStats, frames_sample
from tests.alerts.scenes import scene_frames, segment_write


def _segment(path: Path, *, seconds: float = 4.0, bframes: int = 0) -> Path:
    frames = scene_frames(width=320, height=180, fps=15, seconds=seconds)
    return segment_write(path=path, frames=frames, fps=15, bframes=bframes)


def test_it_samples_a_15_fps_segment_at_5_fps(still: Path):
    stats = DecodeStats()
    offsets = [frame.offset for frame in frames_sample(source=still, fps=5.0, stats=stats)]
    assert offsets == pytest.approx([i / 5 for i in range(20)], abs=1e-3)
    assert stats.packets == 60
    assert stats.frames_sampled == 20


def test_it_reads_a_segment_from_a_binary_stream(still: Path):
    frames = list(frames_sample(source=io.BytesIO(still.read_bytes()), fps=5.0))
    assert len(frames) == 20
    assert frames[0].size == (640, 360)
    assert frames[0].bgr().shape == (360, 640, 3)
    assert frames[0].grey(width=320).shape == (180, 320)


def test_it_does_not_decode_past_the_last_sample_of_each_group_of_pictures(still: Path):
    stats = DecodeStats()
    list(frames_sample(source=still, fps=5.0, stats=stats))
    # Samples land on frames 0, 3, 6, 9 and 12 of each one-second group of 15; frames 13 and 14 are never decoded.
    assert stats.packets_decoded == 4 * 13
    assert stats.frames_decoded == 4 * 13


def test_it_decodes_only_keyframes_when_the_rate_is_one_per_group(still: Path):
    stats = DecodeStats()
    offsets = [frame.offset for frame in frames_sample(source=still, fps=1.0, stats=stats)]
    assert offsets == pytest.approx([0.0, 1.0, 2.0, 3.0], abs=1e-3)
    assert stats.frames_decoded == 4


def test_it_skips_b_frames_it_does_not_need(tmp_path: Path):
    with_b = _segment(tmp_path / "b.mp4", bframes=2)
    stats = DecodeStats()
    offsets = [frame.offset for frame in frames_sample(source=with_b, fps=5.0, stats=stats)]
    assert offsets == pytest.approx([i / 5 for i in range(20)], abs=1e-3)
    # Every third frame is a P-frame the samples need; the B-frames between them are skipped by the decoder.
    assert stats.frames_decoded < 0.5 * stats.packets
    assert stats.frames_decoded >= stats.frames_sampled


def test_it_refuses_a_rate_of_zero(still: Path):
    with pytest.raises(ValueError, match="positive"):
        list(frames_sample(source=still, fps=0.0))
