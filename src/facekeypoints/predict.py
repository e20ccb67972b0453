"""Keypoints for every face in photos: detect, frame, crop, predict, map back.

``KeypointDetector`` is the Python API; ``facekeypoints predict`` wraps it. The image is
decoded once, in colour: the face detector (YuNet by default, ``detect.py``) sees colour,
the keypoint network its grayscale crop. Each face is framed from the detector's 5
landmarks onto the place they take in training crops, re-framed once from the 15 points
found (as ``data convert`` frames training faces), and the points are mapped back to the
original image's pixels (after EXIF orientation). Per-keypoint confidence is flip
consistency: the model sees the crop and its mirror image, and the distance between the two
answers becomes the probability that the point is within ``tau`` crop pixels of the truth,
as calibrated on validation faces (``confidence.py``; bundled models carry their calibration).
"""

from __future__ import annotations

import csv
import glob
import json
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from .augment import unflip_keypoints
from .checkpoint import load_checkpoint
from .confidence import confidence
from .detect import Detections, Framer, HaarDetector, YuNetDetector, create_detector, read_image
from .fileio import IMAGE_EXTS, DataError, atomic_write, cache_dir
from .geometry import apply_affine, crop_affine, invert_affine, template_matrix, to_gray
from .keypoints import KEYPOINT_NAMES
from .tta import tta_settings, with_tta

VIDEO_EXTS = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v"})
BACKENDS = ("auto", "onnx", "torch")


class KeypointDetector:
    """Faces and their 15 keypoints in any image.

    >>> det = KeypointDetector.from_pretrained("default")  # doctest: +SKIP
    >>> faces = det("photo.jpg")  # path, bytes, numpy array (BGR or gray) or PIL image  # doctest: +SKIP
    >>> faces[0]["keypoints"]["nose_tip"]  # doctest: +SKIP
    {'x': 131.2, 'y': 160.9, 'confidence': 0.93}
    """

    def __init__(self, model: torch.nn.Module, meta: dict[str, Any],
                 detector: YuNetDetector | HaarDetector | None = None, framer: Framer | None = None,
                 onnx_path: str | Path | None = None, refine: int = 1, rotate: bool = False):
        self.model, self.meta = model.eval(), meta
        self.net = with_tta(self.model, meta, flip=False)  # the config's re-framing views; flips are done here
        self.refine = refine  # re-framing passes after the detector's framing (0 = detector framing only)
        self.rotate = rotate  # turn tilted faces upright in the crop (similarity framing)
        self.detector = detector or create_detector("yunet")
        self.framer = framer or Framer.load(self.detector.name, rotate=rotate)
        self.size = int(meta["input"]["size"])
        self.backend = "onnx" if onnx_path else "torch"
        if onnx_path:
            from .export import OnnxRunner

            self.runner = OnnxRunner(onnx_path)

    @classmethod
    def from_pretrained(cls, name_or_path: str | Path = "default", device: str = "cpu", backend: str = "auto",
                        refine: int = 1, detector: str = "yunet", min_score: float | None = None,
                        rotate: bool = False) -> KeypointDetector:
        """A bundled model by name (``default``, ``fast``) or a checkpoint (run folder, model.json or
        model.safetensors).

        ``backend``: ``onnx`` (onnxruntime, CPU), ``torch``, or ``auto`` (onnx on the CPU, torch on a
        GPU). ``detector``: ``yunet`` or ``haar``; faces scoring under ``min_score`` are never reported
        (None: the detector's default). ``refine``: re-framing passes (0 = detector framing only).
        The onnx backend exports the checkpoint once into the cache folder (keyed by its weights' hash).
        """
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
        if backend == "auto":
            backend = "onnx" if torch.device(device).type == "cpu" else "torch"
        if backend == "onnx" and torch.device(device).type != "cpu":
            raise ValueError(f"backend onnx runs on the CPU; use backend torch for device {device!r}")
        model, meta = load_checkpoint(name_or_path, device)
        onnx_path = None
        if backend == "onnx":
            onnx_path = cache_dir() / "onnx" / f"{meta['weights_sha256'][:24]}-v{tta_settings(meta)[1]}.onnx"
            if not onnx_path.exists():
                from .export import export_onnx

                print(f"facekeypoints: exporting {name_or_path} to ONNX once, cached as {onnx_path}", file=sys.stderr)
                export_onnx(name_or_path, onnx_path, flip_tta=False)
        return cls(model, meta, create_detector(detector, min_score), onnx_path=onnx_path, refine=refine,
                   rotate=rotate)

    @torch.no_grad()
    def _raw(self, crops: np.ndarray) -> np.ndarray:
        """The model (with its views, without flips) on uint8 crops ``(N, S, S)`` -> ``(N, 15, 2)``."""
        if self.backend == "onnx":
            return self.runner(crops)
        device = next(self.model.parameters()).device
        x = torch.as_tensor(np.ascontiguousarray(crops), device=device).unsqueeze(1).float()
        return self.net(x).float().cpu().numpy()

    def predict_crops(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Keypoints ``(N, 15, 2)`` (crop pixels) and confidences ``(N, 15)`` for uint8 crops ``(N, S, S)``."""
        if len(crops) == 0:
            return np.zeros((0, 15, 2), np.float32), np.zeros((0, 15), np.float32)
        a, b = self.flip_pair(crops)
        d = np.sqrt(((a - b) ** 2).sum(-1))  # flip disagreement, crop pixels
        return 0.5 * (a + b), confidence(d, self.meta.get("confidence")).astype(np.float32)

    def flip_pair(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The model's points on the crops and on their mirror images (left/right swapped back)."""
        both = self._raw(np.concatenate([crops, crops[:, :, ::-1]]))  # one batch: the crops, then mirrors
        a, b = both[: len(crops)], both[len(crops):]
        return a, unflip_keypoints(torch.from_numpy(np.ascontiguousarray(b)), self.size).numpy()

    def _predict_framed(self, gray: np.ndarray, framings: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Image-pixel keypoints ``(N, 15, 2)`` and confidences for faces cropped by ``framings``."""
        crops = np.stack([crop_affine(gray, m, self.size) for m in framings]) if framings else \
            np.zeros((0, self.size, self.size), np.uint8)
        kps, conf = self.predict_crops(crops)
        pts = [apply_affine(k, invert_affine(m)) for k, m in zip(kps, framings, strict=True)]
        return np.array(pts, np.float64).reshape(-1, 15, 2), conf

    def __call__(self, image: Any) -> list[dict[str, Any]]:
        """Every face found: ``[{"box": [x1, y1, x2, y2], "score", "keypoints": {name: {"x", "y",
        "confidence"}}}]``, strongest first, in the image's pixels."""
        return self.detect(read_image(image, color=True))

    def detect(self, image: np.ndarray) -> list[dict[str, Any]]:
        """Every face in a decoded uint8 image, BGR or gray (see ``__call__``)."""
        found = self.detector(image)
        return self.keypoints_for(to_gray(image), found)

    detect_gray = detect  # the name earlier releases used

    def keypoints_for(self, gray: np.ndarray, found: Detections) -> list[dict[str, Any]]:
        """The 15 keypoints of each detected face in a grayscale image."""
        framings = [self.framer.framing(b, lm) for b, lm in zip(found.boxes, found.landmarks, strict=True)]
        pts, conf = self._predict_framed(gray, framings)
        # Re-frame: fit the training framing (data convert's template) to the points just
        # found and predict again, so the crop matches the training faces.
        for _ in range(self.refine):
            for i, p in enumerate(pts):
                try:
                    framings[i] = template_matrix(p, self.rotate)
                except ValueError:
                    pass  # degenerate points: keep the previous framing for this face
            pts, conf = self._predict_framed(gray, framings)
        faces = []
        for box, score, p, c in zip(found.boxes, found.scores, pts, conf, strict=True):
            faces.append({
                "box": [round(float(v), 2) for v in box],
                "score": round(float(score), 4),
                "keypoints": {n: {"x": round(float(q[0]), 2), "y": round(float(q[1]), 2),
                                  "confidence": round(float(k), 4)}
                              for n, q, k in zip(KEYPOINT_NAMES, p, c, strict=True)},
            })
        return faces


def expand_inputs(paths: Iterable[str]) -> Iterator[Path]:
    """Images and videos named directly, found in folders (recursive, sorted) or matched by globs.

    Folders and globs take every type a named file takes (``fileio.IMAGE_EXTS``, ``VIDEO_EXTS``).
    """
    known = IMAGE_EXTS | VIDEO_EXTS
    for p in paths:
        path = Path(p)
        if path.is_dir():
            yield from sorted(f for f in path.rglob("*") if f.is_file() and f.suffix.lower() in known)
        elif any(ch in p for ch in "*?[") and not path.exists():
            yield from sorted(Path(f) for f in glob.glob(p, recursive=True)
                              if Path(f).is_file() and Path(f).suffix.lower() in known)
        else:
            yield path  # a missing or unreadable file still gets its line, with an error


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


def _image_record(det: KeypointDetector, path: Path, save_images: str | None, names: bool) -> dict[str, Any]:
    rec: dict[str, Any] = {"path": str(path), "width": None, "height": None, "faces": [], "error": None}
    try:
        image = read_image(path, color=True)
    except DataError as e:
        rec["error"] = str(e)
        return rec
    rec["height"], rec["width"] = (int(v) for v in image.shape[:2])
    rec["faces"] = det.detect(image)
    if save_images:
        save_image(Path(save_images) / path.name, draw(image, rec["faces"], names))
    return rec


def _smooth(faces: list[dict[str, Any]], previous: list[dict[str, Any]], alpha: float) -> None:
    """Exponential smoothing of each face's points with the same face in the previous frame (IoU > 0.3)."""
    from .detect import box_iou

    if not previous or alpha <= 0:
        return
    prev_boxes = np.array([p["box"] for p in previous])
    for f in faces:
        overlap = box_iou(prev_boxes, np.array(f["box"]))
        if overlap.max() < 0.3:
            continue
        old = previous[int(np.argmax(overlap))]["keypoints"]
        for name, k in f["keypoints"].items():
            for axis in ("x", "y"):
                k[axis] = round(alpha * old[name][axis] + (1 - alpha) * k[axis], 2)


def _video_records(det: KeypointDetector, path: Path, save_images: str | None, names: bool,
                   smooth: float) -> Iterator[dict[str, Any]]:
    """One record per frame (``frame``, ``time_s`` added); optionally an annotated copy of the video."""
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        yield {"path": str(path), "width": None, "height": None, "faces": [], "error": f"{path}: cannot open video"}
        return
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    writer, previous, i = None, [], 0
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            faces = det.detect(frame)
            _smooth(faces, previous, smooth)
            previous = faces
            if save_images:
                if writer is None:
                    Path(save_images).mkdir(parents=True, exist_ok=True)
                    writer = cv2.VideoWriter(str(Path(save_images) / (path.stem + ".avi")),
                                             cv2.VideoWriter_fourcc(*"MJPG"), fps, (frame.shape[1], frame.shape[0]))
                writer.write(draw(frame, faces, names))
            yield {"path": str(path), "frame": i, "time_s": round(i / fps, 4), "width": int(frame.shape[1]),
                   "height": int(frame.shape[0]), "faces": faces, "error": None}
            i += 1
    finally:
        cap.release()
        if writer is not None:
            writer.release()
    if i == 0:
        yield {"path": str(path), "width": None, "height": None, "faces": [], "error": f"{path}: no frames decoded"}


CSV_HEADER = ["path", "face", "box_x1", "box_y1", "box_x2", "box_y2", "score",
              *(f"{n}_{a}" for n in KEYPOINT_NAMES for a in ("x", "y", "confidence")), "error"]


def run_predict(paths: list[str], model: str, out=None, fmt: str = "jsonl", save_images: str | None = None,
                names: bool = False, backend: str = "auto", smooth: float = 0.0, detector: str = "yunet",
                min_score: float | None = None, device: str = "cpu", refine: int = 1) -> dict[str, Any]:
    """Predict every input; one record per image (or video frame) to ``out``; returns the summary.

    Bad inputs never stop the run: each gets its record with ``error`` set and is listed in the
    summary's ``failures``; ``readable`` counts the images (frames) that could be decoded.
    """
    if save_images and Path(save_images).exists() and not Path(save_images).is_dir():
        raise DataError(f"--save-images {save_images}: exists and is not a folder; name a folder")
    det = KeypointDetector.from_pretrained(model, device=device, backend=backend, detector=detector,
                                           min_score=min_score, refine=refine)
    out = out or sys.stdout
    writer = csv.writer(out, lineterminator="\n") if fmt == "csv" else None
    if writer:
        writer.writerow(CSV_HEADER)
    n_img = n_faces = n_ok = 0
    failures: list[dict[str, str]] = []
    start = time.perf_counter()
    for path in expand_inputs(paths):
        if path.suffix.lower() in VIDEO_EXTS:
            records = _video_records(det, path, save_images, names, smooth)
        else:
            records = [_image_record(det, path, save_images, names)]
        for rec in records:
            n_img += 1
            if rec["error"] is not None:
                failures.append({"path": rec["path"], "reason": rec["error"]})
            else:
                n_ok += 1
                if not rec["faces"]:
                    failures.append({"path": rec["path"] + (f" frame {rec['frame']}" if "frame" in rec else ""),
                                     "reason": "no face found"})
            n_faces += len(rec["faces"])
            if writer:
                _write_csv(writer, rec)
            else:
                out.write(json.dumps(rec) + "\n")
    elapsed = time.perf_counter() - start
    return {"images": n_img, "readable": n_ok, "faces": n_faces, "failures": failures,
            "ms_per_image": 1000 * elapsed / max(1, n_img)}


def _write_csv(writer, rec: dict[str, Any]) -> None:
    for i, f in enumerate(rec["faces"] or [None]):
        cells: list[Any] = [rec["path"], "" if f is None else i]
        if f is None:
            cells += [""] * (5 + 3 * len(KEYPOINT_NAMES))
        else:
            cells += [*f["box"], f["score"], *(k[a] for k in f["keypoints"].values() for a in ("x", "y", "confidence"))]
        writer.writerow([*cells, rec["error"] or ""])
