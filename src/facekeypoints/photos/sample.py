"""A sample picture the project draws itself: two cartoon faces, no third-party photos.

``facekeypoints predict`` with no PATH runs on it, so a fresh install can show the whole
pipeline (detection, framing, keypoints, drawing) without downloading anything.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


def _draw_face(img: np.ndarray, cx: float, cy: float, s: float) -> None:
    """Paint one shaded face centred at ``(cx, cy)``, ``s`` = scale (1 = a 280x370 px head), in place."""
    h, w = img.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r = ((xx - cx) / (140 * s)) ** 2 + ((yy - cy) / (185 * s)) ** 2
    inside = r < 1
    img[inside] = 120 + 90 * (1 - r[inside]) ** 0.35  # a lit oval, darker towards its rim

    def paint(x: float, y: float, rx: float, ry: float, value: float, angle: float = 0) -> None:
        mask = np.zeros_like(img)
        cv2.ellipse(mask, (round(x), round(y)), (round(rx), round(ry)), angle, 0, 360, 1.0, -1)
        mask = cv2.GaussianBlur(mask, (0, 0), 4 * s)
        img[:] = img * (1 - mask) + value * mask

    for side in (-1, 1):
        ex = cx + side * 58 * s
        paint(ex, cy - 40 * s, 34 * s, 16 * s, 40)  # eye socket shadow
        paint(ex, cy - 40 * s, 22 * s, 10 * s, 235)  # white of the eye
        paint(ex, cy - 40 * s, 9 * s, 9 * s, 25)  # iris
        paint(cx + side * 60 * s, cy - 82 * s, 40 * s, 7 * s, 60, -8 * side)  # eyebrow
    paint(cx, cy - 5 * s, 10 * s, 30 * s, 215)  # nose bridge highlight
    paint(cx, cy + 25 * s, 16 * s, 9 * s, 95)  # nostrils' shadow
    paint(cx, cy + 80 * s, 46 * s, 9 * s, 80)  # mouth
    paint(cx, cy + 92 * s, 30 * s, 6 * s, 190)  # lower lip highlight


def sample_image(seed: int = 0) -> np.ndarray:
    """A 800x500 grayscale uint8 picture with two faces of different sizes."""
    img = np.full((500, 800), 70, np.float32)
    _draw_face(img, 260, 255, 1.15)
    _draw_face(img, 610, 250, 0.7)
    img += np.random.default_rng(seed).normal(0, 3, img.shape)  # a little sensor noise
    return np.clip(img, 0, 255).astype(np.uint8)


def sample_path() -> Path:
    """The sample written once as PNG in the cache folder (``$FACEKEYPOINTS_CACHE``)."""
    from ..fileio import atomic_write, cache_dir

    path = cache_dir() / "sample_faces.png"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        ok, png = cv2.imencode(".png", sample_image())
        atomic_write(path, lambda p: Path(p).write_bytes(png.tobytes()))
    return path
