"""A sample picture the project draws itself: two cartoon faces, no third-party photos.

``facekeypoints predict`` with no PATH runs on it, so a fresh install can show the whole
pipeline (detection, framing, keypoints, drawing) without downloading anything.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def _draw_face(img: np.ndarray, cx: float, cy: float, s: float) -> None:
    """Paint one shaded face centred at ``(cx, cy)``, ``s`` = scale (1 = a 280x370 px head), in place."""
    h, w = img.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r = ((xx - cx) / (140 * s)) ** 2 + ((yy - cy) / (185 * s)) ** 2
    inside = r < 1
    img[inside] = 120 + 90 * (1 - r[inside]) ** 0.35  # a lit oval, darker towards its rim

    def paint(x: float, y: float, rx: float, ry: float, value: float, angle: float = 0) -> None:
        """A filled ellipse turned by ``angle`` degrees, its edge blurred (Gaussian, sigma 4 s)."""
        sigma = 4 * s
        r = int(np.ceil(4 * sigma))
        x0, y0 = max(0, int(x - rx - ry - 2 * r)), max(0, int(y - rx - ry - 2 * r))  # the only pixels it touches
        x1, y1 = min(w, int(x + rx + ry + 2 * r) + 1), min(h, int(y + rx + ry + 2 * r) + 1)
        yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
        c, sn = np.cos(np.radians(angle)), np.sin(np.radians(angle))
        u, v = (xx - x) * c + (yy - y) * sn, (yy - y) * c - (xx - x) * sn
        mask = ((u / rx) ** 2 + (v / ry) ** 2 <= 1).astype(np.float32)
        k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2).astype(np.float32)
        k /= k.sum()
        mask = sliding_window_view(np.pad(mask, ((0, 0), (r, r))), 2 * r + 1, axis=1) @ k
        mask = sliding_window_view(np.pad(mask, ((r, r), (0, 0))), 2 * r + 1, axis=0) @ k
        part = img[y0:y1, x0:x1]
        part[:] = part * (1 - mask) + value * mask

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
    from ..imaging import encode

    path = cache_dir() / "sample_faces.png"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        png = encode(sample_image(), ".png")
        atomic_write(path, lambda p: Path(p).write_bytes(png))
    return path
