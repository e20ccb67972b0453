"""``facekeypoints predict`` over many inputs: files, folders, globs and videos.

One record per image (or video frame) in the JSONL contract (``{"path", "width", "height",
"faces", "error"}``, video frames add ``frame`` and ``time_s``) or a CSV row per face; bad
inputs get their record with ``error`` set and the run goes on.
"""

from __future__ import annotations

import csv
import glob
import json
import os
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..fileio import IMAGE_EXTS, DataError
from ..keypoints import KEYPOINT_NAMES
from .detect import box_iou, read_picture
from .draw import draw, save_image
from .predict import KeypointDetector

VIDEO_EXTS = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v"})


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


def _image_record(det: KeypointDetector, path: Path, save_images: str | None, names: bool) -> dict[str, Any]:
    rec: dict[str, Any] = {"path": str(path), "width": None, "height": None, "faces": [], "error": None}
    try:
        pic = read_picture(path)
    except DataError as e:
        rec["error"] = str(e)
        return rec
    rec["height"], rec["width"] = int(pic.height), int(pic.width)
    rec["faces"] = det.detect_picture(pic)
    if save_images:
        save_image(Path(save_images) / path.name, draw(pic.full(), rec["faces"], names))
    return rec


def _smooth(faces: list[dict[str, Any]], previous: list[dict[str, Any]], alpha: float) -> None:
    """Exponential smoothing of each face's points with the same face in the previous frame (IoU > 0.3)."""
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
    # The annotated copy is written beside its final name and renamed when complete (atomic).
    final = Path(save_images) / (path.stem + ".avi") if save_images else None
    partial = final.with_name(f".{final.name}.partial.avi") if final else None
    complete = False
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
                    writer = cv2.VideoWriter(str(partial), cv2.VideoWriter_fourcc(*"MJPG"), fps,
                                             (frame.shape[1], frame.shape[0]))
                writer.write(draw(frame, faces, names))
            yield {"path": str(path), "frame": i, "time_s": round(i / fps, 4), "width": int(frame.shape[1]),
                   "height": int(frame.shape[0]), "faces": faces, "error": None}
            i += 1
        complete = True
    finally:
        cap.release()
        if writer is not None:
            writer.release()
            if complete:
                os.replace(partial, final)
            else:
                partial.unlink(missing_ok=True)  # stopped early: no half video under the final name
    if i == 0:
        yield {"path": str(path), "width": None, "height": None, "faces": [], "error": f"{path}: no frames decoded"}


CSV_HEADER = ["path", "face", "box_x1", "box_y1", "box_x2", "box_y2", "score",
              *(f"{n}_{a}" for n in KEYPOINT_NAMES for a in ("x", "y", "confidence")), "error"]
CSV_68 = [f"p{i}_{a}" for i in range(68) for a in ("x", "y")]  # with --points 68, before "error"


def run_predict(paths: list[str], model: str, out=None, fmt: str = "jsonl", save_images: str | None = None,
                names: bool = False, backend: str = "auto", smooth: float = 0.0, detector: str = "yunet",
                min_score: float | None = None, device: str = "cpu", refine: int | None = None,
                detect_side: int | None = None, points: int = 15) -> dict[str, Any]:
    """Predict every input; one record per image (or video frame) to ``out``; returns the summary.

    ``points=68``: each face also carries ``landmarks68`` (CSV: columns ``p0_x, p0_y, ... p67_y``).

    Bad inputs never stop the run: each gets its record with ``error`` set and is listed in the
    summary's ``failures``; ``readable`` counts the images (frames) that could be decoded.
    """
    if save_images and Path(save_images).exists() and not Path(save_images).is_dir():
        raise DataError(f"--save-images {save_images}: exists and is not a folder; name a folder")
    det = KeypointDetector.from_pretrained(model, device=device, backend=backend, detector=detector,
                                           min_score=min_score, refine=refine, detect_side=detect_side,
                                           points=points)
    out = out or sys.stdout
    writer = csv.writer(out, lineterminator="\n") if fmt == "csv" else None
    if writer:
        writer.writerow(CSV_HEADER[:-1] + CSV_68 + CSV_HEADER[-1:] if points == 68 else CSV_HEADER)
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
                _write_csv(writer, rec, points == 68)
            else:
                out.write(json.dumps(rec) + "\n")
    elapsed = time.perf_counter() - start
    return {"images": n_img, "readable": n_ok, "faces": n_faces, "failures": failures,
            "ms_per_image": 1000 * elapsed / max(1, n_img)}


def _write_csv(writer, rec: dict[str, Any], with68: bool = False) -> None:
    for i, f in enumerate(rec["faces"] or [None]):
        cells: list[Any] = [rec["path"], "" if f is None else i]
        if f is None:
            cells += [""] * (5 + 3 * len(KEYPOINT_NAMES))
        else:
            cells += [*f["box"], f["score"], *(k[a] for k in f["keypoints"].values() for a in ("x", "y", "confidence"))]
        if with68:
            cells += [""] * len(CSV_68) if f is None else [v for xy in f["landmarks68"] for v in xy]
        writer.writerow([*cells, rec["error"] or ""])
