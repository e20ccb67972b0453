"""Reading photos and finding faces in them.

Faces are found with OpenCV's frontal-face Haar cascade, which ships inside the
opencv-python-headless wheel (nothing is downloaded at run time). A detector box is turned
into the crop the keypoint model expects by a calibration fitted on annotated faces
(``benchmarks/fit_crop_calibration.py``): the crop's scale is ``k / box_width`` and the crop
centre sits at ``(x1 + u * w, y1 + v * h)`` of the box, so detector crops are framed like the
training crops of ``data convert``.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import cv2
import numpy as np

from .data.kaggle import DataError
from .geometry import to_gray

MAX_PIXELS = 100_000_000  # larger images are refused (decompression bombs)
DETECT_MAX_SIDE = 640  # images are downscaled to this for detection only


def read_image(source: str | Path | bytes | np.ndarray, name: str | None = None) -> np.ndarray:
    """Any common image (path, bytes, numpy array BGR/gray, or PIL image) as uint8 grayscale.

    EXIF orientation is applied; 16-bit, RGBA and palette images are converted.
    """
    if isinstance(source, np.ndarray):
        return to_gray(source)
    if hasattr(source, "convert") and hasattr(source, "size"):  # a PIL image (RGB order)
        return np.asarray(source.convert("L"))
    name = name or (str(source) if not isinstance(source, bytes) else "<bytes>")
    if isinstance(source, bytes):
        raw = source
    else:
        try:
            raw = Path(source).read_bytes()
        except OSError as e:
            raise DataError(f"{name}: cannot read file ({e.strerror or e})") from None
    if not raw:
        raise DataError(f"{name}: empty file")
    _check_size(raw, name)
    img = cv2.imdecode(np.frombuffer(raw, np.uint8), cv2.IMREAD_GRAYSCALE | cv2.IMREAD_ANYDEPTH)
    if img is None:
        raise DataError(f"{name}: not a readable image")
    return to_gray(img)


def _check_size(raw: bytes, name: str) -> None:
    """Refuse huge images from their header, before decoding a single pixel."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(raw)) as im:
            w, h = im.size
    except Image.DecompressionBombError:
        raise DataError(f"{name}: image too large (decompression bomb guard)") from None
    except Exception:  # noqa: BLE001 - formats PIL does not know are left to OpenCV
        return
    if w * h > MAX_PIXELS:
        raise DataError(f"{name}: image too large ({w}x{h} > {MAX_PIXELS:,} pixels)")


@dataclass(frozen=True)
class Calibration:
    """Detector box -> crop framing: scale = k / box width; crop centre at (x1 + u w, y1 + v h)."""

    k: float
    u: float
    v: float
    crop_size: int = 96

    def framing(self, box: np.ndarray) -> tuple[float, np.ndarray]:
        x1, y1, x2, y2 = map(float, box)
        w, h = x2 - x1, y2 - y1
        scale = self.k / w
        centre = np.array([x1 + self.u * w, y1 + self.v * h])
        return scale, (self.crop_size - 1) / 2 - scale * centre

    @classmethod
    def load(cls, name: str = "haar") -> Calibration:
        """The calibration shipped in the package (``assets/calibration_NAME.json``)."""
        try:
            text = resources.files("facekeypoints").joinpath(f"assets/calibration_{name}.json").read_text()
        except FileNotFoundError:
            raise FileNotFoundError(f"no fitted calibration 'assets/calibration_{name}.json' in the package; "
                                    "run benchmarks/fit_crop_calibration.py") from None
        d = json.loads(text)
        return cls(d["k"], d["u"], d["v"])


def box_iou(boxes: np.ndarray, box: np.ndarray) -> np.ndarray:
    """Intersection over union of boxes ``(N, 4)`` with one box ``(4,)``, all x1, y1, x2, y2."""
    lt, rb = np.maximum(boxes[:, :2], box[:2]), np.minimum(boxes[:, 2:], box[2:])
    inter = np.clip(rb - lt, 0, None).prod(1)
    return inter / ((boxes[:, 2:] - boxes[:, :2]).prod(1) + (box[2:] - box[:2]).prod() - inter)


class HaarDetector:
    """OpenCV's frontal-face Haar cascade; boxes ``(N, 4)`` x1, y1, x2, y2 and scores ``(N,)``."""

    def __init__(self, max_side: int = DETECT_MAX_SIDE, min_neighbors: int = 5, min_size: int = 24):
        path = cv2.data.haarcascades + "haarcascade_frontalface_default.xml"
        self.cascade = cv2.CascadeClassifier(path)
        if self.cascade.empty():
            raise RuntimeError(f"cannot load the Haar cascade {path}")
        self.max_side, self.min_neighbors, self.min_size = max_side, min_neighbors, min_size

    def __call__(self, gray: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        h, w = gray.shape[:2]
        f = min(1.0, self.max_side / max(h, w))
        small = cv2.resize(gray, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA) \
            if f < 1 else gray
        small = cv2.equalizeHist(small)
        rects, _, weights = self.cascade.detectMultiScale3(
            small, scaleFactor=1.1, minNeighbors=self.min_neighbors, minSize=(self.min_size, self.min_size),
            outputRejectLevels=True)
        if len(rects) == 0:
            return np.zeros((0, 4), np.float32), np.zeros(0, np.float32)
        rects = np.asarray(rects, np.float32) / f
        boxes = np.concatenate([rects[:, :2], rects[:, :2] + rects[:, 2:]], 1)
        # Haar's level weights are unbounded margins; squash them to (0, 1) for a face score.
        scores = 1 / (1 + np.exp(-np.asarray(weights, np.float32).reshape(-1)))
        order = np.argsort(-scores)
        return boxes[order], scores[order]
