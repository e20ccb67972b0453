"""Reading photos, finding faces in them, and framing each face into the crop the model expects.

Detectors share one small interface: ``detector(image) -> Detections`` (boxes, scores and,
where the detector gives them, 5 landmarks: the subject's right eye, left eye, nose tip,
right and left mouth corners). Two ship inside the package, nothing is downloaded:

- ``yunet`` (default): OpenCV's YuNet (2023mar, MIT), run by onnxruntime: the graph in
  ``assets/`` is OpenCV's int8 file with its weights dequantized and its input size freed
  (``benchmarks/make_yunet_graph.py``), checked against its sha256 when loaded. Its outputs are
  decoded here exactly as ``cv2.FaceDetectorYN`` decodes them (same boxes, landmarks and scores;
  provenance and the check: docs/predict.md). No OpenCV needed.
- ``haar``: OpenCV's frontal-face Haar cascade (no landmarks; boxes only; needs OpenCV).

Pixels (decoding, grey, shrinking) come from ``imaging.py``: NumPy and Pillow, the same bytes as
the OpenCV calls they replaced.

A ``Framer`` turns a detection into the ``(2, 3)`` affine framing of the crop: from the 5
landmarks, fitted onto where those points sit in ``data convert``'s training crops (the
``template5`` of ``assets/calibration_DETECTOR.json``, fitted by
``benchmarks/fit_crop_calibration.py``), else from the box.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from ..fileio import DataError, sha256_file
from ..geometry import (
    KAGGLE_TEMPLATE,
    REFERENCE_SIZE,
    apply_affine,
    crop_affine,
    fit_scale_shift,
    fit_similarity,
    invert_affine,
    resize_framing,
    scale_shift_matrix,
)
from ..imaging import ImageDecodeError, as_bgr, decode, require_opencv, shrink_area, shrink_quick, to_gray

MAX_PIXELS = 100_000_000  # larger images are refused (decompression bombs)
DETECT_MAX_SIDE = 640  # images are downscaled to this for detection only (Haar; YuNet's closest look)
# YuNet looks at a photo first with this long side, then closer (twice the side, up to DETECT_MAX_SIDE) while it
# finds no face or its smallest face is under SMALL_FACE px there: faces come in groups of like sizes, and
# YuNet finds under 95% of the faces under about 20 px at the side it sees (docs/benchmarks.md, section 22).
YUNET_SIDE = 256
SMALL_FACE = 40
# A first look under RECHECK_SIDE (a model card's ``predict.detect_side``, or ``--detect-size``) is checked at this
# side where the keypoint network is unsure of a face or YuNet scores one low (``KeypointDetector.rechecked``): at
# 160 px YuNet gives some heads rolled by 45-60 degrees a box about twice too large, which 256 px frames right,
# and misses a few faces beside a weak one (section 24).
RECHECK_SIDE = 256
SEARCH_SIDE = 320  # the side of each turned view of a whole photo (``YuNetDetector.search``)
# onnxruntime threads for YuNet: one. Run after run beside the keypoint network, on one thread it took 0.3-0.5 ms
# less per photo than on two or onnxruntime's choice (2-core CPU; docs/benchmarks.md, section 22).
YUNET_THREADS = 1
DEFAULT_MIN_SCORE = {"yunet": 0.6, "haar": 0.0}  # faces scoring under this are never reported
FIVE_POINTS = ("right_eye_center", "left_eye_center", "nose_tip", "mouth_right_corner", "mouth_left_corner")
YUNET_FILE = "yunet_2023mar.onnx"  # made by benchmarks/make_yunet_graph.py from OpenCV's int8bq file
YUNET_SHA256 = "f4207688ee262fcc24499ae772fc8498f0273ed929b6a807758d9b9061235072"
YUNET_STRIDES = (8, 16, 32)
# A second look at one face (``YuNetDetector.look``): a view of LOOK_SIDE px showing LOOK_REGION times
# the face box's long side around its centre, turned. YuNet's 5 landmarks follow only about a third
# of a head's roll past 15 degrees (benchmarks/roll_framing.py), but a view turned near upright shows
# the face as YuNet was trained to see it, and its landmarks carry the turn back.
LOOK_SIDE = 160
LOOK_REGION = 2.0


def read_image(source: str | Path | bytes | np.ndarray | Any, name: str | None = None,
               color: bool = False) -> np.ndarray:
    """Any common image (path, bytes, numpy array BGR/gray, or PIL image) as uint8.

    Grayscale ``(H, W)`` by default; with ``color`` a BGR ``(H, W, 3)`` image (gray inputs
    are expanded). EXIF orientation is applied; 16-bit, RGBA and palette images are converted.
    """
    if isinstance(source, np.ndarray):
        source = _as_uint8(source)
        return as_bgr(source) if color else to_gray(source)
    if hasattr(source, "convert") and hasattr(source, "size"):  # a PIL image (RGB order)
        if color:
            return np.ascontiguousarray(np.asarray(source.convert("RGB"))[..., ::-1])
        return np.asarray(source.convert("L"))
    name, raw = _raw(source, name)
    return _decode(raw, name, color, opened=_header(raw, name)[1])


def _as_uint8(image: np.ndarray) -> np.ndarray:
    """A decoded array as 0..255: floats in 0..1 (as scikit-image and PIL-to-float code give) are
    scaled; other floats are taken as 0..255. Shapes other than (H, W), (H, W, 3|4) are an error."""
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (1, 3, 4)) or min(image.shape[:2]) < 1:
        raise DataError(f"<array>: an image is (H, W) or (H, W, 3|4), got shape {image.shape}")
    if image.dtype.kind == "f":
        finite = image[np.isfinite(image)]
        scale = 255.0 if finite.size and finite.max() <= 1.0 else 1.0
        return np.clip(np.nan_to_num(image) * scale + 0.5, 0, 255).astype(np.uint8)
    if image.dtype.kind == "b":
        return image.astype(np.uint8) * 255
    return image


def _raw(source: str | Path | bytes, name: str | None) -> tuple[str, bytes]:
    """A display name and the file's bytes (a clear error for a missing or empty file)."""
    if not isinstance(source, (str, Path, bytes, bytearray, memoryview)):
        raise DataError(f"cannot read an image from {type(source).__name__}: pass a path, bytes, a numpy "
                        "array (BGR or gray; uint8, or floats in 0..1) or a PIL image")
    if isinstance(source, (bytearray, memoryview)):
        source = bytes(source)
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
    return name, raw


def _decode(raw: bytes, name: str, color: bool, reduce: int = 1, opened: Any = None) -> np.ndarray:
    """Checked bytes to uint8 gray or BGR (``reduce``: a JPEG decoded at 1/2, 1/4 or 1/8; ``opened``:
    ``_header``'s PIL image of them)."""
    try:
        img = decode(raw, reduce, opened=opened)
    except ImageDecodeError as e:
        raise DataError(f"{name}: not a readable image ({e})") from None
    return img if color else to_gray(img)


class Picture:
    """A decoded photo for the pipeline. A large JPEG is decoded at 1/2, 1/4 or 1/8 of its size
    (libjpeg scales while decoding, ~3x faster for 12 MP) for detection and for the faces that
    are large enough; ``full()`` decodes it whole, once, only when a face needs the pixels.

    ``factor`` r: a pixel centre p of ``image`` sits at ``r p + (r - 1) / 2`` of the full image.
    ``width``/``height`` are the full image's (after EXIF orientation).
    """

    def __init__(self, image: np.ndarray, raw: bytes | None = None, factor: int = 1, name: str = "<image>",
                 size: tuple[int, int] | None = None):
        self.image, self._raw, self.factor, self.name = image, raw, factor, name
        self._full = image if factor == 1 else None
        self.height, self.width = size or image.shape[:2]  # size: the full image's (h, w) when reduced

    def full(self) -> np.ndarray:
        if self._full is None:
            self._full = _decode(self._raw, self.name, color=True)
        return self._full

    def to_full(self) -> np.ndarray:
        """The ``(2, 3)`` map from ``image`` pixels to full-image pixels."""
        r = float(self.factor)
        return np.array([[r, 0.0, (r - 1) / 2], [0.0, r, (r - 1) / 2]])


def read_picture(source: str | Path | bytes | np.ndarray | Any, name: str | None = None,
                 detect_side: int = DETECT_MAX_SIDE) -> Picture:
    """A ``Picture`` of any image ``read_image`` takes; JPEGs larger than twice ``detect_side``
    (long side) are decoded reduced, as far as keeps the long side at least ``detect_side``."""
    if not isinstance(source, (bytes, str, Path)):
        return Picture(read_image(source, name, color=True))  # arrays, PIL images; other types: one clear error
    name, raw = _raw(source, name)
    size, opened = _header(raw, name)  # the full image's (h, w) after EXIF orientation, None if PIL cannot tell
    factor = next((r for r in (8, 4, 2) if size and max(size) / r >= detect_side), 1)
    if factor == 1 or raw[:3] != b"\xff\xd8\xff":  # small, or not a JPEG (libjpeg reduces only those)
        return Picture(_decode(raw, name, color=True, opened=opened), name=name)
    return Picture(_decode(raw, name, color=True, reduce=factor, opened=opened), raw, factor, name, size)


def _header(raw: bytes, name: str) -> tuple[tuple[int, int] | None, Any]:
    """Refuse huge images from their header, before decoding a single pixel. Returns ``(h, w)`` when
    PIL reads the header (a JPEG's after EXIF orientation, other formats' as stored), else None; and
    the PIL image opened on ``raw`` (no pixel loaded: ``decode`` goes on from it), else None."""
    from PIL import Image

    try:
        im = Image.open(io.BytesIO(raw))
        w, h = im.size
        # a quarter turn swaps the sides; only a JPEG's size is used (read_picture's reduced decode), and
        # only there is the EXIF in the header (a PNG's eXIf may follow its pixels: Pillow would decode them)
        turned = im.format == "JPEG" and im.getexif().get(0x0112, 1) in (5, 6, 7, 8)
    except Image.DecompressionBombError:
        raise DataError(f"{name}: image too large (decompression bomb guard)") from None
    except Exception:  # noqa: BLE001 - not an image: the decoder says so, naming the file
        return None, None
    if w * h > MAX_PIXELS:
        raise DataError(f"{name}: image too large ({w}x{h} > {MAX_PIXELS:,} pixels)")
    return ((w, h) if turned else (h, w)), im


@dataclass(frozen=True)
class Detections:
    """Faces found in one image, strongest first: ``boxes (N, 4)`` x1, y1, x2, y2, ``scores (N,)``
    in 0..1 and ``landmarks (N, 5, 2)`` in ``FIVE_POINTS`` order (NaN where the detector gives none)."""

    boxes: np.ndarray
    scores: np.ndarray
    landmarks: np.ndarray

    @classmethod
    def empty(cls) -> Detections:
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros((0, 5, 2), np.float32))

    def __len__(self) -> int:
        return len(self.scores)

    def keep(self, mask: np.ndarray) -> Detections:
        return Detections(self.boxes[mask], self.scores[mask], self.landmarks[mask])


# An image at most this much larger than the detector's side is read as it is. Chosen when the shrink was
# an area shrink (section 14: YuNet on the extra pixels cost less); with ``shrink_quick`` 1.0, 1.2 and 1.4
# gave the same NME and times within 0.1 ms on the YT15 val frames (section 22), so it stayed.
NATIVE_UP_TO = 1.4


@dataclass(frozen=True)
class Look:
    """One face seen again (``YuNetDetector.look``): ``view`` maps image pixels to the turned view's,
    where YuNet found ``box``, its 5 ``landmarks`` and ``score``. ``Framer.framing(box, landmarks)``
    frames the face in the view; composed with ``view`` it frames the face in the image."""

    view: np.ndarray
    box: np.ndarray
    landmarks: np.ndarray
    score: float


def _seen_side(long_side: int, max_side: int, native_up_to: float) -> int:
    """The long side a detector working at ``max_side`` sees of an image: the image's own up to
    ``native_up_to`` times ``max_side``, else ``max_side``."""
    return long_side if long_side <= native_up_to * max_side else max_side


def _shrink(image: np.ndarray, max_side: int, native_up_to: float = 1.0,
            quick: bool = False) -> tuple[np.ndarray, float]:
    """The copy of ``image`` a detector at ``max_side`` sees, and its scale (``quick``: ``shrink_quick``,
    else the area shrink)."""
    h, w = image.shape[:2]
    side = _seen_side(max(h, w), max_side, native_up_to)
    if side == max(h, w):
        return image, 1.0
    f = side / max(h, w)
    if quick:
        return shrink_quick(image, f), f
    return shrink_area(image, max(1, round(w * f)), max(1, round(h * f))), f


class YuNetDetector:
    """OpenCV's YuNet face detector with its 5 landmarks, run by onnxruntime.

    Images are shrunk to ``max_side`` for detection (``shrink_quick``; YuNet finds faces of about 10 to 300
    pixels at the size it sees; its time grows with the pixels it sees; up to ``native_up_to``
    times that side an image is read as it is); when nothing is found
    there, or its smallest face is under ``small_face`` px there, once more at twice the side, up to
    ``retry_side``: small faces in a large photo. The looks' faces are merged (non-maximum suppression).
    Faces scoring under ``min_score`` are dropped. ``threads``: onnxruntime's threads (0: its choice).
    ``recheck_side``: the first side of the look a caller asks for when it doubts a face found (0: none; also
    none where it is not over ``max_side``).
    """

    name = "yunet"

    def __init__(self, min_score: float = DEFAULT_MIN_SCORE["yunet"], max_side: int = YUNET_SIDE,
                 retry_side: int = DETECT_MAX_SIDE, nms: float = 0.3, top_k: int = 5000, threads: int = YUNET_THREADS,
                 small_face: float = SMALL_FACE, search_side: int = SEARCH_SIDE, native_up_to: float = NATIVE_UP_TO,
                 recheck_side: int = RECHECK_SIDE):
        import onnxruntime as ort

        with resources.as_file(resources.files("facekeypoints") / "assets" / YUNET_FILE) as path:
            if not path.exists() or sha256_file(path) != YUNET_SHA256:
                raise RuntimeError(f"{path}: the vendored YuNet graph is missing or altered "
                                   f"(expected sha256 {YUNET_SHA256}); reinstall facekeypoints")
            opts = ort.SessionOptions()
            opts.log_severity_level = 3  # the graph's unused shape constants are not news to a user
            # no busy-waiting between runs: its threads would take the cores the keypoint network,
            # decoding and other processes need next (measured: docs/benchmarks.md section 12)
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
            if threads:
                opts.intra_op_num_threads, opts.inter_op_num_threads = threads, 1
            self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        self.outputs = [o.name for o in self.session.get_outputs()]
        self.min_score, self.max_side, self.retry_side = min_score, max_side, max(retry_side, max_side)
        self.nms, self.top_k, self.small_face, self.search_side = nms, top_k, small_face, search_side
        self.native_up_to = native_up_to
        self._recheck_side = recheck_side

    @property
    def recheck_side(self) -> int:
        """The side a doubted face's photo is looked at again from: only one that sees more pixels (0: none)."""
        return self._recheck_side if self._recheck_side > self.max_side else 0

    def _detect(self, bgr: np.ndarray, max_side: int) -> np.ndarray:
        small, f = _shrink(bgr, max_side, self.native_up_to, quick=True)
        out = self.decode(small)
        out[:, :14] /= f
        return out

    def decode(self, bgr: np.ndarray) -> np.ndarray:
        """Faces ``(N, 15)`` in a BGR image as YuNet sees it: x, y, w, h, 5 landmarks, score, as
        ``cv2.FaceDetectorYN.detect`` returns them (the same decoding and non-maximum suppression)."""
        h, w = bgr.shape[:2]
        ph, pw = (h - 1) // 32 * 32 + 32, (w - 1) // 32 * 32 + 32  # padded to whole 32-px cells, black
        blob = np.zeros((1, 3, ph, pw), np.float32)
        blob[0, :, :h, :w] = bgr.transpose(2, 0, 1)
        res = dict(zip(self.outputs, self.session.run(self.outputs, {"input": blob}), strict=True))
        faces = []
        for s in YUNET_STRIDES:  # decode only the grid cells that can pass the score threshold
            score = np.sqrt(np.clip(res[f"cls_{s}"][0, :, 0], 0, 1) * np.clip(res[f"obj_{s}"][0, :, 0], 0, 1))
            cells = np.flatnonzero(score > self.min_score)
            if len(cells) == 0:  # most strides of most photos: nothing more to do there
                continue
            rows, cols = np.divmod(cells, pw // s)
            at = np.stack([cols, rows], 1).astype(np.float32)
            st = np.float32(s)
            box, kps = res[f"bbox_{s}"][0, cells], res[f"kps_{s}"][0, cells]
            f = np.empty((len(cells), 15), np.float32)  # x, y, w, h, 5 landmarks, score
            f[:, 2:4] = np.exp(box[:, 2:4]) * st
            f[:, :2] = (at + box[:, :2]) * st - f[:, 2:4] / np.float32(2)
            f[:, 4:14] = ((kps.reshape(-1, 5, 2) + at[:, None, :]) * st).reshape(-1, 10)
            f[:, 14] = score[cells]
            faces.append(f)
        if not faces:
            return np.zeros((0, 15), np.float32)
        faces = np.concatenate(faces) if len(faces) > 1 else faces[0]
        return faces[self._suppress(faces)]

    def _suppress(self, faces: np.ndarray) -> list[int]:
        """OpenCV's ``NMSBoxes`` as YuNet calls it on faces already over the score threshold: the
        ``top_k`` best (stable order), greedy suppression by IoU of the boxes cut to whole pixels (a box is
        dropped when it overlaps a kept, better one by more than ``nms``)."""
        cand = np.argsort(-faces[:, 14], kind="stable")[: self.top_k]  # decode kept only scores above the threshold
        x, y = np.trunc(faces[cand, 0]), np.trunc(faces[cand, 1])
        w, h = np.trunc(faces[cand, 2]), np.trunc(faces[cand, 3])
        alive = np.ones(len(cand), bool)
        keep: list[int] = []
        for i in range(len(cand)):
            if not alive[i]:
                continue
            keep.append(i)
            rest = np.arange(i + 1, len(cand))[alive[i + 1:]]
            iw = np.clip(np.minimum(x[i] + w[i], x[rest] + w[rest]) - np.maximum(x[i], x[rest]), 0, None)
            ih = np.clip(np.minimum(y[i] + h[i], y[rest] + h[rest]) - np.maximum(y[i], y[rest]), 0, None)
            inter = iw * ih
            alive[rest[inter / (w[i] * h[i] + w[rest] * h[rest] - inter) > self.nms]] = False
        return [int(cand[i]) for i in keep]

    def _turned(self, image: np.ndarray, centre: np.ndarray, degrees: float, scale: float,
                side: int) -> list[Look]:
        """Every face YuNet finds in a ``side``-px view of ``image`` turned by ``degrees`` (counter-clockwise
        as seen) and scaled by ``scale`` about ``centre`` (image pixels), which lands mid-view: best first."""
        a = np.radians(degrees)
        rot = scale * np.array([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]])
        view = np.column_stack((rot, (side - 1) / 2 - rot @ np.asarray(centre, np.float64)))
        pixels = np.ascontiguousarray(crop_affine(image, view, side, channels=3).transpose(1, 2, 0))
        return [Look(view, np.concatenate((f[:2], f[:2] + f[2:4])), f[4:14].reshape(5, 2), float(f[14]))
                for f in self.decode(pixels)]

    def look(self, image: np.ndarray, box: np.ndarray, degrees: float) -> Look | None:
        """The face in ``box`` (image pixels) seen again in a view turned by ``degrees`` (counter-clockwise
        as seen) about the box centre; None when that view shows no face at its centre."""
        x1, y1, x2, y2 = map(float, box)
        scale = LOOK_SIDE / (LOOK_REGION * max(x2 - x1, y2 - y1, 1.0))
        mid = (LOOK_SIDE - 1) / 2  # the face looked at: the best one whose box holds the view's centre
        return next((lk for lk in self._turned(image, np.array([(x1 + x2) / 2, (y1 + y2) / 2]), degrees, scale,
                                               LOOK_SIDE)
                     if lk.box[0] <= mid <= lk.box[2] and lk.box[1] <= mid <= lk.box[3]), None)

    def search(self, image: np.ndarray, degrees: float) -> list[Look]:
        """Every face in the whole image turned by ``degrees`` (counter-clockwise as seen) about its
        centre, on a square view that holds all of it, at most ``search_side`` pixels a side: best first."""
        h, w = image.shape[:2]
        c, s = abs(np.cos(np.radians(degrees))), abs(np.sin(np.radians(degrees)))
        reach = max(w * c + h * s, w * s + h * c)  # the turned image's long side
        side = max(32, int(np.ceil(min(reach, self.search_side))))
        return self._turned(image, np.array([(w - 1) / 2, (h - 1) / 2]), degrees, side / reach, side)

    def __call__(self, image: np.ndarray, side: int | None = None) -> Detections:
        """The faces in a BGR or grey image, its first look at ``side`` px (None: ``max_side``)."""
        bgr = image if image.ndim == 3 and image.shape[2] == 3 else as_bgr(image)
        long_side = max(bgr.shape[:2])
        looks, side, seen = [], side or self.max_side, 0
        while True:
            if _seen_side(long_side, side, self.native_up_to) != seen:  # a closer look that sees other pixels
                seen = _seen_side(long_side, side, self.native_up_to)
                looks.append(self._detect(bgr, side))
                out = looks[-1]
                if len(out) and out[:, 2:4].max(1).min() * seen / long_side >= self.small_face:
                    break  # no face near the smallest YuNet finds: no smaller ones likely beside them
            if side >= self.retry_side:
                break
            side = min(2 * side, self.retry_side)
        out = looks[0]
        if len(looks) > 1:  # the same face seen in several looks: the best one stays
            out = np.concatenate(looks)
            out = out[self._suppress(out)]
        boxes = np.column_stack((out[:, :2], out[:, :2] + out[:, 2:4]))  # decode kept faces over min_score, best first
        return Detections(boxes, out[:, 14].copy(), out[:, 4:14].reshape(-1, 5, 2))


class HaarDetector:
    """OpenCV's frontal-face Haar cascade: boxes and scores, no landmarks."""

    name = "haar"

    def __init__(self, min_score: float = 0.0, max_side: int = DETECT_MAX_SIDE, min_neighbors: int = 5,
                 min_size: int = 24):
        self._cv2 = cv2 = require_opencv("the haar detector")
        path = cv2.data.haarcascades + "haarcascade_frontalface_default.xml"
        self.cascade = cv2.CascadeClassifier(path)
        if self.cascade.empty():
            raise RuntimeError(f"cannot load the Haar cascade {path}")
        self.min_score, self.max_side, self.min_neighbors, self.min_size = min_score, max_side, min_neighbors, min_size

    def __call__(self, image: np.ndarray) -> Detections:
        small, f = _shrink(to_gray(image), self.max_side)
        rects, _, weights = self.cascade.detectMultiScale3(
            self._cv2.equalizeHist(small), scaleFactor=1.1, minNeighbors=self.min_neighbors,
            minSize=(self.min_size, self.min_size), outputRejectLevels=True)
        if len(rects) == 0:
            return Detections.empty()
        rects = np.asarray(rects, np.float32) / f
        boxes = np.concatenate([rects[:, :2], rects[:, :2] + rects[:, 2:]], 1)
        # Haar's level weights are unbounded margins; squash them to (0, 1) for a face score.
        scores = 1 / (1 + np.exp(-np.asarray(weights, np.float32).reshape(-1)))
        order = np.argsort(-scores, kind="stable")
        found = Detections(boxes[order], scores[order], np.full((len(order), 5, 2), np.nan, np.float32))
        return found.keep(found.scores >= self.min_score)


DETECTORS = {"yunet": YuNetDetector, "haar": HaarDetector}


def create_detector(name: str = "yunet", min_score: float | None = None, **kwargs: Any) -> YuNetDetector | HaarDetector:
    """A face detector by name (``yunet``, ``haar``); ``min_score`` None takes the detector's default."""
    if name not in DETECTORS:
        raise ValueError(f"unknown detector {name!r}; choose one of {', '.join(DETECTORS)}")
    if min_score is not None and not 0 <= min_score <= 1:
        raise ValueError(f"min_score={min_score}: choose a value in 0..1")
    return DETECTORS[name](min_score=DEFAULT_MIN_SCORE[name] if min_score is None else min_score, **kwargs)


def box_iou(boxes: np.ndarray, box: np.ndarray) -> np.ndarray:
    """Intersection over union of boxes ``(N, 4)`` with one box ``(4,)``, all x1, y1, x2, y2."""
    lt, rb = np.maximum(boxes[:, :2], box[:2]), np.minimum(boxes[:, 2:], box[2:])
    inter = np.clip(rb - lt, 0, None).prod(1)
    return inter / ((boxes[:, 2:] - boxes[:, :2]).prod(1) + (box[2:] - box[:2]).prod() - inter)


def overlap(boxes: np.ndarray, box: np.ndarray) -> np.ndarray:
    """Intersection of boxes ``(N, 4)`` with one box ``(4,)`` over the smaller of each pair's areas: 1 where one
    holds the other (a box twice too large still holds the face's right box)."""
    lt, rb = np.maximum(boxes[:, :2], box[:2]), np.minimum(boxes[:, 2:], box[2:])
    inter = np.clip(rb - lt, 0, None).prod(1)
    return inter / np.maximum(np.minimum((boxes[:, 2:] - boxes[:, :2]).prod(1), (box[2:] - box[:2]).prod()), 1e-9)


def correction_features(m: np.ndarray, landmarks: np.ndarray, box: np.ndarray) -> np.ndarray:
    """What ``Framer``'s correction reads, in crop pixels under the framing ``m``: the 5 landmarks,
    the box's corners, and 1 (15 values)."""
    corners = apply_affine(np.asarray(box, np.float64).reshape(2, 2), m)
    return np.concatenate((apply_affine(landmarks, m).reshape(-1), corners.reshape(-1), [1.0]))


@dataclass(frozen=True)
class Framer:
    """Detection -> crop framing ``(2, 3)``, so detector crops look like ``data convert``'s.

    From the box: scale ``k / box width``, crop centre at ``(x1 + u w, y1 + v h)``. From the
    landmarks (when given and ``template5`` is fitted): the least-squares scale + shift
    (``rotate``: similarity) putting them on ``template5``, their place in training crops.
    With ``correction`` (a linear map fitted on training faces) the 5 points, so framed, first
    predict where the 4 framing keypoints of ``data convert`` (``KAGGLE_TEMPLATE``) are, and
    those are framed exactly as training faces were: the detector's own point biases cancel.
    All of it is fitted in the 96-px frame (``REFERENCE_SIZE``); ``size`` is the model's crop side,
    the same face region at more pixels (``resize_framing``, as ``data convert --size``).
    """

    k: float
    u: float
    v: float
    template5: tuple[tuple[float, float], ...] | None = None
    rotate: bool = False
    size: int = REFERENCE_SIZE
    correction: tuple[tuple[float, ...], ...] | None = None  # (15, 8): correction_features -> 4 points

    def box_framing(self, box: np.ndarray) -> np.ndarray:
        x1, y1, x2, y2 = map(float, box)
        w, h = x2 - x1, y2 - y1
        scale = self.k / w
        centre = np.array([x1 + self.u * w, y1 + self.v * h])
        return scale_shift_matrix(scale, (REFERENCE_SIZE - 1) / 2 - scale * centre)

    def framing(self, box: np.ndarray, landmarks: np.ndarray | None = None) -> np.ndarray:
        """The ``(2, 3)`` framing of one detection into a ``size``-px crop."""
        return resize_framing(self.reference_framing(box, landmarks), self.size)

    def reference_framing(self, box: np.ndarray, landmarks: np.ndarray | None = None) -> np.ndarray:
        """The framing in the 96-px frame the calibration was fitted in."""
        if self.template5 is not None and landmarks is not None and np.isfinite(landmarks).all():
            try:
                fit = fit_similarity if self.rotate else lambda s, d: scale_shift_matrix(*fit_scale_shift(s, d))
                m = fit(landmarks, np.array(self.template5))
                if self.correction is None:
                    return m
                four = (correction_features(m, landmarks, box) @ np.array(self.correction)).reshape(4, 2)
                return fit(apply_affine(four, invert_affine(m)), np.array(list(KAGGLE_TEMPLATE.values())))
            except ValueError:
                pass  # degenerate landmarks: frame from the box
        return self.box_framing(box)

    @classmethod
    def load(cls, detector: str = "yunet", rotate: bool = False, correct: bool = True,
             size: int = REFERENCE_SIZE) -> Framer:
        """The calibration shipped in the package (``assets/calibration_DETECTOR.json``), framing
        ``size``-px crops."""
        try:
            text = resources.files("facekeypoints").joinpath(f"assets/calibration_{detector}.json").read_text()
        except FileNotFoundError:
            raise FileNotFoundError(f"no fitted calibration 'assets/calibration_{detector}.json' in the package; "
                                    "run benchmarks/fit_crop_calibration.py") from None
        d = json.loads(text)
        if d.get("crop_size", REFERENCE_SIZE) != REFERENCE_SIZE:
            raise ValueError(f"calibration_{detector}.json is fitted on {d['crop_size']}-px crops, not in the "
                             f"{REFERENCE_SIZE}-px frame: fit it again with benchmarks/fit_crop_calibration.py")
        t5, corr = d.get("template5"), d.get("correction") if correct else None
        return cls(d["k"], d["u"], d["v"], tuple(map(tuple, t5)) if t5 else None, rotate, size,
                   correction=tuple(map(tuple, corr)) if corr else None)


class DetectorFraming:
    """Frame a training face as ``predict`` frames a photo: ``framing(image, points68)`` runs the
    detector on the image, takes the detection that best overlaps the face's true 68-point box
    (IoU >= ``min_iou``) and returns the ``Framer``'s framing of it, the very code ``predict`` runs;
    None when no detection matches (``data convert`` then falls back to the template framing)."""

    def __init__(self, detector: YuNetDetector | HaarDetector | None = None, framer: Framer | None = None,
                 min_iou: float = 0.2):
        self.detector = detector or create_detector("yunet")
        self.framer = framer or Framer.load(self.detector.name)
        self.min_iou = min_iou

    def __call__(self, image: np.ndarray, points68: np.ndarray) -> np.ndarray | None:
        found = self.detector(image)
        if len(found) == 0:
            return None
        truth = np.r_[np.min(points68, 0), np.max(points68, 0)]
        iou = box_iou(found.boxes.astype(np.float64), truth)
        best = int(np.argmax(iou))
        if iou[best] < self.min_iou:
            return None
        return self.framer.framing(found.boxes[best], found.landmarks[best])
