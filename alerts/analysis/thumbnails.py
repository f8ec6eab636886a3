"""JPEG thumbnails of detections, for searching footage by what was seen."""

from __future__ import annotations

import cv2
import numpy as np

from alerts.analysis.objects import Box


def thumbnail_crop(
    *, image: np.ndarray, box: Box, max_side: int = 160, margin: float = 0.1, quality: int = 80
) -> bytes:
    """The region of `image` (BGR) around `box` (normalised) with `margin` of its size on each side, at most
    `max_side` pixels on its longer side, as JPEG bytes; empty bytes for a box outside the picture."""
    height, width = image.shape[:2]
    x, y, w, h = box
    left = max(0, int((x - w * margin) * width))
    top = max(0, int((y - h * margin) * height))
    right = min(width, int(np.ceil((x + w * (1 + margin)) * width)))
    bottom = min(height, int(np.ceil((y + h * (1 + margin)) * height)))
    if right <= left or bottom <= top:
        return b""
    crop = image[top:bottom, left:right]
    longest = max(crop.shape[:2])
    if longest > max_side:
        factor = max_side / longest
        crop = cv2.resize(crop, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
    ok, jpeg = cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return jpeg.tobytes() if ok else b""
