"""Pictures with the faces found drawn on them, written in the input's own format (Pillow)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..fileio import atomic_write
from ..imaging import as_bgr, encode

BOX, POINT68, POINT15, LABEL = (0, 160, 255), (0, 200, 0), (255, 0, 0), (255, 255, 0)  # RGB


def draw(image: np.ndarray, faces: list[dict[str, Any]], names: bool = False) -> np.ndarray:
    """A BGR copy of the image (gray or BGR) with boxes and keypoints drawn on it."""
    from PIL import Image, ImageDraw, ImageFont

    pic = Image.fromarray(np.ascontiguousarray(as_bgr(image)[..., ::-1]))
    pen = ImageDraw.Draw(pic)
    r = max(1, round(max(image.shape[:2]) / 300))

    def dot(x: float, y: float, radius: int, colour: tuple[int, int, int]) -> None:
        pen.ellipse((x - radius, y - radius, x + radius, y + radius), fill=colour)

    for f in faces:
        x1, y1, x2, y2 = (round(v) for v in f["box"])
        pen.rectangle((x1, y1, x2, y2), outline=BOX, width=r)
        label = names and (x2 - x1) >= 160  # name labels only where the face is large enough to read them
        font = ImageFont.load_default(size=max(8, round((x2 - x1) / 32))) if label else None
        for x, y in f.get("landmarks68", ()):  # predict --points 68: the 68 in green, under the 15
            dot(x, y, r, POINT68)
        for name, k in f["keypoints"].items():
            dot(k["x"], k["y"], r + 1, POINT15)
            if font is not None:
                pen.text((k["x"] + 3, k["y"]), name, fill=LABEL, font=font, anchor="ls")
    return np.ascontiguousarray(np.asarray(pic)[..., ::-1])


def save_image(path: Path, image: np.ndarray) -> Path:
    """Write atomically in the format ``path``'s suffix names (PNG where Pillow cannot write that one)."""
    data = encode(image, path.suffix) if path.suffix else None
    if data is None:
        path = path.with_suffix(".png")
        data = encode(image, ".png")
    return atomic_write(path, lambda p: p.write_bytes(data))
