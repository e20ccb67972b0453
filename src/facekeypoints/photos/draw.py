"""Pictures with the faces found drawn on them, written in the input's own format."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..fileio import atomic_write


def draw(image: np.ndarray, faces: list[dict[str, Any]], names: bool = False) -> np.ndarray:
    """A BGR copy of the image (gray or BGR) with boxes and keypoints drawn on it."""
    img = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR) if image.ndim == 2 else image.copy()
    r = max(1, round(max(img.shape[:2]) / 300))
    for f in faces:
        x1, y1, x2, y2 = (round(v) for v in f["box"])
        cv2.rectangle(img, (x1, y1), (x2, y2), (255, 160, 0), r)
        # Name labels only where the face is large enough for them to be read.
        label = names and (x2 - x1) >= 160
        scale = max(0.3, (x2 - x1) / 700)
        for x, y in f.get("landmarks68", ()):  # predict --points 68: the 68 in green, under the 15
            cv2.circle(img, (round(x), round(y)), r, (0, 200, 0), -1)
        for name, k in f["keypoints"].items():
            cv2.circle(img, (round(k["x"]), round(k["y"])), r + 1, (0, 0, 255), -1)
            if label:
                cv2.putText(img, name, (round(k["x"]) + 3, round(k["y"])), cv2.FONT_HERSHEY_SIMPLEX, scale,
                            (0, 255, 255), 1, cv2.LINE_AA)
    return img


def save_image(path: Path, image: np.ndarray) -> Path:
    """Write atomically in the format ``path``'s suffix names (PNG where OpenCV cannot write that one)."""
    ok, buf = cv2.imencode(path.suffix, image) if path.suffix else (False, None)
    if not ok:
        path = path.with_suffix(".png")
        ok, buf = cv2.imencode(".png", image)
    return atomic_write(path, lambda p: p.write_bytes(buf.tobytes()))
