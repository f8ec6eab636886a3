"""A simulated camera can show a pedestrian crossing its view, for the analytics to find."""

from __future__ import annotations

import numpy as np

from devtools.simulator.scene import StreetScene, walker_position


def _walker_columns(frame: np.ndarray) -> np.ndarray:
    """Columns showing the walker's clothes colour, which nothing else in the street has."""
    clothes = (frame[:, :, 0] == 60) & (frame[:, :, 1] == 50) & (frame[:, :, 2] == 45)
    return np.flatnonzero(clothes.any(axis=0))


def test_the_walker_crosses_from_left_to_right_within_its_period() -> None:
    scene = StreetScene(index=1, name="cam1", width=320, height=180, walker=True, walker_period_s=10.0)

    early = _walker_columns(scene.render(at=1000.0 + 2.0))
    late = _walker_columns(scene.render(at=1000.0 + 8.0))

    assert early.size and late.size
    assert late.mean() > early.mean()


def test_it_enters_at_the_left_edge_at_each_period() -> None:
    assert walker_position(at=20.0, width=320, walker_width=40, period_s=10.0) == -40
    assert walker_position(at=29.999, width=320, walker_width=40, period_s=10.0) >= 310


def test_a_camera_without_a_walker_shows_none() -> None:
    frame = StreetScene(index=1, name="cam1", width=320, height=180).render(at=1002.0)

    assert _walker_columns(frame).size == 0
