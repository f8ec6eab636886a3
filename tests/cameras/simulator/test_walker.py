"""A simulated camera can show a real picture of a person crossing its view, for the analytics to find."""

from __future__ import annotations

import numpy as np

from cameras.simulator.scene import StreetScene, walker_position


def _sprite() -> np.ndarray:
    sprite = np.zeros((100, 40, 3), dtype=np.uint8)
    sprite[:, :] = (0, 0, 255)  # pure red: nothing in the street is
    return sprite


def _red_columns(frame: np.ndarray) -> np.ndarray:
    red = (frame[:, :, 2] > 240) & (frame[:, :, 0] < 15) & (frame[:, :, 1] < 15)
    return np.flatnonzero(red.any(axis=0))


def test_the_walker_crosses_from_left_to_right_within_its_period() -> None:
    scene = StreetScene(index=1, name="cam1", width=320, height=180, walker=_sprite(), walker_period_s=10.0)

    early = _red_columns(scene.render(at=1000.0 + 2.0))
    late = _red_columns(scene.render(at=1000.0 + 8.0))

    assert early.size and late.size
    assert late.mean() > early.mean()


def test_it_enters_at_the_left_edge_at_each_period() -> None:
    assert walker_position(at=20.0, width=320, walker_width=40, period_s=10.0) == -40
    assert walker_position(at=29.999, width=320, walker_width=40, period_s=10.0) >= 310


def test_a_camera_without_a_walker_shows_none() -> None:
    frame = StreetScene(index=1, name="cam1", width=320, height=180).render(at=1002.0)

    assert _red_columns(frame).size == 0
