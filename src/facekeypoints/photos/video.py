"""Faces in a video, frame after frame: the generator behind ``KeypointDetector.video`` and
``predict``'s video path, and the exponential smoothing of ``--smooth``. It takes the detector as
an argument, so it imports nothing of ``predict`` and both can use it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..fileio import DataError
from .detect import box_iou


def _smooth(faces: list[dict[str, Any]], previous: list[dict[str, Any]], alpha: float) -> None:
    """Exponential smoothing of each face's points with the same face in the previous frame (IoU > 0.3)."""
    if not previous or alpha <= 0:
        return
    prev_boxes = np.array([p["box"] for p in previous])
    for f in faces:
        overlap = box_iou(prev_boxes, np.array(f["box"]))
        if overlap.max() < 0.3:
            continue
        old = previous[int(np.argmax(overlap))]
        for name, k in f["keypoints"].items():
            for axis in ("x", "y"):
                k[axis] = round(alpha * old["keypoints"][name][axis] + (1 - alpha) * k[axis], 2)
        if "landmarks68" in f and "landmarks68" in old:
            f["landmarks68"] = [[round(alpha * a + (1 - alpha) * b, 2) for a, b in zip(p, q, strict=True)]
                                for p, q in zip(old["landmarks68"], f["landmarks68"], strict=True)]


def iter_video(det: Any, source: str | int | Path | cv2.VideoCapture,
               smooth: float = 0.0) -> Iterator[tuple[int, np.ndarray, list[dict[str, Any]]]]:
    """``(frame index, BGR frame, faces)`` from ``det`` (a ``KeypointDetector``) for each frame of a
    video file, a camera index or any source
    ``cv2.VideoCapture`` opens, each face's points smoothed with the previous frame's (``smooth``,
    as ``predict --smooth``). Raises ``DataError`` when the source cannot be opened."""
    cap = source if isinstance(source, cv2.VideoCapture) else cv2.VideoCapture(
        source if isinstance(source, int) else str(source))
    if not cap.isOpened():
        raise DataError(f"{source}: cannot open video")
    previous: list[dict[str, Any]] = []
    try:
        i = 0
        while True:
            ok, frame = cap.read()
            if not ok:
                return
            faces = det.detect(frame)
            _smooth(faces, previous, smooth)
            previous = faces
            yield i, frame, faces
            i += 1
    finally:
        cap.release()
