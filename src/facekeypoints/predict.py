"""Keypoints for every face in photos: detect, frame, crop, predict, map back.

``KeypointDetector`` is the Python API; ``facekeypoints predict`` wraps it. Coordinates
are in the original image's pixels (after EXIF orientation). Per-keypoint confidence is
flip consistency: the model sees the crop and its mirror image, and the distance between the
two answers becomes the probability that the point is within ``tau`` crop pixels of the truth,
as calibrated on validation faces (``confidence.py``; bundled models carry their calibration).
"""

from __future__ import annotations

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
from .data.kaggle import DataError
from .detect import Calibration, HaarDetector, read_image
from .geometry import crop_face, template_framing
from .keypoints import KEYPOINT_NAMES
from .tta import tta_settings, with_tta

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"}
VIDEO_EXTS = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v"}


class KeypointDetector:
    """Faces and their 15 keypoints in any image.

    >>> det = KeypointDetector.from_pretrained("runs/train/paper")  # doctest: +SKIP
    >>> faces = det("photo.jpg")  # path, bytes, numpy array (BGR or gray) or PIL image  # doctest: +SKIP
    """

    def __init__(self, model: torch.nn.Module, meta: dict[str, Any], detector: HaarDetector | None = None,
                 calibration: Calibration | None = None, onnx_path: str | Path | None = None, refine: int = 1):
        self.model, self.meta = model.eval(), meta
        self.net = with_tta(self.model, meta, flip=False)  # the config's re-framing views; flips are done here
        self.refine = refine  # re-framing passes after the detector-box crop (0 = box framing only)
        self.detector = detector or HaarDetector()
        self.calibration = calibration or Calibration.load("haar")
        self.size = int(meta["input"]["size"])
        self.backend = "onnx" if onnx_path else "torch"
        if onnx_path:
            from .export import OnnxRunner

            self.runner = OnnxRunner(onnx_path)

    @classmethod
    def from_pretrained(cls, name_or_path: str | Path = "default", device: str = "cpu", backend: str = "torch",
                        refine: int = 1) -> KeypointDetector:
        """A bundled model by name (``default``, ``fast``) or a checkpoint (run folder, model.json or
        model.safetensors); ``backend`` torch or onnx; ``refine`` re-framing passes (0 = box framing only).

        The onnx backend exports the checkpoint once into the cache folder (keyed by its weights' hash).
        """
        model, meta = load_checkpoint(name_or_path, device)
        onnx_path = None
        if backend == "onnx":
            from .data.kaggle import cache_dir
            from .export import export_onnx

            onnx_path = cache_dir() / "onnx" / f"{meta['weights_sha256'][:24]}-v{tta_settings(meta)[1]}.onnx"
            if not onnx_path.exists():
                export_onnx(name_or_path, onnx_path, flip_tta=False)
        elif backend != "torch":
            raise ValueError(f"unknown backend {backend!r}; choose torch or onnx")
        return cls(model, meta, onnx_path=onnx_path, refine=refine)

    @torch.no_grad()
    def _raw(self, crops: np.ndarray) -> np.ndarray:
        """The model (with its views, without flips) on uint8 crops ``(N, 96, 96)`` -> ``(N, 15, 2)``."""
        if self.backend == "onnx":
            return self.runner(crops)
        device = next(self.model.parameters()).device
        x = torch.as_tensor(np.ascontiguousarray(crops), device=device).unsqueeze(1).float()
        return self.net(x).float().cpu().numpy()

    def predict_crops(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Keypoints ``(N, 15, 2)`` (crop pixels) and confidences ``(N, 15)`` for uint8 crops ``(N, 96, 96)``."""
        if len(crops) == 0:
            return np.zeros((0, 15, 2), np.float32), np.zeros((0, 15), np.float32)
        a, b = self.flip_pair(crops)
        d = np.sqrt(((a - b) ** 2).sum(-1))  # flip disagreement, crop pixels
        return 0.5 * (a + b), confidence(d, self.meta.get("confidence")).astype(np.float32)

    def flip_pair(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The model's points on the crops and on their mirror images (left/right swapped back)."""
        a = self._raw(crops)
        b = unflip_keypoints(torch.from_numpy(self._raw(crops[:, :, ::-1])), self.size).numpy()
        return a, b

    def _predict_framed(self, gray: np.ndarray, framings: list) -> tuple[np.ndarray, np.ndarray]:
        crops = [crop_face(gray, s, t, self.size) for s, t in framings]
        return self.predict_crops(np.stack(crops) if crops else np.zeros((0, self.size, self.size), np.uint8))

    def __call__(self, image: Any) -> list[dict[str, Any]]:
        """Every face found: ``{"box", "score", "keypoints": {name: {"x", "y", "confidence"}}}``."""
        gray = read_image(image)
        return self.detect_gray(gray)

    def detect_gray(self, gray: np.ndarray) -> list[dict[str, Any]]:
        """Every face in a grayscale uint8 image (see ``__call__``)."""
        boxes, scores = self.detector(gray)
        framings = [self.calibration.framing(b) for b in boxes]
        kps, conf = self._predict_framed(gray, framings)
        # Re-frame: fit the training framing (data convert's template) to the points just
        # found and predict again, so the crop matches the training faces, not the box.
        for _ in range(self.refine):
            for i, (s, t) in enumerate(framings):
                try:
                    framings[i] = template_framing((kps[i] - t) / s)
                except ValueError:
                    pass  # degenerate points: keep the box framing for this face
            kps, conf = self._predict_framed(gray, framings)
        faces = []
        for box, score, (s, t), kp, c in zip(boxes, scores, framings, kps, conf, strict=True):
            pts = (kp - t) / s  # crop pixels -> image pixels
            faces.append({
                "box": [round(float(v), 2) for v in box],
                "score": round(float(score), 4),
                "keypoints": {n: {"x": round(float(p[0]), 2), "y": round(float(p[1]), 2),
                                  "confidence": round(float(q), 4)}
                              for n, p, q in zip(KEYPOINT_NAMES, pts, c, strict=True)},
            })
        return faces


def expand_inputs(paths: Iterable[str]) -> Iterator[Path]:
    """Images named directly, found in folders (recursive, sorted) or matched by globs."""
    for p in paths:
        path = Path(p)
        if path.is_dir():
            yield from sorted(f for f in path.rglob("*") if f.is_file() and f.suffix.lower() in IMAGE_EXTS | VIDEO_EXTS)
        elif any(ch in p for ch in "*?[") and not path.exists():
            yield from sorted(Path(f) for f in glob.glob(p, recursive=True) if Path(f).is_file())
        else:
            yield path  # a missing or unreadable file still gets its line, with an error


def draw(gray: np.ndarray, faces: list[dict[str, Any]], names: bool = False) -> np.ndarray:
    """The image in colour with boxes and keypoints drawn on it."""
    img = cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)
    r = max(1, round(max(img.shape[:2]) / 300))
    for f in faces:
        x1, y1, x2, y2 = (round(v) for v in f["box"])
        cv2.rectangle(img, (x1, y1), (x2, y2), (255, 160, 0), r)
        for name, k in f["keypoints"].items():
            cv2.circle(img, (round(k["x"]), round(k["y"])), r + 1, (0, 0, 255), -1)
            if names:
                cv2.putText(img, name, (round(k["x"]) + 3, round(k["y"])), cv2.FONT_HERSHEY_SIMPLEX, 0.3 * r,
                            (0, 255, 255), 1)
    return img


def _image_record(det: KeypointDetector, path: Path, save_images: str | None, names: bool) -> dict[str, Any]:
    rec: dict[str, Any] = {"path": str(path), "width": None, "height": None, "faces": [], "error": None}
    try:
        gray = read_image(path)
    except DataError as e:
        rec["error"] = str(e)
        return rec
    rec["height"], rec["width"] = (int(v) for v in gray.shape[:2])
    rec["faces"] = det.detect_gray(gray)
    if save_images:
        dst = Path(save_images) / (path.stem + ".jpg")
        dst.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(dst), draw(gray, rec["faces"], names))
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
            gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
            faces = det.detect_gray(gray)
            _smooth(faces, previous, smooth)
            previous = faces
            if save_images:
                if writer is None:
                    Path(save_images).mkdir(parents=True, exist_ok=True)
                    writer = cv2.VideoWriter(str(Path(save_images) / (path.stem + ".avi")),
                                             cv2.VideoWriter_fourcc(*"MJPG"), fps, (gray.shape[1], gray.shape[0]))
                writer.write(draw(gray, faces, names))
            yield {"path": str(path), "frame": i, "time_s": round(i / fps, 4), "width": int(gray.shape[1]),
                   "height": int(gray.shape[0]), "faces": faces, "error": None}
            i += 1
    finally:
        cap.release()
        if writer is not None:
            writer.release()
    if i == 0:
        yield {"path": str(path), "width": None, "height": None, "faces": [], "error": f"{path}: no frames decoded"}


def run_predict(paths: list[str], model: str, out=None, fmt: str = "jsonl", save_images: str | None = None,
                names: bool = False, backend: str = "torch", smooth: float = 0.0) -> dict[str, Any]:
    """Predict every input; one record per image (or video frame) to ``out``; returns the summary."""
    det = KeypointDetector.from_pretrained(model, backend=backend)
    out = out or sys.stdout
    if fmt == "csv":
        out.write("path,face,box_x1,box_y1,box_x2,box_y2,score," +
                  ",".join(f"{n}_{a}" for n in KEYPOINT_NAMES for a in ("x", "y", "confidence")) + ",error\n")
    n_img = n_faces = 0
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
            elif not rec["faces"]:
                failures.append({"path": rec["path"] + (f" frame {rec['frame']}" if "frame" in rec else ""),
                                 "reason": "no face found"})
            n_faces += len(rec["faces"])
            _write(out, rec, fmt)
    elapsed = time.perf_counter() - start
    return {"images": n_img, "faces": n_faces, "failures": failures,
            "ms_per_image": 1000 * elapsed / max(1, n_img)}


def _write(out, rec: dict[str, Any], fmt: str) -> None:
    if fmt == "jsonl":
        out.write(json.dumps(rec) + "\n")
        return
    rows = rec["faces"] or [None]
    for i, f in enumerate(rows):
        cells = [rec["path"], "" if f is None else str(i)]
        if f is None:
            cells += [""] * (5 + 45)
        else:
            cells += [str(v) for v in f["box"]] + [str(f["score"])]
            cells += [str(k[a]) for k in f["keypoints"].values() for a in ("x", "y", "confidence")]
        cells.append(json.dumps(rec["error"]) if rec["error"] else "")
        out.write(",".join(cells) + "\n")
